"""Questions about what is inside data versions: one version's profile, the
difference between two, and the versions whose statistics break from their
siblings (data questions).

Profiles are stored on ``DataVersion`` nodes by the adapters (see
docs/graph-model.md, "Data content profiles"): the whole profile as JSON text
in ``profile`` plus one list per statistic aligned with ``profile_columns``
(``profile_mean``, ``profile_null_rate``, ...; NaN where a statistic does
not apply). The lists are what lets ONE read-only Cypher statement compare
versions. Each text below uses ``$params`` only; the Python helpers assemble
fixed fragments. Each question has a ``<name>_headline(rows, params)`` that
says the answer in one sentence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from provex.vocab import numbers as num

#: A statistic that moves by this factor (either way) is a shift in a diff.
SHIFT_FACTOR = 2.0
#: A null rate that moves by this much (absolute) is a shift.
NULL_JUMP = 0.1
#: A version is an anomaly when a column's mean is this many times its siblings' median (either way).
ANOMALY_FACTOR = 10.0
#: How far lineage is followed to find an anomalous version upstream of another.
UPSTREAM_DEPTH = 8
STATS = ("mean", "median", "min", "max", "std", "null_rate", "distinct")


def at(var: str, prop: str, index: str) -> str:
    """Cypher: ``var.prop[index]`` (``prop`` may be a ``['dynamic' + name]`` key), null when
    the index is null/negative or the value is NaN."""
    value = f"{var}{prop if prop.startswith('[') else '.' + prop}[{index}]"
    return f"CASE WHEN {index} IS NULL OR {index} < 0 OR isNaN({value}) THEN null ELSE {value} END"


def index_of(var: str, col: str) -> str:
    """Cypher: the position of column ``col`` in ``var.profile_columns`` (null when absent)."""
    return f"[k IN range(0, size(coalesce({var}.profile_columns, [])) - 1) WHERE {var}.profile_columns[k] = {col}][0]"


def factor(a: str, b: str) -> str:
    """Cypher: how many times apart two positive numbers are (>= 1), null otherwise."""
    return (f"CASE WHEN {a} IS NULL OR {b} IS NULL OR {a} = 0 OR {b} = 0 OR {a} / {b} < 0 THEN null "
            f"WHEN abs({a}) >= abs({b}) THEN toFloat({a}) / {b} ELSE toFloat({b}) / {a} END")


DATA_PROFILE = f"""
MATCH (d:DataVersion {{uid: $data_version}})
WITH d, coalesce(d.profile_columns, []) AS cols
UNWIND CASE WHEN size(cols) = 0 THEN [-1] ELSE range(0, size(cols) - 1) END AS i
RETURN CASE WHEN i < 0 THEN null ELSE cols[i] END AS column,
       CASE WHEN i < 0 THEN coalesce(d.profile_status, 'not profiled') ELSE d.profile_types[i] END AS type,
       d.profile_rows AS rows,
       {at('d', 'profile_nulls', 'i')} AS nulls, {at('d', 'profile_null_rate', 'i')} AS null_rate,
       {at('d', 'profile_distinct', 'i')} AS distinct, {at('d', 'profile_min', 'i')} AS min,
       {at('d', 'profile_max', 'i')} AS max, {at('d', 'profile_mean', 'i')} AS mean,
       {at('d', 'profile_std', 'i')} AS std, {at('d', 'profile_median', 'i')} AS median,
       CASE WHEN i < 0 OR d.profile_top[i] = '' THEN null ELSE d.profile_top[i] END AS top,
       CASE WHEN i < 0 THEN coalesce(d.profile_reason, CASE WHEN d.profile_status IS NULL
                 THEN 'no profile: ingested without profiling, or its bytes were not available' END)
            WHEN d.profile_sampled THEN 'statistics from a sample (distinct counts approximate)'
            ELSE null END AS note
