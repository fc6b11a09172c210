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
from provex.graph.explain.reads import parallel
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
OPTIONAL MATCH (r)-[:USED]->(c:CodeVersion)
WITH d, collect(coalesce(st.name, r.stage, r.name))[0] AS stage, collect(coalesce(r.commit, c.sha))[0] AS made_at
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
    """Everything rank needs about ``prediction_uid`` (compared with ``against_uid`` when given).
    The reads run in three rounds, each read of a round at once (:mod:`.reads`)."""
    p = _one(graph, prediction_uid)
    chain = facts.chain(graph, p["uid"])
    q = _one(graph, against_uid) if against_uid else None
    if q is not None and q["uid"] == p["uid"]:
        raise UsageError("--against names the explained prediction itself; give another prediction.")
    chain_q = facts.chain(graph, q["uid"]) if q else []
    names = sorted({pairs_mod.name_of(r["model_version"]) for r in chain + chain_q if r["model_version"]})
    known = sorted({r["model_version"] for r in chain + chain_q if r["model_version"]})
    shown = [r for r in chain if r["model_version"]][: 1 + MAX_UPSTREAM]
    first = (lambda: rows(ask(graph, "compare-predictions", {"a": q["uid"], "b": p["uid"]}, limit=ROWS))) if q \
        else (lambda: _changed(graph, shown[:1]))
    # Round 1: the comparison (or what changed for the prediction itself), the anomalies, the alias history,
    # and the upstream data of every version the chains name.
    compared, flagged, history, upstream_data = parallel(
        first, lambda: rows(ask(graph, "data-anomalies", {}, limit=ROWS)), lambda: graph.read(_ALIASES, {"names": names}),
        lambda: _training_data(graph, known))
    deltas: list[dict[str, Any]] = []
    if q is not None:
        found = pairs_mod.compared_pairs(compared, chain, chain_q)
        deltas = pairs_mod.input_deltas(compared)
    else:  # round 2 alone: the upstream predictions' what-changed (its plan is cached by now)
        found = _unique(compared + _changed(graph, shown[1:]))
    upstream_data.update(_complete(graph, found, upstream_data))
    anomalies = _anomalies(flagged, found, upstream_data)
    origins = _origins(graph, found, anomalies)
    out = {"prediction": prediction(p), "against": prediction(q) if q else None,
           "chain": [{"hop": r["hop"], "uid": r["uid"], "model_version": r["model_version"], "output": r["output"],
                      "upstream": list(r["upstream"])} for r in chain],
           "against_chain": [{"hop": r["hop"], "uid": r["uid"], "model_version": r["model_version"],
                              "output": r["output"]} for r in chain_q],
           "pairs": found, "inputs": deltas, "anomalies": anomalies, "origins": origins, "aliases": history}
    out["timing"], out["reach"], out["limits"] = parallel(lambda: _timing(graph, history, p, chain, found),
                                                          lambda: reach.gather(graph, out), lambda: _limits(graph, out))
    return out


def _changed(graph: Any, shown: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Alone: each of these predictions (the explained one, its upstream ones)
    against the last known good version of the model that made it (what-changed)."""
    answers = parallel(*[lambda r=r: rows(ask(graph, "what-changed", {"prediction": r["uid"]}, limit=ROWS)) for r in shown])
    found = [pairs_mod.changed_pair(answer, row["uid"], "own" if row["hop"] == 0 else "upstream")
             for row, answer in zip(shown, answers)]
    return [x for x in found if x]


def _unique(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One pair per model (the nearest prediction's)."""
    out: list[dict[str, Any]] = []
    for pair in found:
        if all(x["model"] != pair["model"] for x in out):
            out.append(pair)
    return out


def _training_data(graph: Any, versions: Sequence[str]) -> dict[str, set[str]]:
    """Model version -> the data versions upstream of its training (model-training-data)."""
    if not versions:
        return {}
    reads = [lambda v=v: set(ask(graph, "model-training-data", {"model_version": v}, limit=ROWS)["data_version"].dropna())
             for v in versions]
    return dict(zip(versions, [reads[0](), *parallel(*reads[1:])]))  # the first plans the query for the rest


def _complete(graph: Any, found: list[dict[str, Any]], known: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """Add the code files of the linked training stages to each differing pair; return the
    upstream data of the compared versions not read yet."""
    differing = sorted({v for x in found if x["a"] and x["a"] != x["b"] for v in (x["a"], x["b"])})
    missing = sorted({v for x in found for v in (x["a"], x["b"]) if v and v not in known})
    deps_rows, more = parallel(lambda: graph.read(_STAGE_DEPS, {"versions": differing}) if differing else [],
                               lambda: _training_data(graph, missing))
    deps: dict[str, list[dict[str, Any]]] = {}
    for row in deps_rows:
        deps.setdefault(row["model_version"], []).append(row)
    for x in found:
        if x["a"] and x["a"] != x["b"]:
            pairs_mod.add_stage_code(x["diff"], deps.get(x["a"], []), deps.get(x["b"], []))
    return more


def _anomalies(flagged: Sequence[Mapping[str, Any]], found: Sequence[Mapping[str, Any]],
               upstream: Mapping[str, set[str]]) -> list[dict[str, Any]]:
    """data-anomalies' versions upstream of the explained side's models: each with the
    models it is upstream of (``in_b``) and whether the compared side has it too (``in_a``)."""
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
