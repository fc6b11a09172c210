"""Replay from the app: the Replay button of the prediction, compare and
what-changed pages. It calls the same functions as ``provex replay``
(:mod:`provex.app.reproduce.replay`, :mod:`provex.app.reproduce.attribution`)
and records the result the same way (a ``Replay`` node), then shows the
outcome, the logged and replayed outputs, what was fed from upstream
predictions and, against another prediction, the attribution table.

Replaying loads and runs a model, so the button is off unless the app was
started with ``provex app --allow-run`` (:mod:`provex.app.allow_run`); the
equivalent command is always shown.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from provex.app import allow_run, humanize, state
from provex.app.reproduce import attribution, record
from provex.app.reproduce import replay as replay_mod

GOOD = ("reproduced", "reproduced-within-tolerance")


def command(prediction: str, against: str | None = None, model: str | None = None) -> str:
    """The CLI command doing the same replay."""
    return (f"provex replay {prediction}" + (f" --against {against}" if against else "")
            + (f" --model {model}" if model else ""))


def step(prediction: str, *, against: str | None = None, model: str | None = None) -> None:
    """The Replay button (off without --allow-run), the command, and the last result of this replay."""
    through = f"through {model} instead" if model else "through the model that made it"
    st.markdown(f"**Replay it**: the same inputs {through}" + (
        ", then the model and each input swapped from the other prediction, one at a time" if against else ""))
    st.code(command(prediction, against, model), language="sh")
    key = f"replay:{prediction}|{against or ''}|{model or ''}"
    if st.button("Replay", key="replay", type="primary", disabled=not allow_run.allowed()):
        with st.spinner("Loading the model and replaying the logged inputs (runs the model's code) ..."), \
                state.shown_errors():
            st.session_state[key] = run(prediction, against=against, model=model)
    if not allow_run.allowed():
        st.caption(f"Replay: {allow_run.HINT}.")
    if key in st.session_state:
        show(st.session_state[key])


def run(prediction: str, *, against: str | None = None, model: str | None = None) -> dict[str, Any]:
    """Replay (and attribute against ``against``) as ``provex replay`` does, and record it."""
    graph = state.graph()
    models = replay_mod.Models()
    result = replay_mod.replay(graph, prediction, model=model, models=models)
    found = attribution.attribute(graph, prediction, against, models=models) if against else None
    done = result.as_dict()
    done["replay"] = record.record_replay(graph, done, found)
    return {"result": done, "summary": result.summary(), "attribution": found}


def show(done: dict[str, Any]) -> None:
    """The outcome, the outputs, what was fed from upstream, the attribution."""
    result = done["result"]
    (st.success if result["outcome"] in GOOD else st.error)(done["summary"])
    st.dataframe(humanize.styled(outputs(result)), hide_index=True)
    if result.get("fed"):
        st.markdown("**Fed from upstream predictions**")
        st.dataframe(humanize.styled(pd.DataFrame([{"input": k, **v} for k, v in result["fed"].items()])),
                     hide_index=True)
    found = done.get("attribution")
    if found:
        st.markdown("**Attribution**")
        (st.success if found["outcome"] == "attributed" else st.error)(found["headline"])
        if found["rows"]:
            st.dataframe(humanize.styled(pd.DataFrame(found["rows"])), hide_index=True)
        st.caption(found["caveat"])
    state.node_link(result["replay"], label=f"Recorded as {result['replay']}")


def outputs(result: dict[str, Any]) -> pd.DataFrame:
    """One row per replay (the prediction, its upstream chain, the logged model when another was used):
    model version, logged output, replayed output (as computed and as logged), outcome."""
    rows = [_row(result, "this prediction")]
    if result.get("with_logged_model"):
        other = result["with_logged_model"]
        rows.append({"replay": "same inputs, the model that made it", "model_version": other["model_version"],
                     "logged_output": result.get("logged_output"), "replayed_output": other.get("replayed_output"),
                     "replayed_as_logged": None, "outcome": other.get("outcome"), "note": other.get("reason") or None})
    rows += [_row(up, f"upstream {up['prediction']}") for up in result.get("upstream") or []]
    return pd.DataFrame(rows)


def _row(result: dict[str, Any], what: str) -> dict[str, Any]:
    return {"replay": what, "model_version": result.get("model_version"), "logged_output": result.get("logged_output"),
            "replayed_output": result.get("replayed_output"), "replayed_as_logged": result.get("replayed_as_logged"),
            "outcome": result.get("outcome"),
            "note": result.get("reason") or result.get("post_processing") or None}
