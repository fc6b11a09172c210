"""Ingest status: the sources, their last ingest, what each ingest wrote, and
the records set aside with their reasons."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from provex.app import state
from provex.graph import status


def run_table(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per ingest: when, what, how many written / rejected / flagged."""
    rows = []
    for r in runs:
        written = r["written"]
        rows.append({"started_at": r["started_at"], "kind": r["kind"], "source": r["source"],
                     "written": sum(written.values()), "rejected": r["rejected"], "flags": len(r["flags"]),
                     "details": ", ".join(f"{k} {v:,}" for k, v in written.items()), "ingest_run": r["ingest_run"]})
    return pd.DataFrame(rows)


def reason_table(runs: list[dict[str, Any]], field: str) -> pd.DataFrame:
    """Rejected records (``rejects``) or flags of every ingest, with where and why."""
    rows = []
    for r in runs:
        for item in r[field]:
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
    sources = status.sources(g)
    runs = status.ingest_runs(g, int(limit))
    counts = status.node_counts(g)
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
st.dataframe(pd.DataFrame(counts).rename(columns={"label": "kind", "count": "nodes"}), hide_index=True)
