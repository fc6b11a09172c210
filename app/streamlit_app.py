"""The provex Streamlit app: entry point and navigation.

Run it with ``provex app`` (or ``streamlit run app/streamlit_app.py``). It
reads the graph named by NEO4J_URI / NEO4J_USERNAME / NEO4J_PASSWORD, or the
managed local Neo4j. Every page is a thin module in ``app/app_pages/`` (not ``pages/``: a
``pages/`` folder beside the main script switches Streamlit to its legacy
folder-based navigation and ``st.navigation`` would be ignored).
"""

from __future__ import annotations

import streamlit as st

PAGES = {
    "Explore": [
        st.Page("app_pages/home.py", title="Ask a question", icon=":material/help:", default=True),
        st.Page("app_pages/search.py", title="Search", icon=":material/search:"),
        st.Page("app_pages/history.py", title="Subject history", icon=":material/timeline:"),
        st.Page("app_pages/compare.py", title="Compare predictions", icon=":material/balance:"),
        st.Page("app_pages/changed.py", title="What changed", icon=":material/difference:"),
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

st.set_page_config(page_title="provex", page_icon=":material/account_tree:", layout="wide")
st.navigation(PAGES).run()
