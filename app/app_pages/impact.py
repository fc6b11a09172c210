"""Impact analysis: from a data version, a library version, a commit or a
model version, the affected model versions and predictions, counts per
version and time window, and a filterable table to download as CSV."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from provex.app import state
from provex.app.plaintext import code, md
from provex.graph import nodes, questions, refs
from provex.vocab.errors import UsageError

KINDS = ("DataVersion", "Library", "CodeVersion", "ModelVersion")
PREDICTION_LIMIT = 20_000


def affected_versions(g: Any, node: dict[str, Any], window: str) -> tuple[pd.DataFrame, list[str]]:
    """(the catalog's answer for this kind of node, the affected model version uids)."""
    uid, label = node["uid"], node["label"]
    if label == "DataVersion":
        frame = questions.ask(g, "impact-of-data", {"data_version": uid, "window": window})
        return frame, sorted(set(frame["model_version"].dropna()))
    if label == "Library":
        props = nodes.properties(g, uid) or {}
        name = props.get("name") or uid.split(":", 1)[1].split("==")[0]
        version = props.get("version") or uid.split("==", 1)[-1]
        frame = questions.ask(g, "impact-of-library", {"library": name, "version": version})
        return frame, sorted(set(frame["model_version"].dropna()))
    if label == "CodeVersion":
        frame = questions.ask(g, "impact-of-commit", {"commit": uid})
        return frame, sorted(set(frame.loc[frame["kind"] == "ModelVersion", "ref"]))
    return pd.DataFrame({"model_version": [uid]}), [uid]


def predictions(g: Any, node: dict[str, Any], versions: list[str]) -> tuple[pd.DataFrame, bool]:
    """Affected predictions (for a data version: the catalog's, chained ones included)."""
    if node["label"] == "DataVersion":
        frame = questions.ask(g, "impacted-predictions", {"data_version": node["uid"]}, limit=PREDICTION_LIMIT)
        return frame, bool(frame.attrs.get("truncated"))
    rows, cut = nodes.predictions_of(g, versions, limit=PREDICTION_LIMIT)
    return pd.DataFrame(rows, columns=list(nodes.PREDICTION_COLUMNS)), cut


def per_window(frame: pd.DataFrame, window: str) -> pd.DataFrame:
    """Prediction counts per model version and day (or hour)."""
    if frame.empty:
        return pd.DataFrame(columns=["model_version", "window", "predictions"])
    width = 13 if window == "hour" else 10
    keyed = frame.assign(window=frame["timestamp"].astype(str).str.slice(0, width))
    return keyed.groupby(["model_version", "window"]).size().reset_index(name="predictions")


def filtered(frame: pd.DataFrame) -> pd.DataFrame:
    """The prediction table narrowed by model version, time range and free text."""
    cols = st.columns([3, 2, 2, 3])
    versions = cols[0].multiselect("Model versions", sorted(frame["model_version"].dropna().unique()), key="f_mv")
    since = cols[1].text_input("From (ISO time)", key="f_since", placeholder="2026-03-10")
    until = cols[2].text_input("Until (ISO time)", key="f_until", placeholder="2026-03-20")
    text = cols[3].text_input("Contains", key="f_text", placeholder="subject id, prediction id, ...")
    out = frame
    if versions:
        out = out[out["model_version"].isin(versions)]
    times = pd.to_datetime(out["timestamp"], utc=True, errors="coerce", format="ISO8601")
    for bound, keep in ((since, lambda t, b: t >= b), (until, lambda t, b: t < b)):
        if bound.strip():
            try:
                limit = pd.Timestamp(refs.normalize_time(bound, "time"))
            except UsageError as exc:
                st.error(md(exc))
                continue
            mask = keep(times, limit).fillna(False)
            out, times = out[mask], times[mask]
    if text.strip():
        hay = out.astype(str).apply(lambda row: " ".join(row), axis=1)
        out = out[hay.str.contains(text.strip(), case=False, regex=False)]
    return out


def main() -> None:
    st.title("Impact analysis")
    st.caption("From a bad data version, a buggy library version, a bad commit or a model version: "
               "which model versions and which predictions are affected.")
    ref = st.text_input("Starting point (REF)", key="ref", bind="query-params",
                        placeholder="data:<path>@<hash prefix>, library:scikit-learn==1.5.0, commit:<sha>, model:<name>@<v>")
    if not ref.strip():
        st.info("Give a data version, library, commit or model version (Search finds them).")
        return
    g = state.graph()
    try:
        node = refs.resolve(g, ref.strip(), labels=KINDS)
    except UsageError as exc:
        st.error(md(exc))
        with state.shown_errors():
            state.link_list([h["ref"] for h in state.find(g, ref, KINDS)], title="Did you mean")
        return
    window = st.radio("Time window", ["day", "hour"], key="window", bind="query-params", horizontal=True)
    with state.shown_errors():
        answer, versions = affected_versions(g, node, window)
        preds, cut = predictions(g, node, versions)
    st.subheader(f"Impact of {md(node['label'])} {code(node['uid'])}")
    cols = st.columns(3)
    cols[0].metric("Affected model versions", len(versions))
    cols[1].metric("Affected predictions", f"{len(preds):,}" + ("+" if cut else ""))
    cols[2].metric("Subjects", f"{preds['subject_id'].nunique():,}")
    if cut:
        st.warning(f"Stopped at {PREDICTION_LIMIT:,} predictions: the counts per window below are complete, "
                   "the table is partial.")
    st.markdown("**Affected model versions**")
    state.table(answer)
    state.link_list(versions, title="Open an affected model version")
    counts = answer if node["label"] == "DataVersion" else per_window(preds, window)
    st.markdown(f"**Predictions per model version and {window}**")
    st.dataframe(counts[["model_version", "window", "predictions"]], hide_index=True)
    if not counts.dropna(subset=["window"]).empty:
        st.bar_chart(counts.dropna(subset=["window"]), x="window", y="predictions", color="model_version")
    st.markdown("**Affected predictions**")
    shown = filtered(preds)
    st.caption(f"{len(shown):,} of {len(preds):,} predictions")
    st.dataframe(shown, hide_index=True)
    st.download_button("Download CSV", shown.to_csv(index=False), file_name="impacted-predictions.csv",
                       mime="text/csv", key="csv")


main()
