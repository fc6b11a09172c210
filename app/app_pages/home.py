"""Home, question first: pick one of the catalog's debugging questions, fill
its parameters (nodes found by searching as you type), get the answer as a
table and, around the node it is about, the lineage drawn as a graph."""

from __future__ import annotations

from typing import Any

import streamlit as st

from provex.app import state
from provex.graph import lineage, questions

ROW_LIMIT = 5_000
GRAPH_DEPTH = 4


def param_input(q: questions.Question, p: questions.Param) -> Any:
    """One widget per parameter, by its type."""
    key = f"{q.name}.{p.name}"
    if p.type == "ref":
        return state.ref_picker(p.description, key, kind=p.label, default=str(p.default or ""))
    if p.choices:
        return st.selectbox(p.description, p.choices, index=list(p.choices).index(p.default) if p.default in p.choices
                            else 0, key=key)
    if p.type == "int":
        return int(st.number_input(p.description, value=int(p.default or 0), step=1, key=key))
    hint = "ISO time, e.g. 2026-03-18T20:12:00Z" if p.type == "datetime" else None
    label = p.description + ("" if p.required else " (optional)")
    value = st.text_input(label, value=str(p.default or ""), key=key, placeholder=hint)
    return value.strip() or None


def missing(q: questions.Question, params: dict[str, Any]) -> list[str]:
    """Required parameters still to fill."""
    return [p.name for p in q.params if params.get(p.name) in (None, "") and p.required]


def direction_for(q: questions.Question) -> str:
    """Impact questions look downstream, the rest upstream."""
    return "down" if q.name.startswith("impact") else "up"


def answer(q: questions.Question, params: dict[str, Any]) -> None:
    """The answer table, links to its nodes, and the lineage around the main node."""
    g = state.graph()
    with state.shown_errors():
        frame = questions.ask(g, q.name, {k: v for k, v in params.items() if v not in (None, "")}, limit=ROW_LIMIT)
    st.subheader(f"Answer: {len(frame):,} row{'s' if len(frame) != 1 else ''}")
    if frame.empty:
        st.info("No rows: nothing in the graph matches. Check the parameters, or what was ingested (Ingest status).")
    if frame.attrs.get("truncated"):
        st.warning(f"Stopped at {ROW_LIMIT:,} rows: partial answer.")
    state.table(frame)
    st.download_button("Download CSV", frame.to_csv(index=False), file_name=f"{q.name}.csv", mime="text/csv")
    state.link_list(state.refs_in(frame), title="Nodes in this answer")
    main_ref = next((params[p.name] for p in q.params if p.type == "ref" and params.get(p.name)), None)
    if main_ref:
        st.subheader(f"Lineage {'downstream' if direction_for(q) == 'down' else 'upstream'} of `{main_ref}`")
        with state.shown_errors():
            sub = lineage.traverse(g, main_ref, direction=direction_for(q), depth=GRAPH_DEPTH, node_cap=400,
                                   time_limit=30.0)
        state.draw_subgraph(sub)
        state.node_link(main_ref, label=f"Explore {main_ref} on its node page", dir=direction_for(q))


def main() -> None:
    st.title("What do you want to know?")
    catalog = questions.CATALOG
    names = list(catalog)
    wanted = st.query_params.get("question")
    name = st.radio("Debugging questions", names, key="question", index=names.index(wanted) if wanted in names else 0,
                    format_func=lambda n: catalog[n].title, captions=[q.description for q in catalog.values()])
    st.query_params["question"] = name  # shareable: /?question=<name>
    q = catalog[name]
    st.header(q.title)
    st.caption(f"`provex ask {q.name}` — answers with columns: {', '.join(q.columns)}")
    params = {p.name: param_input(q, p) for p in q.params}
    todo = missing(q, params)
    if st.button("Answer", type="primary", key="ask", disabled=bool(todo),
                 help=f"Fill {', '.join(todo)} first" if todo else None):
        st.session_state["answered"] = (q.name, tuple(sorted(params.items())))
    if st.session_state.get("answered") == (q.name, tuple(sorted(params.items()))):
        answer(q, params)


main()
