"""Node page: a node's properties, where each fact came from, and its upstream /
downstream lineage drawn with pyvis, left to right (physics as an option).
The default depth is ``auto``: the walk goes on until it reaches model
versions and predictions (downstream) or the raw inputs (upstream), with
fan-outs collapsed into counted groups, within the node cap. ``As of``
shows the graph as it was at a time. The URL is shareable:
``/node?ref=prediction:cl-000123&dir=up&depth=auto&as_of=2026-03-12``."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from provex.app import graphview, profile_view, replay_view, state
from provex.app.plaintext import code, md
from provex.graph import export, lineage, nodes, refs
from provex.vocab.model import KINDS

IMPACT_PAGE = "app_pages/impact.py"
IMPACT_KINDS = ("DataVersion", "Library", "CodeVersion", "ModelVersion")
PROVENANCE = ("placeholder", "sources", "first_ingest", "last_ingest", "first_seen", "last_seen")
EDGE_LIMIT = 200
TIME_LIMIT = 30.0
NODE_COLUMNS = ("uid", "label", "name", "placeholder", "sources", "last_ingest")
AUTO_DEPTHS = (3, 5, 8, 12)  # tried in turn by depth "auto"
DEPTHS = ["auto", *map(str, range(1, 21))]


def reached(sub: lineage.Subgraph, direction: str) -> bool:
    """Whether an automatic walk can stop: nothing lies beyond the depth, the
    node cap cut it, or (downstream) model versions and predictions are in."""
    if not any("depth limit" in note for note in sub.notes) or any("node cap" in n for n in sub.notes):
        return True
    kinds = {n["label"] for n in sub.nodes}
    return direction != "up" and {"ModelVersion", "Prediction"} <= kinds


def reach(g: Any, uid: str, opts: dict[str, Any]) -> lineage.Subgraph:
    """The lineage at the chosen depth; ``auto``: deeper until :func:`reached`."""
    depths = AUTO_DEPTHS if opts["depth"] == "auto" else (int(opts["depth"]),)
    for depth in depths:
        sub = lineage.traverse(g, uid, direction=opts["direction"], depth=depth, node_cap=opts["cap"],
                               kinds=opts["kinds"], as_of=opts["as_of"], time_limit=TIME_LIMIT)
        if reached(sub, opts["direction"]):
            break
    return sub


def recentre() -> None:
    """Callback: make the node chosen under "Move to" the page's node (the URL follows)."""
    if st.session_state.get("goto"):
        st.session_state["ref"] = st.session_state["goto"]


def properties(node: dict[str, Any]) -> None:
    """The node's own properties, then where they came from."""
    own = {k: v for k, v in sorted(node.items()) if k not in PROVENANCE and not k.startswith("_")}
    st.dataframe(pd.DataFrame({"property": list(own), "value": [graphview.brief(v, 400) for v in own.values()]}),
                 hide_index=True)
    st.markdown("**Where this came from**")
    facts = {k: graphview.brief(node.get(k), 400) for k in PROVENANCE if node.get(k) not in (None, "")}
    st.dataframe(pd.DataFrame({"fact": list(facts), "value": list(facts.values())}), hide_index=True)
    if node.get("placeholder"):
        st.warning("Placeholder: another source refers to this node but no source has described it yet.")


def edge_table(g: Any, uid: str) -> None:
    """Direct edges with the sources that asserted them and their time range."""
    rows = nodes.edges(g, uid, EDGE_LIMIT)
    st.markdown(f"**Direct edges** ({len(rows)}{'+' if len(rows) >= EDGE_LIMIT else ''})")
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["sources"] = frame["sources"].map(graphview.brief)
    st.dataframe(frame, hide_index=True)