ORDER BY i
"""

_DIFF_ROWS = f"""
  WITH a, b
  RETURN '(table)' AS column, 'rows' AS stat, a.profile_rows AS av, b.profile_rows AS bv, 0 AS seq,
         {factor('a.profile_rows', 'b.profile_rows')} >= {SHIFT_FACTOR} AS shifted
  UNION ALL WITH a, b
  UNWIND coalesce(a.profile_columns, []) + [c IN coalesce(b.profile_columns, [])
                                            WHERE NOT c IN coalesce(a.profile_columns, [])] AS column
  WITH a, b, column, {index_of('a', 'column')} AS i, {index_of('b', 'column')} AS j
  UNWIND ['type'] + {list(STATS)} AS stat
  WITH column, stat, i, j,
       CASE WHEN stat = 'type' THEN a.profile_types[i] ELSE {at('a', "['profile_' + stat]", 'i')} END AS av,
       CASE WHEN stat = 'type' THEN b.profile_types[j] ELSE {at('b', "['profile_' + stat]", 'j')} END AS bv
  WHERE stat = 'type' OR (i IS NOT NULL AND j IS NOT NULL AND (av IS NOT NULL OR bv IS NOT NULL))
  RETURN column, stat, av, bv, 1 AS seq,
         CASE WHEN stat = 'type' THEN i IS NULL OR j IS NULL OR av <> bv
              WHEN stat = 'null_rate' THEN abs(coalesce(bv, 0) - coalesce(av, 0)) >= {NULL_JUMP}
              ELSE coalesce({factor('av', 'bv')} >= {SHIFT_FACTOR}, false) END AS shifted
"""

DIFF_DATA_VERSIONS = f"""
MATCH (a:DataVersion {{uid: $a}}), (b:DataVersion {{uid: $b}})
CALL {{ {_DIFF_ROWS} }}
WITH a, b, column, collect({{stat: stat, av: av, bv: bv, seq: seq, shifted: shifted}}) AS stats
WITH column, stats, column IN coalesce(a.profile_columns, []) AS in_a, column IN coalesce(b.profile_columns, []) AS in_b
WITH column, stats,
     CASE WHEN column = '(table)' THEN CASE WHEN stats[0].shifted THEN 'shifted' ELSE 'same' END
          WHEN NOT in_b THEN 'removed' WHEN NOT in_a THEN 'added'
          WHEN any(s IN stats WHERE s.stat = 'type' AND s.shifted) THEN 'type changed'
          WHEN any(s IN stats WHERE s.shifted) THEN 'shifted' ELSE 'same' END AS change
UNWIND stats AS s
RETURN column, change, s.stat AS stat, s.av AS a, s.bv AS b,
       CASE WHEN s.stat <> 'type' AND s.av <> 0 THEN toFloat(s.bv) / s.av END AS ratio, s.shifted AS shifted
ORDER BY s.seq, CASE change WHEN 'removed' THEN 0 WHEN 'added' THEN 1 WHEN 'type changed' THEN 2
         WHEN 'shifted' THEN 3 ELSE 4 END, column, s.stat
"""

# Siblings of a profiled version d: other profiled versions of the same path, and
# versions of other files in the same folder with the same extension that share
# at least half of the columns (the months of one feed, the partitions of a table).
_SIBLINGS = """
MATCH (d:DataVersion)
WHERE d.profile_status = 'profiled' AND ($path IS NULL OR d.path STARTS WITH $path)
WITH d, left(d.path, size(d.path) - size(last(split(d.path, '/')))) AS folder, last(split(d.path, '.')) AS ext
OPTIONAL MATCH (dc:CodeVersion {sha: d.commit})
WITH d, folder, ext, dc.date AS dd
MATCH (s:DataVersion)
WHERE s.path STARTS WITH folder  // the path index narrows the candidates to the folder
  AND s.profile_status = 'profiled' AND s.hash <> d.hash AND (s.path = d.path OR (
      NOT substring(s.path, size(folder)) CONTAINS '/' AND s.path ENDS WITH '.' + ext
      AND 2 * size([c IN s.profile_columns WHERE c IN d.profile_columns])
          >= size(d.profile_columns + [c IN s.profile_columns WHERE NOT c IN d.profile_columns])))
OPTIONAL MATCH (sc:CodeVersion {sha: s.commit})
WITH d, dd, collect({s: s, sd: sc.date}) AS sibs
// Schema changes compare with the previous version of the same path (or the other files of the folder).
WITH d, sibs, reduce(p = null, x IN sibs | CASE WHEN x.s.path = d.path AND x.sd < dd AND (p IS NULL OR x.sd > p)
                                               THEN x.sd ELSE p END) AS prev
WITH d, [x IN sibs | x.s] AS sibs,
     [x IN sibs WHERE x.s.path <> d.path OR (prev IS NOT NULL AND x.sd = prev) | x.s] AS schema_sibs
