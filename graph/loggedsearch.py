"""Search's part for identifiers wherever they were logged, each hit saying
where the match was:

- param and tag values of runs (``param dataset_sha256 of run naive_bayes``);
- keys and values of the small metadata files a pipeline stage wrote beside a
  model (``model_version in models/metadata.json``), read by the DVC adapter;
- model versions, references and names as services logged them with their
  predictions (the store's ``model_ref`` / ``model_version`` / ``model_name``):
  the hit is what the resolver resolved them to, else an example prediction.

Exact matches of a whole value (or key), then values starting with the text
(at least :data:`MIN_PREFIX` characters). Runs and metadata files are found
by a bounded scan of their properties (no index holds arbitrary keys), under
the search's time limit.
"""

from __future__ import annotations

import posixpath
from typing import Any

from provex.graph.groups import target_ref
from provex.store import query

MIN_PREFIX = 4  # characters of a value prefix searched in params, tags and metadata

_RUNS = """
MATCH (r:Run) WHERE NOT coalesce(r.placeholder, false)
WITH r, [k IN keys(r) WHERE (k STARTS WITH 'param.' OR k STARTS WITH 'tag.') AND toStringOrNull(r[k]) {op} $text] AS ks
WHERE size(ks) > 0
RETURN r.uid AS ref, 'Run' AS label, r {{.name, .run_id, .kind, .stage}} AS props, ks AS keys
ORDER BY ref LIMIT $limit
"""

_META = """
MATCH (d:DataVersion) WHERE d.meta_file IS NOT NULL AND NOT coalesce(d.placeholder, false)
WITH d, [k IN keys(d) WHERE k STARTS WITH 'meta.' AND (toStringOrNull(d[k]) {op} $text
         OR substring(k, 5) {op} $text OR split(k, '.')[-1] {op} $text)] AS ks
WHERE size(ks) > 0
RETURN d.uid AS ref, 'DataVersion' AS label, d {{.path, .hash, .meta_file}} AS props, ks AS keys,
       [k IN ks | toStringOrNull(d[k])] AS values
ORDER BY ref LIMIT $limit
"""

_NODES = ("MATCH (n:Node) WHERE n.uid IN $uids RETURN n.uid AS ref, [l IN labels(n) WHERE l <> 'Node'][0] AS label, "
          "properties(n) AS props")


def hits(graph: Any, text: str, match: str, limit: int, timeout: float) -> list[tuple[dict[str, Any], str]]:
    """(row, where) pairs: rows shaped like search's (ref, label, props)."""
    prefix = match == "prefix"
    if prefix and len(text) < MIN_PREFIX:
        return []
    op = "STARTS WITH" if prefix else "="
    params = {"text": text, "limit": limit}
    out: list[tuple[dict[str, Any], str]] = []
    for row in graph.read(_RUNS.format(op=op), params, timeout=timeout):
        name = row["props"].get("name") or row["props"].get("run_id") or row["ref"]
        said = ", ".join(f"{k.split('.', 1)[0]} {k.split('.', 1)[1]}" for k in row["keys"][:3])
        out.append((row, f"{said} of run {name}"))
    for row in graph.read(_META.format(op=op), params, timeout=timeout):
        file = row["props"].get("meta_file") or row["props"].get("path")
        said = ", ".join(_meta_where(k, v, text, prefix) for k, v in zip(row["keys"][:3], row["values"][:3]))
        out.append((row, f"{said} in {file}"))
    out.extend(_logged(graph, text, limit, prefix))
    return out[:limit]


def _meta_where(key: str, value: str | None, text: str, prefix: bool) -> str:
    bare = key.removeprefix("meta.")
    hit = value is not None and (value.startswith(text) if prefix else value == text)
    return bare if hit else f"key {bare}"


def _logged(graph: Any, text: str, limit: int, prefix: bool) -> list[tuple[dict[str, Any], str]]:
    """Model versions, references and names as predictions logged them."""
    rows = query.logged_models(graph.facts, text, limit, prefix)
    if not rows:
        return []
    table = query.by_ref(graph.facts)
    targets = {r["partition"]: (table.get(r["partition"]) or [{}])[0].get("target") for r in rows}
    known = {n["ref"]: n for n in graph.read(_NODES, {"uids": sorted({t for t in targets.values() if t})})}
    out = []
    for r in rows:
        column = next(c for c in ("model_version", "model_ref", "model_name")
                      if r[c] is not None and (r[c].startswith(text) if prefix else r[c] == text))
        said = (f"{column.replace('_', ' ')} {r[column]!r} logged by {r['count']:,} prediction"
                f"{'s' if r['count'] != 1 else ''} ({posixpath.basename(str(r['source'] or ''))})")
        target = targets[r["partition"]]
        if target:
            node = known.get(target) or {"ref": target, "label": target_ref(target).label, "props": {}}
            out.append((node, f"{said}, resolved to it"))
        else:
            out.append(({"ref": r["example"], "label": "Prediction", "props": {"prediction_id": r["example"][11:]}},
                        f"{said}, not resolved to a model yet (an example)"))
    return out
