"""Reproduce: the recipe of a model version as a shell script that runs as it
is (the same as `provex reproduce REF --format sh`), its past verifications,
and "Verify now", which works only when the app was started with
`provex app --allow-run` (it runs the project's code; --allow-verify is its old name).
Verifying loads the rebuilt and the locked model to say whether only their
bytes differ or the models do."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from provex.app import allow_run, state
from provex.app.plaintext import code, md
from provex.app.reproduce import recipe as recipe_mod
from provex.app.reproduce import record, verify
from provex.graph import recipes


def missing_steps(rows: list[dict[str, Any]]) -> list[str]:
    """Kinds of step a complete recipe has and this one lacks."""
    kinds = {r["kind"] for r in rows}
    return [k for k in ("code", "data", "train") if k not in kinds]


def past_table(past: list[dict[str, Any]]) -> pd.DataFrame:
    columns = ["started_at", "outcome", "commit", "stage", "differing", "reason", "provex_version", "reproduction"]
    return pd.DataFrame(past, columns=columns)


def _verify_now(target: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    with st.spinner("Rebuilding in a temporary worktree (runs the project's code) ..."):
        report = verify.verify(target, rows)
        record.record_reproduction(state.graph(), target, report)
    show = st.success if report["outcome"].startswith("reproduced") else st.error
    show(md(f"{report['outcome']}: {report.get('reason', '')}"))
    if report.get("models"):
        st.dataframe(pd.DataFrame([{k: m.get(k) for k in ("path", "verdict", "detail", "sample")}
                                   for m in report["models"]]), hide_index=True)
    if report["outputs"]:
        st.dataframe(pd.DataFrame(report["outputs"]), hide_index=True)


def main() -> None:
    st.title("Reproduce a model version")
    mv = state.ref_picker("Model version", "repro", kind="ModelVersion", default=st.query_params.get("ref", ""))
    if not mv:
        st.info("Pick a model version.")
        return
    with state.shown_errors():
        target = recipes.target(state.graph(), mv)
        rows = recipes.recipe(state.graph(), target)
        past = recipes.reproductions(state.graph(), mv)
    st.subheader(f"Recipe for {code(mv)}")
    if missing_steps(rows):
        st.warning(f"Incomplete recipe: no {', '.join(missing_steps(rows))} step recorded.")
    text = recipe_mod.script(target, rows, recipe_mod.project_root(target["run"]))
    st.code(text, language="bash")
    st.download_button("Download as reproduce.sh", text, file_name="reproduce.sh", mime="text/x-sh")
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.subheader("Verifications")
    if past:
        st.dataframe(past_table(past), hide_index=True)
    else:
        st.info("Never verified: nobody has rebuilt this version and compared its hashes yet.")
    if st.button("Verify now", disabled=not allow_run.allowed(), key="verify"):
        _verify_now(target, rows)
    if not allow_run.allowed():
        st.caption(f"Verify now: {allow_run.HINT}.")


main()
