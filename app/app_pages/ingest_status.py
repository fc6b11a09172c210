"""Ingest status: the sources (last success, last failure with its error,
staleness, rejects), the ingest lock, what each ingest wrote, and the records
set aside with their reasons."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from provex.app import state
from provex.app.plaintext import md
from provex.graph import lock, status

SOURCE_COLUMNS = ["kind", "source", "stale", "last_success", "since_success_s", "last_failure", "failures",
                  "last_error", "ingests", "rejected", "last_ingest"]


def source_table(rows: list[dict[str, Any]], stale_after: float) -> pd.DataFrame:
    """One row per source: staleness against ``stale_after`` seconds, last
    success, last failure with its error, rejects."""
    marked = status.staleness(rows, stale_after)
    return pd.DataFrame([{c: r.get(c) for c in SOURCE_COLUMNS} for r in marked], columns=SOURCE_COLUMNS)


def lock_table(locks: list[dict[str, Any]]) -> pd.DataFrame:
    """The ingest lock: who holds it, its heartbeat age, takeovers."""
    columns = ["name", "held", "owner", "host", "pid", "command", "heartbeat_age_s", "takeovers",
               "last_takeover_from", "last_owner"]
    return pd.DataFrame([{c: row.get(c) for c in columns} for row in locks], columns=columns)


def run_table(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per ingest: when, what, how many written / rejected / flagged."""
    rows = []
    for r in runs:
        written = r["written"]
        rows.append({"started_at": r["started_at"], "kind": r["kind"], "source": r["source"],
                     "written": sum(written.values()), "predictions stored": r["predictions"].get("stored", 0),
                     "rejected": r["rejected"], "flags": len(r["flags"]),
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
stale_hours = st.number_input("Stale after (hours without a success)", 0.1, 24.0 * 365, 24.0, step=1.0)
with state.shown_errors():
    sources = status.sources(g)
    locks = lock.state(g)
    runs = status.ingest_runs(g, int(limit))
    counts = status.node_counts(g)
st.subheader(f"Sources ({len(sources)})")
if not sources:
    st.info("Nothing ingested yet: run `provex ingest dvc|mlflow|predictions|openlineage ...`.")
table = source_table(sources, stale_hours * 3600)
st.dataframe(table, hide_index=True)
stale = table[table["stale"]] if not table.empty else table
if not stale.empty:
    st.warning(md(f"{len(stale)} source(s) stale: no success for over {stale_hours:g} h: " + ", ".join(stale["source"])))
failing = table[table["failures"] > 0] if not table.empty else table
for row in failing.itertuples():
    st.error(md(f"{row.kind} {row.source}: failing since {row.last_failure} ({row.failures} in a row): {row.last_error}"))
st.subheader("Ingest lock")
if locks:
    st.dataframe(lock_table(locks), hide_index=True)
else:
    st.caption("No ingest has taken the lock yet.")
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