"""


def _stat_break(prop: str, kind: str, condition: str, score: str) -> str:
    """A CALL branch: columns whose ``prop`` breaks from the siblings' median."""
    return f"""
  WITH d, sibs
  UNWIND range(0, size(d.profile_columns) - 1) AS i
  WITH d, sibs, d.profile_columns[i] AS column, {at('d', prop, 'i')} AS v
  WHERE v IS NOT NULL
  UNWIND sibs AS s
  WITH column, v, s, {index_of('s', 'column')} AS j
  WITH column, v, percentileCont({at('s', prop, 'j')}, 0.5) AS typical, count({at('s', prop, 'j')}) AS n
  WHERE n > 0 AND {condition}
  RETURN column, '{kind}' AS kind, v AS value, typical, {score} AS factor, n AS compared"""


_BREAKS = f"""
  {_stat_break('profile_mean', 'scale', f"{factor('v', 'typical')} >= {ANOMALY_FACTOR}", factor('v', 'typical'))}
  UNION ALL {_stat_break('profile_null_rate', 'null rate', f'v - typical >= {NULL_JUMP}',
                         '(v + 0.01) / (typical + 0.01)')}
  UNION ALL WITH d, schema_sibs
  WITH d, schema_sibs WHERE size(schema_sibs) > 0
  UNWIND d.profile_columns AS column
  WITH column, size(schema_sibs) AS n, size([s IN schema_sibs WHERE column IN s.profile_columns]) AS having
  WHERE 2 * having < n
  RETURN column, 'column appeared' AS kind, null AS value, toFloat(having) / n AS typical,
         {ANOMALY_FACTOR} AS factor, n AS compared
  UNION ALL WITH d, schema_sibs
  UNWIND schema_sibs AS s
  UNWIND s.profile_columns AS column
  WITH d, schema_sibs, column, count(DISTINCT s) AS having
  WHERE NOT column IN d.profile_columns AND 2 * having >= size(schema_sibs)
  RETURN column, 'column vanished' AS kind, null AS value, toFloat(having) / size(schema_sibs) AS typical,
         {ANOMALY_FACTOR} AS factor, size(schema_sibs) AS compared
"""

DATA_ANOMALIES = f"""
{_SIBLINGS}
CALL {{ {_BREAKS} }}
WITH collect({{d: d, column: column, kind: kind, value: value, typical: typical, factor: factor,
              compared: compared}}) AS found
WITH found, [f IN found | f.d.uid] AS flagged
UNWIND found AS f
WITH f, flagged, f.d AS d
OPTIONAL MATCH up = (d)-[:WAS_GENERATED_BY|USED|WAS_DERIVED_FROM*1..{UPSTREAM_DEPTH}]->(u:DataVersion)
WHERE u.uid IN flagged AND u <> d
// The farthest flagged version upstream: the root cause.
WITH f, d, u, max(length(up)) AS far ORDER BY far DESC
WITH f, d, [x IN collect(u) WHERE x IS NOT NULL | x.path + '@' + left(x.hash, 8)] AS ups
ORDER BY size(ups) > 0, f.factor DESC, d.path, f.column
WITH collect({{f: f, d: d, ups: ups}}) AS ordered
UNWIND range(0, size(ordered) - 1) AS k
WITH k, ordered[k].f AS f, ordered[k].d AS d, ordered[k].ups AS ups
RETURN k + 1 AS rank, d.uid AS data_version, d.path AS path, left(d.hash, 12) AS hash, f.column AS column,
       f.kind AS kind, f.value AS value, f.typical AS typical, round(f.factor, 2) AS factor,
       f.compared AS compared, CASE WHEN size(ups) = 0 THEN null ELSE ups[0] END AS downstream_of
ORDER BY rank
"""


# ---- rows finished in Python -----------------------------------------------------------------------

_NUMBER_TEXT = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
#: Aspects of the model diffs whose values are statistics written as text by the Cypher (one statement
#: joins the values of both sides as text): numbers again once read.
NUMERIC_ASPECTS = ("data profile", "metric")


def _as_number(value: Any) -> Any:
    """A statistic written as text by Cypher (``'78.873'``) as the number it was; anything else as it is."""
    if not isinstance(value, str) or not _NUMBER_TEXT.fullmatch(value.strip()):
        return value
    text = value.strip()
    return int(text) if text.lstrip("-").isdigit() else float(text)


def numeric_statistics(rows: Sequence[Mapping[str, Any]], sides: Sequence[str] = ("a", "b")) -> list[dict[str, Any]]:
    """Rows with the values of statistic aspects (``data profile (...)``, ``metric``) as numbers."""
    out = []
    for row in rows:
        row = dict(row)
        if str(row.get("aspect") or "").startswith(NUMERIC_ASPECTS):
            row.update({side: _as_number(row.get(side)) for side in sides})
        out.append(row)
    return out