def controls() -> dict[str, Any]:
    """Direction, depth, kinds, collapsing, cap, time and layout (bound to the URL)."""
    cols = st.columns([2, 2, 3, 2, 2])
    direction = cols[0].radio("Direction", ["up", "down", "both"], key="dir", bind="query-params", horizontal=True,
                              help="up: what it depends on; down: what depends on it")
    depth = cols[1].select_slider("Depth", DEPTHS, value="auto", key="depth", bind="query-params",
                                  format_func=str, help="auto: until model versions and predictions (or raw inputs) "
                                  "are reached, within the node cap")
    kinds = cols[2].multiselect("Node kinds (all when empty)", list(KINDS), key="kinds")
    collapse = cols[3].number_input("Collapse fan-outs over", 0, 10_000, graphview.DEFAULT_COLLAPSE, key="collapse",
                                    help="0 turns collapsing off")
    cap = cols[4].number_input("Node cap", 10, 5_000, 500, step=50, key="cap")
    when, look = st.columns([3, 2])
    as_of = when.text_input("As of (ISO time; empty: now)", key="as_of", bind="query-params",
                            placeholder="2026-03-12T14:05:00Z",
                            help="Show the graph as it was then: later runs, versions and predictions hidden, "
                                 "aliases as they pointed then")
    physics = look.toggle("Physics layout", key="physics", bind="query-params",
                          help="Off: left-to-right lineage (dependencies left). On: force-directed drawing.")
    return {"direction": direction, "depth": depth, "kinds": kinds, "collapse": int(collapse), "cap": int(cap),
            "as_of": as_of.strip() or None, "layout": "physics" if physics else "hierarchical"}


def navigator(view: graphview.View, uid: str) -> None:
    """Move to another node of the graph without typing its id."""
    others = [n["id"] for n in view.nodes if n["id"] != uid and not n["id"].startswith("group:")]
    st.markdown("**Move to**")
    if not others:
        st.caption("No other node drawn.")
        return
    target = st.selectbox("Node in this graph", others, key="goto",
                          format_func=lambda i: f"{i} ({next(n['kind'] for n in view.nodes if n['id'] == i)})")
    st.button("Re-centre on it", on_click=recentre, type="primary", key="recentre")
    state.node_link(target, label="Open its page (new URL)")


def main() -> None:
    st.title("Node & lineage")
    ref = state.url_text("Node (REF or uid)", "ref",
                         "prediction:cl-000123, model:credit-limit@5, data:<path>@<hash prefix>",
                         "Type a REF above, or find one with Search.")
    if not ref:
        return
    g = state.graph()
    with state.shown_errors():
        found = refs.resolve(g, ref.strip())
    uid = found["uid"]
    node = nodes.properties(g, uid) or {}
    st.subheader(f"{md(found['label'])} {code(uid)}")
    opts = controls()
    with state.shown_errors():
        sub = reach(g, uid, opts)
    top = st.container()  # filled once the picture is drawn: the picture gets the page's full width
    view = state.draw_subgraph(sub, collapse_over=opts["collapse"] or None, node_cap=opts["cap"], layout=opts["layout"])
    with top:
        cols = st.columns([1, 1, 3, 3])
        cols[0].metric("Nodes in lineage", f"{len(sub.nodes):,}")
        cols[1].metric("Edges", f"{len(sub.edges):,}")
        with cols[2]:
            navigator(view, uid)
        with cols[3]:
            if found["label"] == "Prediction":
                state.question_link("explain", {"prediction": uid}, label="Why is it what it is? (explain)")
                state.question_link("what-changed", {"prediction": uid}, label="What changed in its model?")
                state.question_link("prediction-provenance", {"prediction": uid}, label="Where did it come from?")
            if found["label"] in IMPACT_KINDS:
                st.page_link(IMPACT_PAGE, label="Impact of this node", icon=":material/warning:",
                             query_params={"ref": uid})
            st.download_button("PROV-JSON", data=_json(export.prov_json(sub)), file_name="lineage.prov.json",
                               mime="application/json")
    if found["label"] == "Prediction":
        replay_view.step(uid)
    tab_props, tab_edges, tab_nodes = st.tabs(["Properties & provenance", "Direct edges", "Lineage nodes"])
    with tab_props:
        properties(node)
        profile_view.show(g, node)
    with tab_edges:
        edge_table(g, uid)
    with tab_nodes:
        st.dataframe(pd.DataFrame([{k: graphview.brief(n.get(k)) for k in NODE_COLUMNS} for n in sub.nodes]),
                     hide_index=True)


def _json(data: Any) -> str:
    import json

    return json.dumps(data, indent=2, default=str)


main()
