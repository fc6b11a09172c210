"""Home: one box for what people know (a customer, household, prediction,
model or data) leading to the natural next step — a subject to their
history, a prediction to what changed and its provenance, any other node to
its page. Below it, the question catalog: pick a question, fill its
parameters (nodes found by searching as you type), get the headline, the
table, the next questions and the lineage around the node it is about.
The URL reproduces the page: ``/?find=h-0107``,
``/?question=what-changed&prediction=prediction:cl-001528``."""

from __future__ import annotations

from typing import Any

import streamlit as st

from provex.app import state
from provex.app.plaintext import code, md
from provex.graph import lineage, questions
from provex.vocab.errors import UsageError

ROW_LIMIT = 5_000
GRAPH_DEPTH = 4


def param_input(q: questions.Question, p: questions.Param) -> Any:
    """One widget per parameter, by its type."""
    key = f"{q.name}.{p.name}"
    given = st.query_params.get(p.name)
    if p.type == "ref":
        return state.ref_picker(p.description, key, kind=p.label, default=str(given or p.default or ""))
    if p.choices:
        return st.selectbox(p.description, p.choices, index=list(p.choices).index(p.default) if p.default in p.choices
                            else 0, key=key)
    if p.type == "int":
        return int(st.number_input(p.description, value=int(p.default or 0), step=1, key=key))
    hint = "ISO time, e.g. 2026-03-18T20:12:00Z" if p.type == "datetime" else None
    label = p.description + ("" if p.required else " (optional)")
    value = st.text_input(label, value=str(given or p.default or ""), key=key, placeholder=hint)
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
    state.show_answer(frame, q, {k: v for k, v in frame.attrs.get("params", params).items() if v is not None})
    state.link_list(state.refs_in(frame), title="Nodes in this answer")
    main_ref = next((params[p.name] for p in q.params if p.type == "ref" and params.get(p.name)), None)
    if main_ref:
        st.subheader(f"Lineage {'downstream' if direction_for(q) == 'down' else 'upstream'} of {code(main_ref)}")
        with state.shown_errors():
            sub = lineage.traverse(g, main_ref, direction=direction_for(q), depth=GRAPH_DEPTH, node_cap=400,
                                   time_limit=30.0)
        state.draw_subgraph(sub)
        state.node_link(main_ref, label=f"Explore {main_ref} on its node page", dir=direction_for(q))


SUBJECT_KEYS = ("subject_id=", "household_id=")


def is_subject(text: str, hits: list[dict[str, Any]]) -> bool:
    """Whether the text is a subject or household id: exact prediction hits
    that are not the prediction's own id."""
    exact = [h for h in hits if h["match"] == "exact" and h["label"] == "Prediction"]
    return bool(exact) and all(h["name"] != text for h in exact) and any(
        f"{key}{text}" in h["detail"] for h in exact for key in SUBJECT_KEYS)


def next_step(hit: dict[str, Any]) -> None:
    """Where one node leads: a prediction to what changed and its provenance."""
    ref = hit["ref"]
    if hit["label"] == "Prediction":
        state.question_link("what-changed", {"prediction": ref}, label=f"What changed in the model behind {ref}?")
        state.question_link("prediction-provenance", {"prediction": ref}, label=f"Where did {ref} come from?")
        state.question_link("compare-predictions", {"a": ref}, label=f"Compare {ref} with another prediction")
    elif hit["label"] in ("DataVersion", "CodeVersion", "Library", "ModelVersion"):
        st.page_link("app_pages/impact.py", label=md(f"What is affected by {ref}?"), icon=":material/warning:",
                     query_params={"ref": ref})
    state.node_link(ref, label=f"{ref}: its lineage and properties")


def finder() -> None:
    """The one box: find what people know, then offer the next step."""
    text = st.text_input("Customer, household, prediction, model or data", key="find", bind="query-params",
                         placeholder="e.g. a household id, a prediction id, a model name, a data path")
    text = text.strip()
    if not text:
        return
    try:
        hits = state.find(state.graph(), text, limit=30)
    except UsageError as exc:
        st.error(md(exc))
        return
    if not hits:
        st.warning(md(f"Nothing matches {text!r}. Try fewer characters, a path or a hash prefix."))
        return
    if is_subject(text, hits):
        count = sum(1 for h in hits if h["match"] == "exact")
        st.success(md(f"{text} is a customer or household with {count:,} prediction{'s' if count != 1 else ''}."))
        state.question_link("subject-history", {"subject": text}, label=f"History of {text}: every prediction over time")
        return
    top = hits[0]
    st.success(md(f"{top['label']} {top['ref']} — {top['name']}" + (f" ({top['detail']})" if top["detail"] else "")))
    next_step(top)
    if len(hits) > 1:
        with st.expander(f"Other matches ({len(hits) - 1})"):
            for hit in hits[1:]:
                state.node_link(hit["ref"], label=f"{hit['ref']} ({hit['label']}) {hit['detail']}".strip())


def main() -> None:
    st.title("What do you want to know?")
    finder()
    st.divider()
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
    from_url = q.params and not todo and all(st.query_params.get(p.name) for p in q.params if p.required)
    if from_url or st.session_state.get("answered") == (q.name, tuple(sorted(params.items()))):
        st.query_params.update({k: str(v) for k, v in params.items() if v not in (None, "")})
        answer(q, params)


main()
