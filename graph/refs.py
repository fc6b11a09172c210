"""Turning a REF a person typed into one node: exact uid, a uid without its
kind prefix (``credit-limit`` is ``model:credit-limit``), a unique uid
prefix, or a natural key (a name, path, prediction / subject / run id, a
commit sha or data hash prefix).

Also the one place that says how a node is named for people (``display_name``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from provex.graph.connection import Graph
from provex.store import query as stored
from provex.vocab.errors import UsageError
from provex.vocab.model import KINDS

MAX_SHOWN = 5  # candidates named in an "ambiguous" message

_NODE = "n.uid AS uid, [l IN labels(n) WHERE l <> 'Node'][0] AS label, properties(n) AS props"

_EXACT = f"MATCH (n:Node {{uid: $ref}}) RETURN {_NODE}"


# Natural keys people copy from logs and UIs, tried when the REF has no uid
# match: exact keys first, then prefixes of commit shas and content hashes.
#: The identifying properties people copy from logs and UIs, per node kind
#: (each has a range index: ``vocab.model.KINDS[label].lookup`` or the uid).
#: Search matches them exactly and by prefix; REFs resolve through them.
ID_PROPS: dict[str, tuple[str, ...]] = {
    "Prediction": ("prediction_id", "subject_id", "household_id"),
    "Model": ("name",),
    "ModelVersion": ("model_id", "run_id"),
    "LoggedModel": ("model_id", "run_id", "name"),
    "Run": ("run_id", "name"),
    "Dataset": ("path", "name"),
    "DataVersion": ("path",),
    "CodeVersion": ("sha",),
    "Stage": ("name",),
    "Experiment": ("name",),
    "Feature": ("name",),
    "Library": ("name",),
    "Agent": ("name",),
}
#: Content hashes and commit shas: people type a prefix.
HASH_PROPS: dict[str, tuple[str, ...]] = {"DataVersion": ("hash",), "CodeVersion": ("sha",)}


def _lookup(table: Mapping[str, Sequence[str]], op: str, labels: Sequence[str]) -> str:
    """One UNION branch per (label, property): index-backed equality or prefix."""
    parts = [f"MATCH (n:{label}) WHERE n.{prop} {op} $ref RETURN {_NODE} LIMIT $limit"
             for label, props in table.items() if not labels or label in labels for prop in props]
    return "\nUNION\n".join(parts)


def _uid_candidates(ref: str, labels: Sequence[str]) -> list[str]:
    """``ref`` as a uid, and with each kind prefix in front (``credit-limit@5``
    -> ``model:credit-limit@5``)."""
    prefixes = sorted({KINDS[label].prefix for label in (labels or KINDS)})
    return [ref] + [f"{prefix}:{ref}" for prefix in prefixes if not ref.startswith(f"{prefix}:")]


_EXACT_ANY = f"MATCH (n:Node) WHERE n.uid IN $refs RETURN {_NODE} LIMIT $limit"
_PREFIX_ANY = f"""
UNWIND $refs AS r
MATCH (n:Node) WHERE n.uid STARTS WITH r RETURN DISTINCT {_NODE} LIMIT $limit
"""


def display_name(label: str | None, props: Mapping[str, Any]) -> str:
    """A short human name for a node: ``credit-limit v3``, a path, an id."""
    if label == "ModelVersion" and props.get("name") is not None:
        return f"{props['name']} v{props.get('version', '?')}"
    if label == "DataVersion" and props.get("path"):
        digest = str(props.get("hash") or "")[:8]
        return f"{props['path']}@{digest}" if digest else str(props["path"])
    if label == "CodeVersion" and props.get("sha"):
        return str(props["sha"])[:10]
    if label == "Library" and props.get("name"):
        return f"{props['name']}=={props.get('version', '?')}"
    for key in ("name", "prediction_id", "rule", "path", "run_id", "model_id", "hour"):
        if props.get(key) not in (None, ""):
            return str(props[key])
    uid = str(props.get("uid", ""))
    return uid.split(":", 1)[-1] if uid else ""


def _hit(row: Mapping[str, Any]) -> dict[str, Any]:
    props = row["props"] or {}
    return {"uid": row["uid"], "label": row["label"], "name": display_name(row["label"], props)}


def resolve(graph: Graph, ref: str, *, labels: Sequence[str] = ()) -> dict[str, Any]:
    """One node for ``ref``: ``{"uid", "label", "name"}``.

    ``labels`` (optional) narrows the candidates to those node kinds. Raises
    :class:`UsageError` when nothing matches or the REF is ambiguous.
    """
    ref = str(ref).strip()
    if not ref:
        raise UsageError("Empty REF: give a node reference such as prediction:<id> or model:<name>@<version>.")
    for label in labels:
        if label not in KINDS:
            raise UsageError(f"Unknown node kind {label!r}; known: {', '.join(KINDS)}.")
    wanted = tuple(labels)
    predictions = not wanted or "Prediction" in wanted
    uid = ref if ref.startswith("prediction:") else f"prediction:{ref}"
    if predictions and stored.locate(graph.facts, [uid]):  # a stored prediction's uid or id
        return _prediction_hit(uid)
    candidates = _uid_candidates(ref, wanted)
    store = graph.facts
    tiers = (
        (_EXACT, {"ref": ref}, None),  # the exact uid wins, whatever else matches
        (_EXACT_ANY, {"refs": candidates[1:]}, None),
        (_lookup(ID_PROPS, "=", wanted), {"ref": ref},
         lambda: [r["uid"] for r in stored.by_keys(store, [ref], limit=MAX_SHOWN + 1)]),
        (_PREFIX_ANY, {"refs": candidates}, lambda: stored.uid_prefix(store, uid, MAX_SHOWN + 1)),
        (_lookup(HASH_PROPS, "STARTS WITH", wanted), {"ref": ref}, None),
    )
    other_kind = ""
    for query, params, from_store in tiers:
        rows = [] if not query or params.get("refs") == [] else \
            [r for r in graph.read(query, {**params, "limit": MAX_SHOWN + 1}) if r["label"] != "Prediction"]
        hits = [_hit(r) for r in rows if not labels or r["label"] in labels]
        if predictions and from_store is not None:
            hits += [_prediction_hit(u) for u in dict.fromkeys(from_store())]
        if len(hits) == 1 or (hits and query == _EXACT):
            return hits[0]
        if len(hits) > 1:
            raise UsageError(" ".join(filter(None, [other_kind, _ambiguous(ref, hits)])))
        if rows and labels and not other_kind:
            found = ", ".join(sorted({f"{r['uid']} ({r['label']})" for r in rows})[:MAX_SHOWN])
            other_kind = f"REF {ref!r} names {found}, not a {' or '.join(labels)}."
    if not other_kind and not predictions and stored.locate(store, [uid]):
        other_kind = f"REF {ref!r} names {uid} (Prediction), not a {' or '.join(labels)}."
    raise UsageError(other_kind or f"No node matches REF {ref!r}. Try `provex search {ref}`.")


def _prediction_hit(uid: str) -> dict[str, Any]:
    """A prediction (from the store: predictions resolve there only, never as
    graph nodes, so the same whether or not they have one)."""
    return {"uid": uid, "label": "Prediction", "name": uid.removeprefix("prediction:")}


def _ambiguous(ref: str, hits: list[dict[str, Any]]) -> str:
    ordered = sorted(hits, key=lambda h: h["uid"])[:MAX_SHOWN]
    shown = ", ".join(h["uid"] for h in ordered)
    kinds = ", ".join(sorted({h["label"] for h in ordered}))
    more = " and more" if len(hits) > MAX_SHOWN else ""
    return (f"REF {ref!r} is ambiguous: {shown}{more} ({kinds}). "
            f"Give one of them, or more of the id (see `provex search {ref}`).")


# ---- times people type, and times stored in the graph ----------------------

_HOUR_RE = r"\\d{4}-\\d{2}-\\d{2}T\\d{2}"
_ISO_RE = r"\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?)?(Z|[+-]\\d{2}:?\\d{2})?"


def normalize_time(value: object, name: str = "time") -> str:
    """An ISO 8601 time (``2026-03-10``, ``2026-03-10T09:30Z``, ...) as a
    UTC ISO string; naive times are taken as UTC. UsageError otherwise."""
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"Parameter {name!r} must be an ISO 8601 time such as 2026-03-10T09:30:00Z, got {text!r}."
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()


def ts(expr: str) -> str:
    """Cypher turning a stored time (ISO text, ``YYYY-MM-DDTHH`` hour bucket,
    or epoch milliseconds) into a datetime; null when absent or unreadable."""
    return (
        f"CASE WHEN {expr} IS NULL THEN null "
        f"WHEN valueType({expr}) STARTS WITH 'INTEGER' THEN datetime({{epochMillis: {expr}}}) "
        f"WHEN NOT valueType({expr}) STARTS WITH 'STRING' THEN null "
        f"WHEN {expr} =~ '{_HOUR_RE}' THEN datetime({expr} + ':00:00Z') "
        f"WHEN {expr} =~ '{_ISO_RE}' THEN datetime(replace({expr}, ' ', 'T')) "
        "ELSE null END"
    )
