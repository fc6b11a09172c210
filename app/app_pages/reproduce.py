"""Reproduce: the recipe for a model version as copyable commands — code
commit, libraries, data with locked hashes, stages, params, expected metrics."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from provex.app import state
from provex.graph import questions

RUNNABLE = ("code", "library", "data", "stage")
TITLES = {"code": "Check out the code", "library": "Install the libraries", "data": "Fetch the data (locked hashes)",
          "stage": "Re-run the pipeline stages", "param": "Training parameters", "train": "Train",
          "check": "Expect these metrics"}


def script(frame: pd.DataFrame) -> str:
    """The recipe as one shell script: commands for what can be run, comments for the rest.
    A command is written once (the same stage can be recorded by runs at several commits)."""
    lines: list[str] = []
    for kind, rows in frame.groupby("kind", sort=False):
        lines.append(f"# {TITLES.get(kind, kind)}")
        for command in dict.fromkeys(rows["command"]):
            lines.append(command if kind in RUNNABLE else f"#   {command}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    st.title("Reproduce a model version")
    mv = state.ref_picker("Model version", "repro", kind="ModelVersion", default=st.query_params.get("ref", ""))
    if not mv:
        st.info("Pick a model version.")
        return
    with state.shown_errors():
        frame = questions.ask(state.graph(), "reproduce-model", {"model_version": mv})
    st.subheader(f"Recipe for `{mv}`")
    if frame.empty:
        st.warning("Nothing recorded for this version: see the lineage-gaps question for what is missing.")
        return
    missing = [k for k in ("code", "data", "train") if k not in set(frame["kind"])]
    if missing:
        st.warning(f"Incomplete recipe: no {', '.join(missing)} step recorded.")
    text = script(frame)
    st.code(text, language="bash")
    st.download_button("Download as reproduce.sh", text, file_name="reproduce.sh", mime="text/x-sh")
    st.dataframe(frame, hide_index=True)


main()
