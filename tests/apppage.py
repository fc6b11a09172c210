"""Helpers for the Streamlit app tests: open a page through Streamlit's
AppTest and read what it shows (text, tables, iframes, page links)."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.testing.v1 import AppTest

from provex.app.plaintext import ZWSP

APP = Path(__file__).resolve().parent.parent / "app" / "streamlit_app.py"
_ESCAPED = re.compile("\\\\([" + re.escape(string.punctuation) + "])")


def open_page(page: str, *, timeout: float = 90, **query: str) -> AppTest:
    """Run the app, switch to ``app_pages/<page>.py`` with the given URL query, run it.
    Streamlit's data cache is process-wide (the footer keeps its counts 30 s):
    cleared first, so a page shows this test's graph, not an earlier test's."""
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    if page != "home":  # the default page; others are reached after the first run registers them
        at.run()
        at.switch_page(f"app_pages/{page}.py")
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def shown(markdown: Any) -> str:
    """A Markdown element's text as a person reads it: without the escapes
    :mod:`provex.app.plaintext` puts before punctuation and the zero-width
    spaces that stop autolinks (the Markdown of the page's own text, ``**``
    and backticks, stays)."""
    return _ESCAPED.sub(r"\1", str(markdown)).replace(ZWSP, "")


def texts(at: AppTest) -> str:
    """Every piece of text the page shows, tables included."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [shown(e.value) for e in getattr(at, kind)]
    parts += [str(e.value) for e in at.code]
    parts += [frame.value.to_string() for frame in at.dataframe]
    parts += [str(m.value) for m in at.metric]
    return "\n".join(parts)


def frames(at: AppTest) -> list[pd.DataFrame]:
    return [f.value for f in at.dataframe]


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page with ``column``."""
    found = [f for f in frames(at) if column in f.columns]
    assert found, f"no table with column {column!r}: {[list(f.columns) for f in frames(at)]}"
    return found[0]


def iframes(at: AppTest) -> list[str]:
    """The HTML of every st.iframe on the page."""
    return [e.proto.srcdoc for e in at.get("iframe")]


def links(at: AppTest) -> list[dict[str, Any]]:
    return [{"label": shown(e.proto.label), "page": e.proto.page} for e in at.get("page_link")]
