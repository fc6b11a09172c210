"""What every page of the Streamlit app shares: the cached Neo4j connection
(read from NEO4J_URI / NEO4J_USERNAME / NEO4J_PASSWORD, or the managed
server), the search-as-you-type node picker, links to node pages, and the
lineage drawing with its notes about what was left out. Text from the graph
reaches Markdown elements only through :mod:`provex.app.plaintext`."""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from provex.app import graphview
from provex.app.plaintext import code, md
from provex.graph import questions as questions_mod
from provex.graph import search as search_mod
from provex.graph.connection import Graph, Settings
from provex.vocab import model
from provex.vocab.errors import ProvexError

NODE_PAGE = "app_pages/node.py"
HOME_PAGE = "app_pages/home.py"
HISTORY_PAGE = "app_pages/history.py"
COMPARE_PAGE = "app_pages/compare.py"
CHANGED_PAGE = "app_pages/changed.py"
MAX_LINKS = 25
HIGHLIGHT = "background-color: #ffe0b2"
#: Questions with a page of their own: question -> (page, how its params map to the page's URL).
QUESTION_PAGES = {"subject-history": HISTORY_PAGE, "compare-predictions": COMPARE_PAGE, "what-changed": CHANGED_PAGE}


@st.cache_resource(show_spinner="Connecting to Neo4j…")
def _connect(uri: str, username: str, database: str) -> Graph:
    """One driver per server for the whole app (the key leaves out the password)."""
    return Graph.connect(Settings.from_env())


def graph() -> Graph:
    """The connected graph; on failure, the reason on the page and the page stops."""
    try:
        settings = Settings.from_env()
        return _connect(settings.uri, settings.username, settings.database)
    except ProvexError as exc:
        st.error(md(f"Cannot use the graph: {exc}"))
        st.stop()
        raise  # unreachable: st.stop() ends the run


@contextlib.contextmanager
def shown_errors() -> Iterator[None]:
    """Provex errors (bad ref, refused query, timeout) as a red message, never a traceback."""
    try:
        yield
    except ProvexError as exc:
        st.error(md(exc))
        st.stop()


def labels_of(kind: str | Sequence[str] | None) -> tuple[str, ...]:
    """Normalise a kind filter to a tuple of labels."""
    if not kind:
        return ()
    return (kind,) if isinstance(kind, str) else tuple(kind)


def find(g: Graph, text: str, kinds: Sequence[str] = (), limit: int = 30) -> list[dict[str, Any]]:
    """Search hits, keeping only the given node kinds (all when empty)."""
    if not text.strip():
        return []
    hits = search_mod.search(g, text, limit=limit * 3 if kinds else limit)
    return [h for h in hits if not kinds or h["label"] in kinds][:limit]


def hit_text(hit: dict[str, Any]) -> str:
    """How a search hit reads in a selectbox."""
    name = f" — {hit['name']}" if hit.get("name") and hit["name"] not in hit["ref"] else ""
    return f"{hit['ref']}  ({hit['label']}){name}"


def ref_picker(label: str, key: str, kind: str | Sequence[str] | None = None, default: str = "",
               help: str | None = None) -> str | None:
    """Search as you type: a text box, then a choice among the matching nodes
    of the wanted kind. Returns the chosen uid (or None)."""
    kinds = labels_of(kind)
    hint = f" ({', '.join(kinds)})" if kinds else ""
    text = st.text_input(f"{label}{hint}", value=default or "", key=f"{key}_text", help=help,
                         placeholder="id, name, path or hash prefix")
    if not text.strip():
        return None
    with shown_errors():
        hits = find(graph(), text, kinds)
    if not hits:
        st.warning(md(f"No {' or '.join(kinds) or 'node'} matches {text!r}."))
        return None
    chosen = st.selectbox(md(f"Matches for {text!r}"), hits, format_func=hit_text, key=f"{key}_pick")
    return chosen["ref"] if chosen else None


def node_link(uid: str, label: str | None = None, **query: str) -> None:
    """A link to the node page of ``uid`` (a shareable URL)."""
    st.page_link(NODE_PAGE, label=md(label or uid), icon=":material/hub:", query_params={"ref": uid, **query})


def is_ref(value: Any) -> bool:
    """Whether a table cell is a node uid (``prefix:key`` with a known prefix)."""
    if not isinstance(value, str) or ":" not in value:
        return False
    return bool(model.label_of_prefix(value.split(":", 1)[0]))


