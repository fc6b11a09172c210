"""What is wrong with the nodes of a picture: for a set of node uids, the
reasons a person should look at each — a data anomaly (the
``data-anomalies`` question: a version whose statistics break from its
siblings', or one downstream of such a version), a lineage gap of the node
itself (the gaps of ``lineage-gaps`` that one node can have), or a failed
reproduction (its latest verification, or a replay through the model that
made it, differs).

Two gaps of ``lineage-gaps`` are left out on purpose: "data version without
a producer" (every raw input has none) and "model version never verified"
(most versions): flagging them would mark most of any picture.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from provex.graph import facts, questions
from provex.graph.connection import Graph
from provex.vocab import numbers as num
from provex.vocab.facts import partition_of

ANOMALY_TIMEOUT = 20.0

NODE_FLAGS = """
UNWIND $uids AS u
MATCH (x:Node {uid: u})
WHERE NOT x:Prediction OR EXISTS { (:Replay)-[:REPLAYS]->(x) }
WITH x, [
  CASE WHEN coalesce(x.placeholder, false) AND NOT x:Prediction  // a prediction's own gap comes from the store
       THEN 'referenced but never ingested (placeholder)' END,
  CASE WHEN x:ModelVersion AND NOT EXISTS { (x)-[:WAS_GENERATED_BY]->(r:Run) WHERE NOT coalesce(r.placeholder, false) }
        THEN 'model version without a source run' END,
  CASE WHEN x:Run AND NOT coalesce(x.placeholder, false) AND NOT EXISTS { (x)-[:USED]->(:DataVersion|Dataset) }
       THEN 'run without a data input' END,
  CASE WHEN x:Run AND NOT coalesce(x.placeholder, false) AND NOT EXISTS { (x)-[:USED]->(:CodeVersion) }
        AND x.commit IS NULL AND x.git_commit IS NULL THEN 'run without a code commit' END,
  CASE WHEN x:Stage AND NOT EXISTS { (:Run)-[:INSTANCE_OF]->(x) } THEN 'stage never run' END
] AS gaps
CALL {
  WITH x
  OPTIONAL MATCH (r:Reproduction)-[:REPRODUCES]->(x) WHERE r.outcome <> 'could-not-run'
  WITH r ORDER BY r.started_at DESC LIMIT 1
  RETURN r.outcome AS verified, r.started_at AS verified_at, r.reason AS verify_reason
}
CALL {
  WITH x
  OPTIONAL MATCH (p:Replay)-[:REPLAYS]->(x)
  WHERE p.outcome <> 'could-not-run' AND coalesce(p.model_version, '') = coalesce(p.logged_model_version, '')
  WITH p ORDER BY p.started_at DESC LIMIT 1
  RETURN p.outcome AS replayed, p.started_at AS replayed_at
}
RETURN x.uid AS uid, [g IN gaps WHERE g IS NOT NULL] AS gaps, verified, verified_at, verify_reason,
       replayed, replayed_at
"""




def anomalies(graph: Graph, timeout: float = ANOMALY_TIMEOUT) -> dict[str, list[str]]:
    """Data version uid -> why ``data-anomalies`` flags it (every version it ranks)."""
    frame = questions.ask(graph, "data-anomalies", {}, timeout=timeout)
    out: dict[str, list[str]] = defaultdict(list)
    for row in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        out[row["data_version"]].append("data anomaly: " + anomaly_text(row))
    return dict(out)


def anomaly_text(row: Mapping[str, Any]) -> str:
    """``amount is 100x its siblings' median (7,124 vs 71.24)`` or ``share_essentials: column appeared``."""
    if row.get("kind") == "scale":
        text = (f"{row['column']} is {num.ratio(row['factor'])} its siblings' median "
                f"({num.number(row['value'], num.BRIEF)} vs {num.number(row['typical'], num.BRIEF)})")
    else:
        text = f"{row['column']}: {row['kind']}"
    return text + (f", downstream of {row['downstream_of']}" if row.get("downstream_of") else "")


_REAL = "UNWIND $uids AS u MATCH (m:Node {uid: u}) WHERE NOT coalesce(m.placeholder, false) RETURN m.uid AS uid"


def node_flags(graph: Graph, uids: Sequence[str]) -> dict[str, list[str]]:
    """uid -> its lineage gaps and failed reproductions (only the uids with any)."""
    out: dict[str, list[str]] = {}
    stored = facts.many(graph, [u for u in dict.fromkeys(uids) if u.startswith("prediction:")])
    models = sorted({r["model_version"] for r in stored if r["model_version"]})
    real = {r["uid"] for r in graph.read(_REAL, {"uids": models})} if models else set()
    unsure = {a["partition"] for a in graph.facts.ambiguous()} if stored else set()
    for row in stored:  # a prediction's gap, from the store (with or without its node)
        if partition_of(row) in unsure and row["model_version"] is None:
            out[row["uid"]] = ["lineage gap: prediction with an ambiguous model"]
        elif row["model_version"] not in real:  # none, or a version only referenced (placeholder)
            out[row["uid"]] = ["lineage gap: prediction without a resolvable model"]
    for row in graph.read(NODE_FLAGS, {"uids": list(dict.fromkeys(uids))}):
        reasons = [f"lineage gap: {g}" for g in row["gaps"]]
        if row["verified"] == "differs":
            reasons.append(f"reproduction differs ({row['verified_at']}): {row['verify_reason'] or ''}".rstrip(": "))
        if row["replayed"] == "differs":
            reasons.append(f"replay differs from the logged output ({row['replayed_at']})")
        if reasons:
            out.setdefault(row["uid"], []).extend(reasons)
    return out


def flags(graph: Graph, uids: Sequence[str], anomalous: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[str]]:
    """uid -> every reason to look at it, for the given uids (``anomalous``:
    :func:`anomalies`, when the caller already has them)."""
    found = anomalies(graph) if anomalous is None else anomalous
    out = {uid: list(found[uid]) for uid in uids if uid in found}
    for uid, reasons in node_flags(graph, uids).items():
        out.setdefault(uid, []).extend(reasons)
    return out
