"""Cypher console: read-only queries (writes and LOAD CSV are refused), with a
row limit and a time limit; results as a table and, when they hold nodes,
relationships or paths, as a graph."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from provex.app import graphrows, graphview, state
from provex.app.plaintext import md
from provex.graph import console
from provex.vocab.errors import ProvexError

EXAMPLE = "MATCH (p:Prediction)-[e:PREDICTED_BY]->(m:ModelVersion) RETURN p, e, m LIMIT 25"

st.title("Cypher console")
st.caption("Read-only: CREATE, MERGE, SET, DELETE, REMOVE, LOAD CSV and schema changes are refused. "
           "provex writes only through `provex ingest`.")
query = st.text_area("Query", value=EXAMPLE, height=120, key="cypher")
cols = st.columns(3)
limit = cols[0].number_input("Row limit", 1, 100_000, 200, step=100, key="limit")
timeout = cols[1].number_input("Time limit (seconds)", 1.0, 600.0, 15.0, step=5.0, key="timeout")
as_graph = cols[2].checkbox("Draw nodes and paths as a graph", value=True, key="as_graph")

if st.button("Run", type="primary", key="run"):
    try:
        rows, truncated = console.run(state.graph(), query, {}, limit=int(limit), timeout=float(timeout))
    except ProvexError as exc:
        st.error(md(exc))
        st.stop()
    st.subheader(f"{len(rows):,} row{'s' if len(rows) != 1 else ''}" + (" (partial: row limit reached)" if truncated else ""))
    if truncated:
        st.warning(f"Stopped at {int(limit):,} rows: raise the limit or narrow the query to see the rest.")
    frame = pd.DataFrame([{k: graphview.brief(v, 300) if isinstance(v, (dict, list)) else v
                           for k, v in row.items()} for row in rows])
    st.dataframe(frame, hide_index=True)
    nodes, edges = graphrows.from_rows(rows)
    if as_graph and nodes:
        state.draw(nodes, edges)