def profile_ratios(rows: Sequence[Mapping[str, Any]], params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """compare-predictions: statistics as numbers, and their ratio b/a and change where Cypher
    could not compute them (the values were text): ``avg_ticket mean`` 78.87 -> 2,783.87 is 35.3x."""
    out = numeric_statistics(rows)
    for row in out:
        a, b = row.get("a"), row.get("b")
        if row.get("ratio") is None and _plain_number(a) and _plain_number(b) and a != 0:
            row["ratio"] = round(b / a, 4)
            row["change"] = round(row["ratio"] - 1, 4)
    return out


def diff_statistics(rows: Sequence[Mapping[str, Any]], params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """diff-model-versions: statistics as numbers."""
    return numeric_statistics(rows)


def changed_statistics(rows: Sequence[Mapping[str, Any]], params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """what-changed: statistics as numbers."""
    return numeric_statistics(rows, ("before", "after"))


def _plain_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# ---- headlines ------------------------------------------------------------------------------------


def _given(value: Any) -> bool:
    """Not null and not NaN (rows from a DataFrame carry NaN for null numbers)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _num(value: Any) -> str:
    return num.number(value, num.BRIEF)


def data_profile_headline(rows: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> str:
    """One sentence: rows and columns of the version, or why there is no profile."""
    name = params.get("data_version", "the data version")
    if not rows or not _given(rows[0].get("column")):
        why = (rows[0].get("note") if _given(rows[0].get("note")) else rows[0].get("type")) if rows else "not found"
        return f"{name} has no content profile ({why})."
    numeric = [r for r in rows if _given(r.get("mean"))]
    sampled = " (from a sample)" if any(_given(r.get("note")) for r in rows) else ""
    return (f"{name}: {_num(rows[0].get('rows'))} rows, {len(rows)} columns ({len(numeric)} numeric)"
            f"{sampled}.")


def diff_data_versions_headline(rows: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> str:
    """One sentence: columns added/removed, and the biggest shift."""
    changes: dict[str, str] = {r["column"]: r["change"] for r in rows if r.get("column") != "(table)"}
    added = sorted(c for c, ch in changes.items() if ch == "added")
    removed = sorted(c for c, ch in changes.items() if ch == "removed")
    shifted = [r for r in rows if r.get("shifted") and _given(r.get("ratio")) and r["ratio"] and r.get("stat") != "type"]
    parts = []
    if removed:
        parts.append(f"removed {', '.join(removed)}")
    if added:
        parts.append(f"added {', '.join(added)}")
    if shifted:
        top = max(shifted, key=lambda r: max(abs(r["ratio"]), 1 / abs(r["ratio"])))
        parts.append(f"{top['column']} {top['stat']} {num.ratio(top['ratio'])} ({_num(top['a'])} -> {_num(top['b'])})")
    nulls = [r for r in rows if r.get("shifted") and r.get("stat") == "null_rate"]
    if nulls:
        parts.append(f"null rate jumps in {', '.join(sorted({r['column'] for r in nulls}))}")
    if not parts:
        return "No schema change and no column shifted by 2x or more."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def data_anomalies_headline(rows: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> str:
    """One sentence: the top-ranked anomaly and how many versions are flagged."""
    if not rows:
        return "No data version breaks from its siblings by 10x or more."
    top = rows[0]
    versions = len({r["data_version"] for r in rows})
    what = (f"{top['column']} is {num.ratio(top['factor'])} its siblings' median ({_num(top['value'])} vs "
            f"{_num(top['typical'])})" if top["kind"] == "scale" else f"{top['column']}: {top['kind']}")
    return f"{top['path']}@{top['hash'][:8]} first: {what}; {versions} version(s) flagged."


# ---- for the app --------------------------------------------------------------------------------

SIBLING_VERSIONS = """
MATCH (d:DataVersion {uid: $uid})
OPTIONAL MATCH (dc:CodeVersion {sha: d.commit})
MATCH (o:DataVersion {path: d.path}) WHERE o <> d AND o.profile_columns IS NOT NULL
OPTIONAL MATCH (oc:CodeVersion {sha: o.commit})
RETURN o.uid AS uid, coalesce(oc.date < dc.date, false) AS earlier, oc.date AS date
ORDER BY earlier DESC, CASE WHEN earlier THEN date END DESC, date
LIMIT 50
"""


def sibling_versions(graph: Any, uid: str) -> list[str]:
    """Other profiled versions of the same path: the earlier ones first (newest first), then later ones."""
    return [r["uid"] for r in graph.read(SIBLING_VERSIONS, {"uid": uid})]
