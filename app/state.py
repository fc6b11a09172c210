"""What every page of the Streamlit app shares: the cached Neo4j connection
(read from NEO4J_URI / NEO4J_USERNAME / NEO4J_PASSWORD, or the managed
server), the search-as-you-type node picker, links to node pages, and the
lineage drawing with its notes about what was left out. Text from the graph
reaches Markdown elements only through :mod:`provex.app.plaintext`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from provex.app import graphdraw, graphview, humanize
from provex.app.plaintext import md
from provex.graph import flags as flags_mod
from provex.graph import lineage as lineage_mod
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
EXPLAIN_PAGE = "app_pages/explain.py"
MAX_LINKS = 25
HIGHLIGHT = "background-color: #ffe0b2"
#: Questions with a page of their own: question -> (page, how its params map to the page's URL).
QUESTION_PAGES = {"subject-history": HISTORY_PAGE, "compare-predictions": COMPARE_PAGE, "what-changed": CHANGED_PAGE,
                  "explain": EXPLAIN_PAGE}


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


@st.cache_data(ttl=60, show_spinner=False)
def _anomalies(uri: str, database: str) -> dict[str, list[str]]:
    """data-anomalies' flags, for a minute (every picture marks them)."""
    return flags_mod.anomalies(graph())


def marks(uids: Sequence[str]) -> dict[str, list[str]]:
    """uid -> why it is flagged (data anomaly, lineage gap, failed reproduction); on
    failure, none, with the reason in a caption (a picture without marks beats no picture)."""
    try:
        settings = Settings.from_env()
        return flags_mod.flags(graph(), uids, _anomalies(settings.uri, settings.database))
    except ProvexError as exc:
        st.caption(f"Flags not shown: {exc}")
        return {}


def draw(nodes: Sequence[dict[str, Any]], edges: Sequence[dict[str, Any]], *, root: str | None = None,
         notes: Sequence[str] = (), truncated: bool = False, collapse_over: int | None = graphview.DEFAULT_COLLAPSE,
         node_cap: int = graphview.DEFAULT_NODE_CAP, height: int | None = None, layout: str = "hierarchical",
         path: Sequence[str] = (), flagged: bool = True) -> graphview.View:
    """Draw a graph (pyvis, inlined JavaScript; a layered lineage layout
    planned to fill the canvas, ``layout="physics"`` for the force-directed
    one) with a label under every node, the flagged nodes marked and
    ``path`` (uids in order, e.g. from a prediction to its first cause)
    drawn bold, and say what was left out."""
    found = marks([str(n["uid"]) for n in nodes]) if flagged else {}
    view = graphview.build(nodes, edges, root=root, collapse_over=collapse_over, node_cap=node_cap, notes=notes,
                           marks=found, path=path)
    if truncated or view.dropped:
        st.warning(md("Partial graph: " + "; ".join(view.notes or ["limits reached"])))
    elif view.notes:
        st.info(md("; ".join(view.notes)))
    if not view.nodes:
        st.info("Nothing to draw.")
        return view
    st.caption(md(legend_text(view.legend)))
    tall = height or (view.plan.height if view.plan else 600)
    st.iframe(graphdraw.render(view.nodes, view.edges, height=tall, legend_entries=view.legend, layout=layout,
                               layout_plan=view.plan), height=tall + graphdraw.CHROME, alt="lineage graph")
    flagged_list(view)
    return view


def flagged_list(view: graphview.View) -> None:
    """The flagged nodes of a picture and why, as text below it."""
    shown = [n for n in view.nodes if n.get("flags")]
    if not shown:
        return
    with st.expander(f"Flagged in this picture ({len(shown)})", expanded=len(shown) <= 4):
        st.dataframe(pd.DataFrame({"node": [n["id"] for n in shown], "why": ["; ".join(n["flags"]) for n in shown]}),
                     hide_index=True)


def draw_subgraph(sub: Any, **kwargs: Any) -> graphview.View:
    """Draw a :class:`graph.lineage.Subgraph`."""
    return draw(sub.nodes, sub.edges, root=sub.root, notes=sub.notes, truncated=sub.truncated, **kwargs)


def table(frame: pd.DataFrame, **kwargs: Any) -> None:
    """st.dataframe with numbers for people (:func:`provex.app.humanize.styled`)."""
    st.dataframe(humanize.styled(frame), hide_index=True, **kwargs)


def legend_text(entries: Sequence[dict[str, Any]]) -> str:
    """The legend as one line of text: ``Prediction 30 (dot, #756bb1) · ...``."""
    return "Legend: " + " · ".join(f"{e['kind']} ×{e['count']:,} ({e['shape']}, {e.get('border') or e['color']})"
                                   for e in entries)


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
        marks = (lambda r: [HIGHLIGHT if r["differs"] else ""] * len(r)) if "differs" in shown else None
        st.dataframe(humanize.styled(shown, marks), hide_index=True)


def one_side_data(frame: pd.DataFrame, a: str, b: str) -> list[str]:
    """The data versions (uids) that only one side of a comparison used: the likely cause."""
    one_side = frame[frame["aspect"].str.startswith("data (") & (frame[a].isna() | frame[b].isna())]
    uids = []
    for row in one_side.itertuples(index=False):
        path = str(row.key).rsplit(" (", 1)[0]
        digest = getattr(row, a) if pd.notna(getattr(row, a)) else getattr(row, b)
        if "(md5)" in str(row.key):
            uids.append(f"data:{path}@{digest}")
    return list(dict.fromkeys(uids))


def data_links(frame: pd.DataFrame, a: str, b: str) -> None:
    """Node pages of the data versions only one side used (the likely cause)."""
    link_list(one_side_data(frame, a, b), title="Data only one side used")


def upstream_picture(ref: str, causes: Sequence[str], depth: int = 12, node_cap: int = 300) -> graphview.View | None:
    """The upstream lineage of ``ref`` with the path to the first of ``causes``
    that it reaches drawn bold (anomalous data versions tried first, in
    data-anomalies' rank order), the flagged nodes marked."""
    with shown_errors():
        sub = lineage_mod.traverse(graph(), ref, direction="up", depth=depth, node_cap=node_cap, time_limit=30.0)
    try:
        settings = Settings.from_env()
        ranked = [u for u in _anomalies(settings.uri, settings.database) if u in causes]
    except ProvexError:  # no ranking: the causes in their own order
        ranked = []
    order = list(dict.fromkeys(ranked + list(causes)))
    path = next((p for p in (graphview.upstream_path(sub.edges, sub.root, c) for c in order) if p), [])
    if path:
        st.caption(f"Bold: the path from `{path[0]}` to `{path[-1]}` ({len(path) - 1} steps).")
    return draw_subgraph(sub, path=path)


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
