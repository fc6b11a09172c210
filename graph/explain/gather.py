"""What ``provex explain`` reads before it ranks anything.

The prediction (from the prediction store) and what it is compared with: the
prediction given with ``--against`` (``compare-predictions``), else the last
known good version of each model in its chain (``what-changed`` of the
prediction and of each upstream prediction it used). For every pair of model
versions that differ: what differs upstream (data, code, libraries, params,
stages) and who made the new side (commit, author, message); the anomalous
data versions (``data-anomalies``) restricted to the prediction's upstream
(``model-training-data``); how far each candidate cause reaches
(:mod:`provex.graph.explain.reach`); the alias history around the prediction
(:mod:`provex.graph.explain.timing`); the lineage gaps that limit the answer
(:mod:`provex.graph.flags`).

Everything comes through the question catalog and the store, never Cypher over
predictions; the result is plain data for :mod:`provex.graph.explain.rank`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from provex.graph import facts, flags
from provex.graph.explain import pairs as pairs_mod
from provex.graph.explain import reach, timing
from provex.graph.questions import ask
from provex.vocab.errors import UsageError

MAX_UPSTREAM = 4  # upstream predictions whose models are compared (hop 1 and 2)
ROWS = 10_000

_STAGE_DEPS = """
UNWIND $versions AS u
MATCH (mv:ModelVersion {uid: u})-[:WAS_GENERATED_BY]->(:Run)-[:SAME_AS]-(tr:Run)-[:USED]->(d:DataVersion)
RETURN DISTINCT u AS model_version, d.path AS path, d.hash AS hash
"""

_ORIGINS = """
UNWIND $uids AS u
MATCH (d:DataVersion {uid: u})
OPTIONAL MATCH (d)-[:WAS_GENERATED_BY]->(r:Run)
OPTIONAL MATCH (r)-[:INSTANCE_OF]->(st:Stage)
WITH d, collect(DISTINCT coalesce(st.name, r.stage, r.name))[0] AS stage,
     collect(DISTINCT coalesce(r.commit, [(r)-[:USED]->(c:CodeVersion) | c.sha][0]))[0] AS made_at
RETURN d.uid AS uid, d.path AS path, d.hash AS hash, stage, coalesce(made_at, d.commit) AS commit
"""

_COMMITS = """
UNWIND $shas AS sha
MATCH (c:CodeVersion {sha: sha})
OPTIONAL MATCH (c)-[:ASSOCIATED_WITH]->(ag:Agent)
RETURN c.sha AS sha, c.message AS message, coalesce(ag.name, c.author) AS author, c.date AS date
"""

_ALIASES = """
UNWIND $names AS name
MATCH (m:Model {name: name})-[h:HAS_ALIAS]->(mv:ModelVersion)
RETURN name AS model, h.alias AS alias, mv.uid AS model_version, toString(h.valid_from) AS valid_from,
       toString(h.valid_to) AS valid_to
ORDER BY model, valid_from
"""


def rows(frame: Any) -> list[dict[str, Any]]:
    """A question's answer as dicts, missing values None."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def prediction(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored prediction as explain uses it."""
    over = None
    if row.get("override_rule"):
        over = {"rule": row["override_rule"], "original": row.get("original_output"), "final": row.get("output")}
    return {"uid": row["uid"], "id": row["prediction_id"], "output": row.get("output"), "override": over,
            "model_version": row.get("model_version"), "model_ref": row.get("model_ref"),
            "timestamp": row.get("timestamp"), "subject_id": row.get("subject_id"),
            "household_id": row.get("household_id"), "feature_pipeline": row.get("feature_pipeline"),
            "input_hash": row.get("input_hash"), "inputs": dict(sorted((row.get("inputs") or {}).items())),
            "upstream": list(row.get("upstream") or [])}


def _one(graph: Any, uid: str) -> dict[str, Any]:
    row = facts.get(graph, facts.uid_of(uid))
    if row is None:
        raise UsageError(f"No prediction {uid!r} in the prediction store. Try `provex search {uid.removeprefix('prediction:')}`.")
    return row


