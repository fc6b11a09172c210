"""A data version's content profile on its node page: one row per column
(type, nulls, distinct, min/max/mean/std/median, top values) with a small
histogram per numeric column, and, compared with another version of the same
path, the shifted columns highlighted.

Pure functions build the tables from the node's ``profile`` property and the
``diff-data-versions`` rows; :func:`show` renders them last.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from provex.app.plaintext import code, md
from provex.graph.questions import ask
from provex.graph.questions import data as dq

BARS = "▁▂▃▄▅▆▇█"
STAT_COLUMNS = ("nulls", "null_rate", "distinct", "min", "max", "mean", "std", "median")
HIGHLIGHT = "background-color: #ffe08a"


def document(node: Mapping[str, Any]) -> dict[str, Any]:
    """The profile document stored on the node (empty when none or unreadable)."""
    raw = node.get("profile")
    try:
        doc = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def sparkline(counts: Sequence[int] | None) -> str:
    """Counts as a line of block characters, e.g. ``▁▃█▅``."""
    if not counts:
        return ""
    top = max(counts) or 1
    return "".join(BARS[min(len(BARS) - 1, int(c / top * (len(BARS) - 1) + 0.5))] for c in counts)


def summary(doc: Mapping[str, Any], status: str | None) -> str:
    """One line over the table: rows, columns, format, sampling or why there is none."""
    if not doc.get("columns"):
        kind = doc.get("kind") or "file"
        size = f", {doc['bytes']:,} bytes" if isinstance(doc.get("bytes"), int) else ""
        return f"No column profile ({status or 'not profiled'}: {kind}, type {doc.get('type') or '?'}{size})."
    rows = doc.get("rows")
    parts = [f"{rows:,} rows" if isinstance(rows, int) else "rows unknown", f"{len(doc['columns'])} columns",
             doc.get("format") or doc.get("source") or ""]
    if doc.get("sampled"):
        parts.append(f"statistics from the first {doc.get('sample_rows'):,} rows (distinct counts approximate)")
    return " · ".join(p for p in parts if p)


def column_table(doc: Mapping[str, Any], shifted: set[str] | None = None) -> pd.DataFrame:
    """One row per column; ``histogram`` holds the bin counts, ``shape`` a sparkline."""
    rows = []
    for col in doc.get("columns") or []:
        top = "; ".join(f"{v} ({n})" for v, n in col.get("top") or [])
        rows.append({"column": col.get("name"), "type": col.get("type"),
                     **{k: col.get(k) for k in STAT_COLUMNS}, "histogram": col.get("hist") or [],
                     "shape": sparkline(col.get("hist")), "top": top or None,
                     "shifted": col.get("name") in (shifted or set())})
    return pd.DataFrame(rows, columns=["column", "type", *STAT_COLUMNS, "histogram", "shape", "top", "shifted"])


def shifts(diff_rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Columns that a ``diff-data-versions`` answer marks as changed."""
    return {r["column"] for r in diff_rows if r.get("change") not in (None, "same") and r.get("column") != "(table)"}


def changes(diff_rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The shifted statistics only, for the table under the profile."""
    frame = pd.DataFrame(list(diff_rows))
    return frame[frame["shifted"].astype(bool)] if not frame.empty else frame


def styled(table: pd.DataFrame) -> Any:
    """The column table with shifted columns highlighted."""
    return table.style.apply(lambda row: [HIGHLIGHT if row["shifted"] else "" for _ in row], axis=1)


def show(graph: Any, node: Mapping[str, Any]) -> None:
    """The profile section of a data version's page (nothing for other nodes)."""
    import streamlit as st

    doc = document(node)
    if not doc and not node.get("profile_status"):
        return
    st.markdown("**Content profile**")
    st.caption(md(summary(doc, node.get("profile_status"))))
    if node.get("profile_reason"):
        st.warning(md(f"Not profiled: {node['profile_reason']}"))
    if not doc.get("columns"):
        return
    others = dq.sibling_versions(graph, str(node["uid"]))
    other = st.selectbox("Compare with", [None, *others], index=1 if others else 0, key="profile_other",
                         format_func=lambda u: "(no comparison)" if u is None else u,
                         help="another version of the same path; the previous one by default")
    diff = ask(graph, "diff-data-versions", {"a": other, "b": node["uid"]}).to_dict("records") if other else []
    table = column_table(doc, shifts(diff))
    st.dataframe(styled(table), hide_index=True, column_config={
        "histogram": st.column_config.BarChartColumn("histogram", help="value counts in equal-width bins"),
        "shifted": st.column_config.CheckboxColumn("shifted", help="changed against the compared version")})
    if diff:
        st.markdown(f"**Against {code(other)}:** {md(dq.diff_data_versions_headline(diff, {}))}")
        st.dataframe(changes(diff), hide_index=True)
