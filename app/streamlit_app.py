"""The provex Streamlit app: entry point and navigation.

Run it with ``provex app`` (or ``streamlit run app/streamlit_app.py``). It
reads the graph named by NEO4J_URI / NEO4J_USERNAME / NEO4J_PASSWORD, or the
managed local Neo4j. Every page is a thin module in ``app/app_pages/`` (not ``pages/``: a
``pages/`` folder beside the main script switches Streamlit to its legacy
folder-based navigation and ``st.navigation`` would be ignored).
"""

from __future__ import annotations

import os

import streamlit as st

from provex.app import footer
from provex.app.plaintext import md
from provex.graph.connection import Graph, Settings
from provex.vocab.errors import ProvexError

PAGES = {
    "Explore": [
        st.Page("app_pages/home.py", title="Ask a question", icon=":material/help:", default=True),
        st.Page("app_pages/search.py", title="Search", icon=":material/search:"),
        st.Page("app_pages/history.py", title="Subject history", icon=":material/timeline:"),
        st.Page("app_pages/compare.py", title="Compare predictions", icon=":material/balance:"),
        st.Page("app_pages/changed.py", title="What changed", icon=":material/difference:"),
        st.Page("app_pages/explain.py", title="Explain", icon=":material/psychology_alt:"),
        st.Page("app_pages/node.py", title="Node & lineage", icon=":material/hub:"),
    ],
    "Analyse": [
        st.Page("app_pages/impact.py", title="Impact", icon=":material/warning:"),
        st.Page("app_pages/diff.py", title="Diff model versions", icon=":material/compare_arrows:"),
        st.Page("app_pages/reproduce.py", title="Reproduce", icon=":material/replay:"),
    ],
    "Operate": [
        st.Page("app_pages/console.py", title="Cypher console", icon=":material/terminal:"),
        st.Page("app_pages/ingest_status.py", title="Ingest status", icon=":material/sync:"),
    ],
}


@st.cache_data(ttl=30, show_spinner=False)
def _footer(uri: str) -> str:
    """The footer line for the graph at ``uri`` (refreshed every 30 s)."""
    try:
        graph = Graph.connect(Settings.from_env())
        try:
            return footer.text(footer.facts(graph))
        finally:
            graph.close()
    except ProvexError as exc:
        return f"graph not reachable: {exc}"


page = st.navigation(PAGES)  # the toolbar's viewer mode: .streamlit/config.toml and `provex app`
st.set_page_config(page_title=f"{getattr(page, 'title', None) or 'provex'} · provex", page_icon=":material/account_tree:",
                   layout="wide")
page.run()
st.divider()
st.caption(md(_footer(os.environ.get("NEO4J_URI", "managed"))))  # a source path or URI from the graph: literal