def gather(graph: Any, prediction_uid: str, against_uid: str | None = None) -> dict[str, Any]:
    """Everything rank needs about ``prediction_uid`` (compared with ``against_uid`` when given)."""
    p = _one(graph, prediction_uid)
    chain = facts.chain(graph, p["uid"])
    q = _one(graph, against_uid) if against_uid else None
    if q is not None and q["uid"] == p["uid"]:
        raise UsageError("--against names the explained prediction itself; give another prediction.")
    chain_q = facts.chain(graph, q["uid"]) if q else []
    deltas: list[dict[str, Any]] = []
    if q is not None:
        compared = rows(ask(graph, "compare-predictions", {"a": q["uid"], "b": p["uid"]}, limit=ROWS))
        found = pairs_mod.compared_pairs(compared, chain, chain_q)
        deltas = pairs_mod.input_deltas(compared)
    else:
        found = _last_good_pairs(graph, chain)
    _complete(graph, found)
    upstream_data = _upstream_data(graph, found)
    anomalies = _anomalies(graph, found, upstream_data)
    origins = _origins(graph, found, anomalies)
    history = graph.read(_ALIASES, {"names": sorted({x["model"] for x in found})})
    found_timing = _timing(graph, history, p, chain, found)
    out = {"prediction": prediction(p), "against": prediction(q) if q else None,
           "chain": [{"hop": r["hop"], "uid": r["uid"], "model_version": r["model_version"], "output": r["output"],
                      "upstream": list(r["upstream"])} for r in chain],
           "against_chain": [{"hop": r["hop"], "uid": r["uid"], "model_version": r["model_version"],
                              "output": r["output"]} for r in chain_q],
           "pairs": found, "inputs": deltas, "anomalies": anomalies, "origins": origins, "aliases": history,
           "timing": found_timing}
    out["reach"] = reach.gather(graph, out)
    out["limits"] = _limits(graph, out)
    return out