def refs_in(frame: pd.DataFrame, limit: int = MAX_LINKS) -> list[str]:
    """Distinct node uids found in a result table, in order of appearance."""
    seen: dict[str, None] = {}
    for row in frame.itertuples(index=False):
        for value in row:
            if is_ref(value):
                seen.setdefault(value, None)
    return list(seen)[:limit]


def link_list(uids: Sequence[str], title: str = "Open a node") -> None:
    """Links to node pages, in an expander when there are many."""
    if not uids:
        return
    box = st.expander(md(f"{title} ({len(uids)})"), expanded=len(uids) <= 6)
    with box:
        for uid in uids:
            node_link(uid)


def draw(nodes: Sequence[dict[str, Any]], edges: Sequence[dict[str, Any]], *, root: str | None = None,
         notes: Sequence[str] = (), truncated: bool = False, collapse_over: int | None = graphview.DEFAULT_COLLAPSE,
         node_cap: int = graphview.DEFAULT_NODE_CAP, height: int = 560,
         layout: str = "hierarchical") -> graphview.View:
    """Draw a graph (pyvis, inlined JavaScript; left-to-right lineage by
    default, ``layout="physics"`` for the force-directed one) and say what
    was left out."""
    view = graphview.build(nodes, edges, root=root, collapse_over=collapse_over, node_cap=node_cap, notes=notes)
    if truncated or view.dropped:
        st.warning(md("Partial graph: " + "; ".join(view.notes or ["limits reached"])))
    elif view.notes:
        st.info(md("; ".join(view.notes)))
    if not view.nodes:
        st.info("Nothing to draw.")
        return view
    st.caption(md(legend_text(view.legend)))
    st.iframe(graphview.render(view.nodes, view.edges, height=height, legend_entries=view.legend, layout=layout),
              height=height + 40, alt="lineage graph")
    return view


def draw_subgraph(sub: Any, **kwargs: Any) -> graphview.View:
    """Draw a :class:`graph.lineage.Subgraph`."""
    return draw(sub.nodes, sub.edges, root=sub.root, notes=sub.notes, truncated=sub.truncated, **kwargs)


def table(frame: pd.DataFrame, **kwargs: Any) -> None:
    """st.dataframe, with mixed-type columns (numbers and text in one) shown as text."""
    shown = frame.copy()
    for col in shown.columns:
        if shown[col].dtype == object and shown[col].dropna().map(type).nunique() > 1:
            shown[col] = shown[col].map(lambda v: None if v is None else str(v))
    st.dataframe(shown, hide_index=True, **kwargs)


def legend_text(entries: Sequence[dict[str, Any]]) -> str:
    """The legend as one line of text: ``Prediction 30 (dot, #756bb1) · ...``."""
    return "Legend: " + " · ".join(f"{e['kind']} ×{e['count']:,} ({e['shape']}, {e['color']})" for e in entries)


def question_link(name: str, params: dict[str, Any], label: str | None = None) -> None:
    """A link to a question's answer (its own page when it has one, else the
    home page with ``?question=``), the parameters in the URL."""
    q = questions_mod.get(name)
    text = label or f"{q.title}"
    query = {k: str(v) for k, v in params.items() if v not in (None, "")}
    if name in QUESTION_PAGES:
        st.page_link(QUESTION_PAGES[name], label=md(text), icon=":material/arrow_forward:", query_params=query)
    else:
        st.page_link(HOME_PAGE, label=md(text), icon=":material/arrow_forward:", query_params={"question": name, **query})


def next_params(current: Any, params: dict[str, Any], nxt: Any) -> dict[str, Any] | None:
    """Parameters for the next question from this answer's: same names, or a
    REF of the same kind (``b`` of a comparison is the ``prediction`` of
    what-changed). None when a required one is missing."""
    out: dict[str, Any] = {}
    refs = {p.label: params.get(p.name) for p in current.params if p.type == "ref" and params.get(p.name)}
    for p in nxt.params:
        value = params.get(p.name) or (refs.get(p.label) if p.type == "ref" else None)
        if value in (None, "") and p.required:
            return None
        if value not in (None, ""):
            out[p.name] = value
    return out


