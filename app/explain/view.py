"""The explain page's parts (the page itself stays thin): the headline, the
ranked causes with their evidence, origin, reach and next action, what limits
the answer, the Replay button (off unless the app runs with ``--allow-run``:
it loads and runs the models) whose numbers re-rank the causes, the decision
record as a download, and the lineage picture with the path to the first
cause bold."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import streamlit as st

from provex.app import allow_run, humanize, state
from provex.app.explain import causes_table, decision
from provex.graph import explain as explain_mod
from provex.graph.explain.causes import origin_text

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def md(text: object) -> str:
    """Ingested text shown as itself in Markdown (every Markdown character escaped)."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def command(prediction: str, against: str | None) -> str:
    return f"provex explain {prediction}" + (f" --against {against}" if against else "")


def show(prediction: str, against: str | None) -> dict[str, Any]:
    """The whole answer for ``prediction`` (against ``against``); returns the explanation."""
    graph = state.graph()
    with state.shown_errors():
        found = explain_mod.gather(graph, prediction, against)
    key = f"explain-replay:{prediction}|{against or ''}"
    explanation = explain_mod.build(found, st.session_state.get(key))
    st.success(explanation["headline"])
    causes(explanation)
    limits(explanation)
    replay_step(graph, found, key, prediction, against)
    record_download(graph, explanation)
    return explanation


def causes(explanation: dict[str, Any]) -> None:
    rows = causes_table(explanation)
    if not rows:
        st.info("No cause found: nothing recorded differs upstream, in the inputs or the overrides.")
        return
    st.markdown("**Causes, most likely first**")
    st.dataframe(humanize.styled(pd.DataFrame(rows)), hide_index=True)
    for cause in explanation["causes"]:
        with st.expander(f"{cause['rank']}. {cause['kind']}: evidence, origin, reach"):
            st.markdown(f"**Cause**: {md(cause['statement'])}")
            st.markdown(f"**Origin**: {md(origin_text(cause['origin']) or '—')}")
            reach = cause.get("reach") or {}
            if reach.get("predictions") is not None:
                st.markdown(f"**Reach**: {reach['predictions']:,} predictions {md(reach.get('what', ''))}")
            st.markdown(f"**Next action**: {md(cause['action'])}")
            st.json(cause["evidence"], expanded=False)
            if cause.get("subject") and state.is_ref(cause["subject"]):
                state.node_link(cause["subject"], label=f"Open {cause['subject']}")


def limits(explanation: dict[str, Any]) -> None:
    notes = explanation["limits"] + explanation["context"]
    if notes:
        st.caption("What limits this answer: " + " ".join(notes))


def replay_step(graph: Any, found: dict[str, Any], key: str, prediction: str, against: str | None) -> None:
    """The Replay button: the replay's numbers (share of the gap) re-rank the causes."""
    st.markdown("**Replay it**: run the models on the logged inputs" + (
        ", swapping the model and each input from the other prediction, one at a time" if against
        else ", and through the last known good version of each model that changed"))
    st.code(command(prediction, against) + " --allow-run", language="sh")
    if st.button("Replay", key="explain-replay", type="primary", disabled=not allow_run.allowed()):
        from provex.app.explain.evidence import replay_evidence

        with st.spinner("Loading the models and replaying the logged inputs (runs the models' code) ..."), \
                state.shown_errors():
            st.session_state[key] = replay_evidence(graph, found)
        st.rerun()
    if not allow_run.allowed():
        st.caption(f"Replay: {allow_run.HINT}.")
    replay = st.session_state.get(key)
    if replay:
        logged = replay["logged"]
        (st.success if logged["outcome"] in ("reproduced", "reproduced-within-tolerance") else st.error)(logged["summary"])
        found_rows = (replay.get("attribution") or {}).get("rows") or replay.get("swaps")
        if found_rows:
            st.dataframe(humanize.styled(pd.DataFrame(found_rows)), hide_index=True)
        if replay.get("replay"):
            state.node_link(replay["replay"], label=f"Recorded as {replay['replay']}")


def record_download(graph: Any, explanation: dict[str, Any]) -> None:
    """The decision record, written when the button is pressed."""
    st.download_button("Download the decision record (HTML)",
                       data=lambda: decision.render(explanation, decision.gather(graph, explanation)),
                       file_name=f"decision-{explanation['prediction']['id']}.html", mime="text/html",
                       key="decision-record", icon=":material/download:")