def _last_good_pairs(graph: Any, chain: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Alone: each prediction of the chain (the explained one, then its upstream
    ones) against the last known good version of the model that made it."""
    out = []
    for row in [r for r in chain if r["model_version"]][: 1 + MAX_UPSTREAM]:
        answer = rows(ask(graph, "what-changed", {"prediction": row["uid"]}, limit=ROWS))
        pair = pairs_mod.changed_pair(answer, row["uid"], "own" if row["hop"] == 0 else "upstream")
        if pair and all(p["model"] != pair["model"] for p in out):
            out.append(pair)
    return out


def _complete(graph: Any, found: list[dict[str, Any]]) -> None:
    """Add the code files of the linked training stages to each differing pair."""
    versions = sorted({v for x in found if x["a"] and x["a"] != x["b"] for v in (x["a"], x["b"])})
    deps: dict[str, list[dict[str, Any]]] = {}
    for row in graph.read(_STAGE_DEPS, {"versions": versions}) if versions else []:
        deps.setdefault(row["model_version"], []).append(row)
    for x in found:
        if x["a"] and x["a"] != x["b"]:
            pairs_mod.add_stage_code(x["diff"], deps.get(x["a"], []), deps.get(x["b"], []))


def _upstream_data(graph: Any, found: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Model version -> the data versions upstream of its training (model-training-data)."""
    out: dict[str, set[str]] = {}
    for version in sorted({v for x in found for v in (x["a"], x["b"]) if v}):
        answer = ask(graph, "model-training-data", {"model_version": version}, limit=ROWS)
        out[version] = set(answer["data_version"].dropna())
    return out


def _anomalies(graph: Any, found: Sequence[Mapping[str, Any]], upstream: Mapping[str, set[str]]) -> list[dict[str, Any]]:
    """data-anomalies' versions upstream of the explained side's models: each with the
    models it is upstream of (``in_b``) and whether the compared side has it too (``in_a``)."""
    flagged = [r for r in rows(ask(graph, "data-anomalies", {}, limit=ROWS))]
    out: dict[str, dict[str, Any]] = {}
    for row in flagged:
        uid = row["data_version"]
        in_b = [x["b"] for x in found if uid in upstream.get(x["b"], ())]
        if not in_b or uid in out:
            continue
        in_a = [x["a"] for x in found if x["a"] and uid in upstream.get(x["a"], ())]
        out[uid] = {**{k: row[k] for k in ("data_version", "path", "hash", "column", "kind", "value", "typical", "factor",
                                           "compared", "downstream_of")},
                    "rank": row["rank"], "in_b": in_b, "in_a": in_a,
                    "models": sorted({x["model"] for x in found if x["b"] in in_b})}
    return sorted(out.values(), key=lambda r: r["rank"])


def _origins(graph: Any, found: Sequence[Mapping[str, Any]], anomalies: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Data version uid -> {path, hash, stage, commit}; commit sha -> {message, author, date}."""
    uids = {a["data_version"] for a in anomalies}
    shas: set[str] = set()
    for x in found:
        diff = x["diff"]
        for entry in diff["code"] + diff["data_only_b"] + diff["data_changed"]:
            if entry["b"] and entry.get("hash_kind") in (None, "md5"):
                uids.add(f"data:{entry['path']}@{entry['b']}")
        if diff["commit"]:
            shas.update(s for s in diff["commit"].values() if s)
    data = {r["uid"]: dict(r) for r in graph.read(_ORIGINS, {"uids": sorted(uids)})} if uids else {}
    shas.update(r["commit"] for r in data.values() if r.get("commit"))
    commits = {r["sha"]: dict(r) for r in graph.read(_COMMITS, {"shas": sorted(shas)})} if shas else {}
    return {"data": data, "commits": commits}


def _timing(graph: Any, history: list[dict[str, Any]], p: Mapping[str, Any], chain: Sequence[Mapping[str, Any]],
            found: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Alias timing findings, each with the predictions its version made in the window."""
    own = {"model": pairs_mod.name_of(p["model_version"]), "model_version": p["model_version"]}
    ups = [{"model": pairs_mod.name_of(r["model_version"]), "model_version": r["model_version"], "prediction": r["uid"]}
           for r in chain if r["hop"] == 1 and r["model_version"]]
    out = timing.findings(history, p["timestamp"], own, ups)
    for found_one in out:
        if found_one["kind"] == "between moves":
            found_one["predictions"] = facts.count_of(graph, [found_one["model_version"]], found_one["from"], found_one["until"])
    return out


def _limits(graph: Any, out: Mapping[str, Any]) -> list[str]:
    """The lineage gaps that limit the answer, in words."""
    notes = []
    chain = out["chain"]
    logged = {r["uid"] for r in chain}
    for r in chain:
        for up in r["upstream"]:
            if up not in logged and r["hop"] < facts.MAX_HOPS:
                notes.append(f"{pairs_mod.short(up)} (used by {pairs_mod.short(r['uid'])}) was never logged: "
                             "its model and inputs are unknown.")
        if not r["model_version"]:
            notes.append(f"{pairs_mod.short(r['uid'])} names no model version provex could resolve: causes in its model are unknown.")
    for x in out["pairs"]:
        if not x["a"]:
            why = "no earlier version is known" if out["against"] is None else "the compared prediction has no such model"
            notes.append(f"{pairs_mod.short(x['b'])}: {why}, so its upstream is not compared.")
    versions = sorted({v for x in out["pairs"] for v in (x["a"], x["b"]) if v})
    for uid, reasons in flags.node_flags(graph, versions + sorted(logged)).items():
        for reason in reasons:
            if reason.startswith("lineage gap: "):
                notes.append(f"{pairs_mod.short(uid)}: {reason.removeprefix('lineage gap: ')}: causes there are unknown.")
    return list(dict.fromkeys(notes))
