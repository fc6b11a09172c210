"""Search: find any node by id, name, path or hash prefix; each hit links to its node page."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from provex.app import state
from provex.app.plaintext import md
from provex.vocab.model import KINDS

st.title("Search")
st.caption("Find any node by what you know: a prediction, customer or household id, a name, a path, a commit "
           "message or a hash prefix (e.g. `cl-000123`, `h-0017`, `credit-limit@5`, "
           "`transactions.csv`, a few characters of a content hash).")
text = st.text_input("Search", key="q", bind="query-params", placeholder="id, name, path or hash prefix")
kinds = st.multiselect("Only these kinds", list(KINDS), key="kinds")
limit = st.number_input("At most", min_value=1, max_value=500, value=50, step=10)

if text.strip():
    with state.shown_errors():
        hits = state.find(state.graph(), text, kinds, limit=int(limit))
    if not hits:
        st.warning(md(f"Nothing matches {text!r}. Try fewer characters or another field (a path, a hash prefix)."))
    else:
        st.subheader(f"{len(hits)} match{'es' if len(hits) != 1 else ''}")
        st.dataframe(pd.DataFrame(hits, columns=["ref", "label", "name", "detail", "where", "match", "score"]), hide_index=True)
        state.link_list([h["ref"] for h in hits], title="Open a node page")