def next_links(q: Any, params: dict[str, Any]) -> None:
    """Links to the questions that naturally follow this one."""
    shown = [(n, next_params(q, params, questions_mod.get(n))) for n in q.next]
    shown = [(n, p) for n, p in shown if p is not None]
    if shown:
        st.markdown("**Next questions**")
        for name, p in shown:
            question_link(name, p)


def replay_step(prediction: str, *, against: str | None = None, model: str | None = None) -> None:
    """The replay as the next step: the command that loads the exact model
    version and re-runs the logged inputs (run on purpose: it executes a model)."""
    command = f"provex replay {shlex.quote(prediction)}" + (f" --against {shlex.quote(against)}" if against else "") + (
        f" --model {shlex.quote(model)}" if model else "")  # a command to copy: every ref one shell word
    through = f"through {code(model)} instead" if model else "through the model that made it"
    st.markdown(f"**Replay it**: the same inputs {through}" + (
        ", then the model and each input swapped from the other prediction, one at a time" if against else ""))
    st.code(command, language="sh")


def show_answer(frame: pd.DataFrame, q: Any, params: dict[str, Any], *, download: bool = True) -> None:
    """The headline above the table, then the table and the next questions."""
    st.success(md(frame.attrs.get("headline") or f"{len(frame):,} rows."))
    if frame.attrs.get("truncated"):
        st.warning("The row limit cut this answer: partial.")
    table(frame)
    if download:
        st.download_button("Download CSV", frame.to_csv(index=False), file_name=f"{q.name}.csv", mime="text/csv",
                           key=f"csv-{q.name}")
    next_links(q, params)


def sections(frame: pd.DataFrame) -> None:
    """One table per aspect, the rows that differ highlighted."""
    for aspect in frame["aspect"].drop_duplicates():
        part = frame[frame["aspect"] == aspect].drop(columns=["aspect"]).reset_index(drop=True)
        st.markdown(f"**{md(aspect)}**")
        shown = part.astype(object).where(part.notna(), None)
        for col in ("a", "b", "before", "after"):
            if col in shown:
                shown[col] = shown[col].map(lambda v: None if v is None else str(v))
        if "differs" in shown:
            st.dataframe(shown.style.apply(lambda r: [HIGHLIGHT if r["differs"] else ""] * len(r), axis=1),
                         hide_index=True)
        else:
            st.dataframe(shown, hide_index=True)


def data_links(frame: pd.DataFrame, a: str, b: str) -> None:
    """Node pages of the data versions only one side used (the likely cause)."""
    one_side = frame[frame["aspect"].str.startswith("data (") & (frame[a].isna() | frame[b].isna())]
    uids = []
    for row in one_side.itertuples(index=False):
        path = str(row.key).rsplit(" (", 1)[0]
        digest = getattr(row, a) if pd.notna(getattr(row, a)) else getattr(row, b)
        if "(md5)" in str(row.key):
            uids.append(f"data:{path}@{digest}")
    link_list(list(dict.fromkeys(uids)), title="Data only one side used")


def ref_pair(label: str, key: str, kind: str) -> tuple[str | None, str | None]:
    """Two pickers side by side (``a`` and ``b``, defaults from the URL)."""
    left, right = st.columns(2)
    with left:
        a = ref_picker(f"{label} A", f"{key}_a", kind=kind, default=st.query_params.get("a", ""))
    with right:
        b = ref_picker(f"{label} B", f"{key}_b", kind=kind, default=st.query_params.get("b", ""))
    return a, b


def comparison(name: str, params: dict[str, Any], before: str, after: str) -> pd.DataFrame:
    """A comparison question's answer: headline, one table per aspect, links
    to the data only one side used, CSV download."""
    st.query_params.update(params)
    with shown_errors():
        frame = questions_mod.ask(graph(), name, params)
    st.success(md(frame.attrs["headline"]))
    sections(frame)
    data_links(frame, before, after)
    st.download_button("Download CSV", frame.to_csv(index=False), file_name=f"{name}.csv", mime="text/csv")
    return frame


def url_text(label: str, key: str, placeholder: str, empty_hint: str) -> str | None:
    """A text box bound to the URL (``?key=``); None, with a hint, while empty."""
    text = st.text_input(label, key=key, bind="query-params", placeholder=placeholder).strip()
    if not text:
        st.info(empty_hint)
        return None
    return text
