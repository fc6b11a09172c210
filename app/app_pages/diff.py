"""Diff: two model versions side by side — data, params, code, environment,
metrics — with the differences highlighted."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from provex.app import humanize, state
from provex.app.plaintext import md
from provex.graph import questions

HIGHLIGHT = "background-color: #ffe0b2"


def highlighted(frame: pd.DataFrame) -> object:
    """A Styler marking the rows that differ, numbers for people."""
    return humanize.styled(frame, lambda row: [HIGHLIGHT if row["differs"] else ""] * len(row))


def summary(frame: pd.DataFrame) -> str:
    """``3 differences: data 2, param 1`` (or that none were found)."""
    diff = frame[frame["differs"].astype(bool)]
    if diff.empty:
        return "No difference found upstream."
    per = diff.groupby("aspect").size()
    return f"{len(diff)} difference{'s' if len(diff) != 1 else ''}: " + ", ".join(f"{a} {n}" for a, n in per.items())


def main() -> None:
    st.title("Diff two model versions")
    a, b = state.ref_pair("Model version", "diff", "ModelVersion")
    if not (a and b):
        st.info("Pick two model versions (e.g. the last good one and the suspect one).")
        return
    with state.shown_errors():
        frame = questions.ask(state.graph(), "diff-model-versions", {"a": a, "b": b})
    frame = frame.rename(columns={"a": f"A: {a}", "b": f"B: {b}"})
    st.subheader(md(summary(frame)))
    only = st.checkbox("Only differences", value=False, key="only")
    shown = frame[frame["differs"].astype(bool)] if only else frame
    for aspect in shown["aspect"].drop_duplicates():
        part = shown[shown["aspect"] == aspect].drop(columns=["aspect"]).reset_index(drop=True)
        st.markdown(f"**{md(aspect)}**")
        st.dataframe(highlighted(part), hide_index=True)
    st.download_button("Download CSV", frame.to_csv(index=False), file_name="diff.csv", mime="text/csv")


main()
