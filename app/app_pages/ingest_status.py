"""Ingest status: the sources, their last ingest, what each ingest wrote, and
the records set aside with their reasons."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from app import state

SOURCES = """
MATCH (s:Source)
OPTIONAL MATCH (i:IngestRun)-[:PART_OF]->(s)
RETURN s.kind AS kind, s.name AS source, s.last_ingest AS last_ingest, s.last_seen AS last_seen,
       count(i) AS ingests, sum(coalesce(i.rejected, 0)) AS rejected
ORDER BY kind, source
"""
RUNS = """
MATCH (i:IngestRun)
RETURN i.name AS ingest_run, i.kind AS kind, i.source_uri AS source, i.started_at AS started_at,
       i.written AS written, i.rejected AS rejected, i.rejects AS rejects, i.flags AS flags
ORDER BY started_at DESC LIMIT $limit
"""
COUNTS = """
MATCH (n:Node) UNWIND [l IN labels(n) WHERE l <> 'Node'] AS kind
RETURN kind, count(*) AS nodes, sum(CASE WHEN n.placeholder THEN 1 ELSE 0 END) AS placeholders ORDER BY kind
"""


def loads(text: Any, default: Any) -> Any:
    """JSON kept on an IngestRun node (tolerates missing or bad values)."""
    try:
        return json.loads(text) if text else default
    except (TypeError, ValueError):
        return default


def run_table(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per ingest: when, what, how many written / rejected / flagged."""
    rows = []
    for r in runs:
        written = loads(r["written"], {})
        flags = loads(r["flags"], [])
        rows.append({"started_at": r["started_at"], "kind": r["kind"], "source": r["source"],
                     "written": sum(written.values()) if isinstance(written, dict) else None,
                     "rejected": r["rejected"], "flags": len(flags) if isinstance(flags, list) else None,
                     "details": ", ".join(f"{k} {v:,}" for k, v in written.items()) if isinstance(written, dict) else "",
                     "ingest_run": r["ingest_run"]})
    return pd.DataFrame(rows)


def reason_table(runs: list[dict[str, Any]], field: str) -> pd.DataFrame:
    """Rejected records (``rejects``) or flags of every ingest, with where and why."""
    rows = []
    for r in runs:
        for item in loads(r[field], []):
            if field == "rejects":
                rows.append({"ingest_run": r["ingest_run"], "where": item.get("where"), "reason": item.get("reason")})
            else:
                where = f"{item.get('file') or ''}{':' + str(item['line']) if item.get('line') else ''}"
                rows.append({"ingest_run": r["ingest_run"], "flag": item.get("kind"), "where": where,
                             "message": item.get("message")})
    return pd.DataFrame(rows)


st.title("Ingest status")
g = state.graph()
limit = st.number_input("Ingests shown", 1, 5_000, 100, step=50)
with state.shown_errors():
    sources = g.read(SOURCES)
    runs = g.read(RUNS, {"limit": int(limit)})
    counts = g.read(COUNTS)
st.subheader(f"Sources ({len(sources)})")
if not sources:
    st.info("Nothing ingested yet: run `provex ingest dvc|mlflow|predictions|openlineage ...`.")
st.dataframe(pd.DataFrame(sources), hide_index=True)
st.subheader(f"Ingests ({len(runs)})")
st.dataframe(run_table(runs), hide_index=True)
rejects = reason_table(runs, "rejects")
st.subheader(f"Rejected records ({len(rejects)})")
if rejects.empty:
    st.caption("No record was set aside.")
else:
    st.dataframe(rejects, hide_index=True)
flags = reason_table(runs, "flags")
st.subheader(f"Flags ({len(flags)})")
st.dataframe(flags, hide_index=True)
st.subheader("Graph contents")
st.dataframe(pd.DataFrame(counts), hide_index=True)
