"""Compare two predictions (the ``compare-predictions`` question): the
headline, then inputs with their relative change, outputs and their ratio,
overrides, chained predictions, model versions and what differs upstream of
them, data used by one side only first. The URL reproduces the page:
``/compare?a=prediction:cl-001370&b=prediction:cl-001528``."""

from __future__ import annotations

import streamlit as st

from provex.app import state
from provex.graph import questions

QUESTION = "compare-predictions"


def main() -> None:
    st.title("Compare two predictions")
    left, right = st.columns(2)
    with left:
        a = state.ref_picker("Prediction A", "cmp_a", kind="Prediction", default=st.query_params.get("a", ""))
    with right:
        b = state.ref_picker("Prediction B", "cmp_b", kind="Prediction", default=st.query_params.get("b", ""))
    if not (a and b):
        st.info("Pick two predictions (e.g. from a household's history).")
        return
    st.query_params.update({"a": a, "b": b})
    params = {"a": a, "b": b}
    with state.shown_errors():
        frame = questions.ask(state.graph(), QUESTION, params)
    st.success(frame.attrs["headline"])
    state.sections(frame)
    state.data_links(frame, "a", "b")
    st.download_button("Download CSV", frame.to_csv(index=False), file_name=f"{QUESTION}.csv", mime="text/csv")
    for uid in (a, b):
        state.question_link("what-changed", {"prediction": uid}, label=f"What changed for {uid}")
    state.question_link("prediction-provenance", {"prediction": b}, label=f"Where did {b} come from?")


main()
