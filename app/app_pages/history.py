"""Subject history: every prediction about a customer or a household over
time (the ``subject-history`` question), drawn as a timeline of outputs
coloured by model version; pick two predictions to compare them, or one to
see what changed in its model. The URL reproduces the page:
``/history?subject=h-0107``."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from provex.app import state
from provex.app.plaintext import md
from provex.graph import questions

QUESTION = "subject-history"


def timeline(frame: pd.DataFrame) -> None:
    """Output over time, one chart per model, coloured by model version."""
    numeric = frame[pd.to_numeric(frame["output"], errors="coerce").notna()].copy()
    if numeric.empty:
        return
    numeric["time"] = pd.to_datetime(numeric["timestamp"], utc=True, errors="coerce")
    numeric["output"] = numeric["output"].astype(float)
    numeric["model_version"] = numeric["model_version"].fillna("unresolved")
    models = sorted(numeric["model"].dropna().unique())
    for col, model in zip(st.columns(max(1, len(models))), models, strict=False):
        with col:
            st.markdown(f"**{md(model)}**: output over time")
            st.scatter_chart(numeric[numeric["model"] == model], x="time", y="output", color="model_version",
                             height=260)


def option_text(row: dict) -> str:
    return (f"{row['prediction'].split(':', 1)[-1]} · {row['subject_id']} · {row['model_version'] or '?'} · "
            f"output {row['output']} · {row['timestamp']}")


def pick(frame: pd.DataFrame) -> None:
    """Choose predictions: two -> compare; one -> what changed."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    by_uid = {r["prediction"]: r for r in rows}
    st.markdown("**Pick two predictions to compare them, or one to see what changed in its model**")
    chosen = st.multiselect("Predictions", list(by_uid), key="picked", max_selections=2,
                            format_func=lambda uid: option_text(by_uid[uid]))
    if len(chosen) == 2:
        a, b = sorted(chosen, key=lambda uid: str(by_uid[uid]["timestamp"]))
        state.question_link("compare-predictions", {"a": a, "b": b}, label=f"Compare {a} with {b}")
    for uid in chosen:
        state.question_link("what-changed", {"prediction": uid}, label=f"What changed for {uid}")
        state.node_link(uid, label=f"Lineage of {uid}")


def main() -> None:
    st.title("Subject history")
    subject = state.url_text("Customer or household id", "subject",
                             "a subject_id or household_id from the prediction logs",
                             "Type a customer or household id, or find one on the home page.")
    if not subject:
        return
    q = questions.get(QUESTION)
    params = {"subject": subject}
    with state.shown_errors():
        frame = questions.ask(state.graph(), QUESTION, params)
    st.success(md(frame.attrs["headline"]))
    if frame.empty:
        return
    timeline(frame)
    pick(frame)
    state.table(frame)
    st.download_button("Download CSV", frame.to_csv(index=False), file_name=f"{QUESTION}.csv", mime="text/csv")
    state.next_links(q, params)


main()
