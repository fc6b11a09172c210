"""Explain a prediction (the ``explain`` question): the headline, its causes
ranked (kind, share of the difference, origin, reach, next action), what
limits the answer; Replay (with ``provex app --allow-run``) re-ranks them by
the replay's numbers; the decision record to download; the lineage picture
with the path to the first cause bold. The URL reproduces the page:
``/explain?prediction=prediction:cl-001528&against=prediction:cl-001370``."""

from __future__ import annotations

import streamlit as st

from provex.app import state
from provex.app.explain import view


def main() -> None:
    st.title("Why is this prediction what it is?")
    left, right = st.columns(2)
    with left:
        prediction = state.ref_picker("Prediction", "explain_p", kind="Prediction",
                                      default=st.query_params.get("prediction", ""))
    with right:
        against = state.ref_picker("Against (optional)", "explain_a", kind="Prediction",
                                   default=st.query_params.get("against", ""),
                                   help="Another prediction, to explain the difference from it (else: the last known good models).")
    if not prediction:
        st.info("Pick a prediction (e.g. from a household's history), and optionally another one to compare with.")
        return
    st.query_params.update({"prediction": prediction, **({"against": against} if against else {})})
    if not against:
        st.query_params.pop("against", None)
    explanation = view.show(prediction, against)
    if against:
        state.question_link("compare-predictions", {"a": against, "b": prediction}, label=f"Compare {against} with {prediction}")
    state.question_link("what-changed", {"prediction": prediction}, label=f"What changed for {prediction}")
    st.subheader("Lineage upstream of the prediction")
    state.upstream_picture(prediction, [c["subject"] for c in explanation["causes"] if c.get("subject")])


main()
