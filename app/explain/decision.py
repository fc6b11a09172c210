"""The decision record: one self-contained HTML file (no script, no external
asset) that a reviewer or auditor can keep. It holds the headline and the
ranked causes, the inputs, each model version with its training data, code,
params and environment (``prediction-provenance``), the replay and
reproduction outcomes, the lineage picture as a static SVG (the path to the
first cause bold, flagged nodes marked), and the hashes, with the
explanation itself as JSON and its SHA-256.

Every text that came from an ingested source is escaped (``html.escape``);
the embedded JSON escapes ``<``, ``>`` and ``&``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from provex.app import graphview
from provex.app.explain import svg
from provex.app.reproduce.record import versions
from provex.graph import flags as flags_mod
from provex.graph import lineage, recipes, replays
from provex.graph.explain.causes import origin_text
from provex.graph.questions import ask
from provex.vocab import numbers as num

DEPTH, NODE_CAP, DRAWN = 12, 300, 120
STYLE = """
body{font-family:sans-serif;margin:2em auto;max-width:1200px;color:#222;line-height:1.4}
h1{font-size:1.5em} h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
.headline{background:#e8f5e9;border-left:4px solid #2e7d32;padding:.7em 1em}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f5f5f5} td.num{text-align:right;white-space:nowrap} code{font-size:.92em}
.note{color:#555;font-size:.9em} .picture{overflow-x:auto;border:1px solid #ddd}
"""


def e(value: Any) -> str:
    """Any value as escaped text (numbers for people, ``—`` when missing)."""
    if isinstance(value, (dict, list, tuple)):
        return escape(json.dumps(value, default=str, ensure_ascii=False))
    if num.is_number(value):
        return escape(num.number(value))
    return escape(num.EMPTY if num.missing(value) else str(value))


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return '<p class="note">None.</p>'
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f'<td{" class=num" if num.is_number(r.get(c)) else ""}>{e(r.get(c))}</td>' for c in columns)
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _rows(frame: Any) -> list[dict[str, Any]]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def gather(graph: Any, explanation: Mapping[str, Any]) -> dict[str, Any]:
    """What the record shows beside the explanation: provenance, the picture, replays and reproductions."""
    p = explanation["prediction"]["uid"]
    provenance = _rows(ask(graph, "prediction-provenance", {"prediction": p}, limit=5_000))
    sub = lineage.traverse(graph, p, direction="up", depth=DEPTH, node_cap=NODE_CAP, time_limit=30.0)
    path: list[str] = []
    for cause in explanation["causes"]:
        path = graphview.upstream_path(sub.edges, sub.root, str(cause.get("subject") or ""))
        if path:
            break
    marks = flags_mod.flags(graph, [str(n["uid"]) for n in sub.nodes])
    view = graphview.build(sub.nodes, sub.edges, root=sub.root, marks=marks, path=path, node_cap=DRAWN, notes=sub.notes)
    versions_used = sorted({r["ref"] for r in provenance if r["aspect"] == "model version" and r.get("ref")})
    return {"provenance": provenance, "picture": svg.render(view.nodes, view.edges, title=f"Lineage upstream of {p}"),
            "picture_notes": view.notes, "path": path,
            "flagged": [{"node": n["id"], "why": "; ".join(n["flags"])} for n in view.nodes if n.get("flags")],
            "replays": replays.past_replays(graph, p, limit=20),
            "reproductions": [r for v in versions_used for r in recipes.reproductions(graph, v, limit=20)]}


def _causes(explanation: Mapping[str, Any]) -> str:
    rows = []
    for c in explanation["causes"]:
        reach = c.get("reach") or {}
        rows.append({"rank": c["rank"], "kind": c["kind"], "cause": c["statement"],
                     "share of the difference": num.percent(c["share"]) if c.get("share") is not None else None,
                     "basis": c["basis"], "origin": origin_text(c.get("origin")),
                     "reach": (f"{reach['predictions']:,} {reach.get('what', '')}" if reach.get("predictions") is not None else None),
                     "next action": c["action"]})
    return table(rows, ["rank", "kind", "cause", "share of the difference", "basis", "origin", "reach", "next action"])


def _inputs(explanation: Mapping[str, Any]) -> str:
    p, q = explanation["prediction"], explanation.get("against")
    names = sorted(set(p["inputs"]) | set((q or {}).get("inputs", {})))
    rows = [{"input": k, p["id"]: p["inputs"].get(k), **({q["id"]: q["inputs"].get(k)} if q else {})} for k in names]
    return table(rows, ["input", p["id"]] + ([q["id"]] if q else []))


def _models(provenance: Sequence[Mapping[str, Any]]) -> str:
    out = []
    for hop in sorted({r["hop"] for r in provenance}):
        mine = [r for r in provenance if r["hop"] == hop]
        name = next((r["value"] for r in mine if r["aspect"] == "model version"), "an unknown model version")
        pred = mine[0]["prediction"]
        out.append(f"<h3>{e(name)} (made {e(pred)}{', upstream' if hop else ''})</h3>")
        out.append(table([{k: r[k] for k in ("aspect", "key", "value", "ref")} for r in mine
                          if r["aspect"] not in ("input", "prediction")], ["aspect", "key", "value", "ref"]))
    return "\n".join(out)


def _replay(explanation: Mapping[str, Any], extra: Mapping[str, Any]) -> str:
    replay = explanation.get("replay") or {}
    parts = []
    if replay.get("logged"):
        parts.append(f"<p>Replayed now: {e(replay['logged'].get('summary'))}</p>")
    attribution = replay.get("attribution") or {}
    if attribution.get("rows"):
        parts.append(f"<p>{e(attribution.get('headline'))}</p>")
        parts.append(table(attribution["rows"], ["change", "what", "a", "b", "output", "effect", "share_of_difference"]))
        parts.append(f'<p class="note">{e(attribution.get("caveat"))}</p>')
    if replay.get("swaps"):
        parts.append(table(replay["swaps"], ["prediction", "model_version", "instead_of", "logged", "output", "reason"]))
    if not parts:
        parts.append('<p class="note">Model code was not run for this record (provex explain --allow-run replays it).</p>')
    parts.append("<h3>Replays recorded for this prediction</h3>")
    parts.append(table(extra["replays"], ["replay", "started_at", "model_version", "outcome", "logged_output", "replayed_output"]))
    parts.append("<h3>Reproductions of its model versions</h3>")
    parts.append(table(extra["reproductions"], ["target", "started_at", "outcome", "commit", "stage", "reason"]))
    return "\n".join(parts)


def _hashes(explanation: Mapping[str, Any], provenance: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for side in (explanation["prediction"], explanation.get("against")):
        if side:
            rows.append({"what": f"inputs of {side['id']}", "hash": side.get("input_hash")})
    for r in provenance:
        if r["aspect"] in ("training data", "training data (same as)"):
            rows.append({"what": f"{r['aspect']} {r['key']}", "hash": r["value"]})
        elif r["aspect"] == "code commit":
            rows.append({"what": "code commit", "hash": r["key"]})
        elif r["aspect"] == "training run":
            rows.append({"what": f"training run ({r['key']})", "hash": r["value"]})
    return list({(r["what"], r["hash"]): r for r in rows}.values())


def render(explanation: Mapping[str, Any], extra: Mapping[str, Any]) -> str:
    """The record as one HTML document."""
    body = json.dumps(explanation, sort_keys=True, default=str, ensure_ascii=False)
    digest = hashlib.sha256(body.encode()).hexdigest()
    embedded = body.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    p = explanation["prediction"]
    made = datetime.now(UTC).isoformat(timespec="seconds")
    env = versions("mlflow", "scikit-learn", "pandas")
    limits = list(explanation.get("limits") or []) + list(explanation.get("context") or [])
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Decision record: {e(p['id'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>Decision record: why {e(p['id'])} = {e(p['output'])}</h1>",
        f'<p class="note">Written by provex {e(env.get("provex"))} at {e(made)}; schema {e(explanation.get("schema"))}; '
        f"explanation SHA-256 <code>{e(digest)}</code> (of the JSON at the end).</p>",
        f'<p class="headline">{e(explanation["headline"])}</p>',
        "<h2>Causes, most likely first</h2>", _causes(explanation),
        "<h2>What limits this answer</h2>", table([{"note": x} for x in limits], ["note"]),
        "<h2>The prediction</h2>",
        table([{k: v for k, v in side.items() if k not in ("inputs", "chain")} for side in (p, explanation.get("against")) if side],
              ["id", "uid", "output", "model_version", "timestamp", "subject_id", "household_id", "override",
               "feature_pipeline", "input_hash"]),
        "<h3>Inputs</h3>", _inputs(explanation),
        "<h2>Model versions: training data, code, params, environment</h2>", _models(extra["provenance"]),
        "<h2>Replay and reproduction</h2>", _replay(explanation, extra),
        "<h2>Lineage upstream of the prediction</h2>",
        f'<p class="note">Bold: the path from the prediction to its first cause ({e(" -> ".join(extra["path"]))}). '
        "Dark red border and \u26a0: flagged nodes.</p>",
        f'<div class="picture">{extra["picture"]}</div>',
        table(extra["flagged"], ["node", "why"]),
        table([{"note": x} for x in extra["picture_notes"]], ["note"]) if extra["picture_notes"] else "",
        "<h2>Hashes</h2>", table(_hashes(explanation, extra["provenance"]), ["what", "hash"]),
        "<h2>The explanation as data</h2>",
        f'<script type="application/json" id="explanation">{embedded}</script>',
        '<p class="note">The JSON above (in the page source, element <code>#explanation</code>) is the explanation '
        "this record shows; its SHA-256 is given at the top.</p>",
        "</body></html>", ""])
