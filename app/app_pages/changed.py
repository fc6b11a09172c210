"""What changed (the ``what-changed`` question): the model version that made
a prediction against the last known good one, data used by one side only
first, with the commit that added it; then its upstream lineage, the path to
the data only the new version used drawn bold (an anomalous version first),
flagged nodes marked. The URL reproduces the page:
``/changed?prediction=prediction:cl-001528``."""

from __future__ import annotations

import streamlit as st

from provex.app import replay_view, state
from provex.graph import questions

QUESTION = "what-changed"


def main() -> None:
    st.title("What changed in the model behind a prediction?")
    ref = state.ref_picker("Prediction", "changed", kind="Prediction", default=st.query_params.get("prediction", ""))
    if not ref:
        st.info("Pick a prediction (e.g. from a household's history).")
        return
    params = {"prediction": ref}
    frame = state.comparison(QUESTION, params, "before", "after")
    state.question_link("explain", {"prediction": ref}, label=f"Explain {ref}")
    state.next_links(questions.get(QUESTION), params)
    versions = frame[frame["aspect"] == "model version"]
    pair = [v for v in versions[["before", "after"]].iloc[0].tolist() if v] if not versions.empty else []
    for uid in pair:
        state.node_link(uid, label=f"Lineage of {uid}")
    replay_view.step(ref, model=pair[0] if len(pair) == 2 else None)
    st.subheader("Lineage upstream of the prediction")
    state.upstream_picture(ref, state.one_side_data(frame, "before", "after"))


main()
