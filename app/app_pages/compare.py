"""Compare two predictions (the ``compare-predictions`` question): the
headline, then inputs with their relative change, outputs and their ratio,
overrides, chained predictions, model versions and what differs upstream of
them, data used by one side only first; Replay (with ``provex app
--allow-run``) re-runs B and attributes the gap to A. The URL reproduces the page:
``/compare?a=prediction:cl-001370&b=prediction:cl-001528``."""

from __future__ import annotations

import streamlit as st

from provex.app import replay_view, state

QUESTION = "compare-predictions"


def main() -> None:
    st.title("Compare two predictions")
    a, b = state.ref_pair("Prediction", "cmp", "Prediction")
    if not (a and b):
        st.info("Pick two predictions (e.g. from a household's history).")
        return
    state.comparison(QUESTION, {"a": a, "b": b}, "a", "b")
    for uid in (a, b):
        state.question_link("what-changed", {"prediction": uid}, label=f"What changed for {uid}")
    state.question_link("explain", {"prediction": b, "against": a}, label=f"Explain {b} against {a}")
    state.question_link("prediction-provenance", {"prediction": b}, label=f"Where did {b} come from?")
    replay_view.step(b, against=a)


main()
