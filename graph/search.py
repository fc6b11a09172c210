"""Finding nodes by what people know: an id from a log (prediction, subject,
household, run, model id), a name, a path, a commit sha or message, a hash
prefix. Every hit carries a ``ref`` that every other command accepts and a
readable ``name``.

Ranking, in tiers: an exact match of a whole uid, name or id first, then
prefix matches, then fuzzy (full-text) ones; within a tier, the more
important kinds first (a registered model before its versions).

Hostile text is bounded: at most :data:`MAX_TEXT` characters and
:data:`MAX_TERMS` full-text terms, Lucene syntax never reaches the parser
(terms are the text's word characters only, escaped anyway), and every
query runs with a time limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from provex.graph import loggedsearch
from provex.graph.connection import Graph
from provex.graph.refs import HASH_PROPS, ID_PROPS, display_name
from provex.graph.schema import FULLTEXT_INDEX
from provex.store import query
from provex.vocab.errors import UsageError
from provex.vocab.model import KINDS

MAX_TEXT = 300  # characters searched; longer text is refused
MAX_TERMS = 8  # full-text terms; the rest are ignored
MAX_TERM = 64  # characters of one term
TIMEOUT = 20.0  # seconds per query (the first run of a query includes planning)
_TERM = re.compile(r"\w+")
_LUCENE_SPECIAL = re.compile(r'([+\-!(){}\[\]^"~*?:\\/&|])')
#: The kinds people usually look for first, when several match equally well.
KIND_ORDER = ("Model", "ModelVersion", "Prediction", "DataVersion", "Dataset", "CodeVersion", "Run", "Stage",
              "LoggedModel", "Experiment", "Feature", "Library", "Agent", "Override", "PredictionGroup")
TIERS = {"exact": 3.0, "prefix": 2.0, "fuzzy": 1.0}

_SHOWN = ("name", "version", "path", "hash", "sha", "prediction_id", "run_id", "model_id", "rule", "hour",
          "subject_id", "household_id", "timestamp", "output", "message", "stage", "kind")
_NODE = ("n.uid AS ref, [l IN labels(n) WHERE l <> 'Node'][0] AS label, n {" + ", ".join(f".{p}" for p in _SHOWN)
         + "} AS props")


def _branches(op: str, table: Mapping[str, tuple[str, ...]]) -> list[str]:
    return [f"MATCH (n:{label}) WHERE n.{prop} {op} $text RETURN {_NODE} LIMIT $limit"
            for label, props in table.items() for prop in props]


_EXACT = "\nUNION\n".join([f"MATCH (n:Node) WHERE n.uid IN $uids RETURN {_NODE} LIMIT $limit"]
                          + _branches("=", ID_PROPS))
_PREFIX = "\nUNION\n".join(
    [f"UNWIND $uids AS u MATCH (n:Node) WHERE n.uid STARTS WITH u RETURN {_NODE} LIMIT $limit"]
    + _branches("STARTS WITH", ID_PROPS) + _branches("STARTS WITH", HASH_PROPS))
_FULLTEXT = f"""
CALL db.index.fulltext.queryNodes($index, $lucene, {{limit: $limit}}) YIELD node AS n, score
RETURN {_NODE}, score
"""


def check_text(text: str) -> str:
    """The text stripped; UsageError when empty or longer than :data:`MAX_TEXT`."""
    text = str(text).strip()
    if not text:
        raise UsageError("Nothing to search for: give an id, a name, a path or a hash prefix.")
    if len(text) > MAX_TEXT:
        raise UsageError(f"Search text is {len(text):,} characters; at most {MAX_TEXT} are searched. "
                         "Give an id, a name, a path or a hash prefix.")
    return text


def terms(text: str) -> list[str]:
    """Full-text terms: the word characters of the text, lower-cased, at most
    :data:`MAX_TERMS` of at most :data:`MAX_TERM` characters each."""
    return [t[:MAX_TERM] for t in _TERM.findall(text.lower())][:MAX_TERMS]


def lucene_query(text: str) -> str:
    """Every term must match inside a token (``cust`` finds ``customers.csv``);
    empty when the text has no word characters (nothing to search fuzzily)."""
    words = [_LUCENE_SPECIAL.sub(r"\\\1", w) for w in terms(text)]
    return " AND ".join(f"*{w}*" if len(w) >= 3 else f"{w}*" for w in words)


def _uids(text: str) -> list[str]:
    """The text as a uid, and with each kind prefix in front."""
    prefixes = sorted({k.prefix for k in KINDS.values()})
    return [text] + [f"{p}:{text}" for p in prefixes if not text.startswith(f"{p}:")]


def _rank(label: str | None) -> int:
    return KIND_ORDER.index(label) if label in KIND_ORDER else len(KIND_ORDER)


def _order(hit: Mapping[str, Any]) -> tuple:
    """Tier first; exact and prefix hits by kind, fuzzy ones by score."""
    tier, kind = int(hit["score"]), _rank(hit["label"])
    return (-tier, kind if tier > 1 else 0, -hit["score"], kind, hit["name"], hit["ref"])


def _row(row: Mapping[str, Any], match: str, score: float, where: str = "") -> dict[str, Any]:
    props = {k: v for k, v in (row["props"] or {}).items() if v is not None}
    return {"ref": row["ref"], "label": row["label"], "name": display_name(row["label"], {**props, "uid": row["ref"]}),
            "detail": detail(row["label"], props), "match": match, "score": round(score, 3), "where": where}


def detail(label: str | None, props: Mapping[str, Any]) -> str:
    """A few more facts that tell hits apart (who, when, what)."""
    if label == "Prediction":
        keys = ("subject_id", "household_id", "timestamp", "output")
    elif label == "CodeVersion":
        keys = ("message",)
    elif label == "Run":
        keys = ("kind", "stage")
    else:
        keys = ()
    return " · ".join(f"{k}={props[k]}" for k in keys if props.get(k) not in (None, ""))


def search(graph: Graph, text: str, limit: int = 20) -> list[dict[str, Any]]:
    """Hits for ``text``, best first: ``ref``, ``label``, ``name``, ``detail``,
    ``match`` (exact, prefix or fuzzy), ``score`` and ``where`` (for an
    identifier found where it was logged: a run's param or tag, a metadata
    file, a service's prediction log; :mod:`provex.graph.loggedsearch`).
    Predictions are found in the prediction store (by id, subject or
    household, exactly or by prefix), never as graph nodes: the same whether
    or not they have nodes."""
    text = check_text(text)
    limit = max(1, min(int(limit), 1_000))
    hits: dict[str, dict[str, Any]] = {}
    params = {"text": text, "uids": _uids(text), "limit": limit}
    for match, cypher in (("exact", _EXACT), ("prefix", _PREFIX)):
        for hit in stored_hits(graph, text, match, limit):
            hits.setdefault(hit["ref"], hit)
        for row in graph.read(cypher, params, timeout=TIMEOUT):
            if row["label"] != "Prediction":
                hits.setdefault(row["ref"], _row(row, match, TIERS[match]))
        for row, where in loggedsearch.hits(graph, text, match, limit, TIMEOUT):
            hit = hits.setdefault(row["ref"], _row(row, match, TIERS[match], where))
            if not hit["where"] and hit["match"] == match:
                hit["where"] = where
    lucene = lucene_query(text)
    if lucene and len(hits) < limit:
        rows = graph.read(_FULLTEXT, {"index": FULLTEXT_INDEX, "lucene": lucene, "limit": limit}, timeout=TIMEOUT)
        for row in rows:
            if row["label"] != "Prediction":
                hits.setdefault(row["ref"], _row(row, "fuzzy", TIERS["fuzzy"] + min(float(row["score"]), 100.0) / 101))
    ranked = sorted(hits.values(), key=_order)
    return ranked[:limit]


def stored_hits(graph: Graph, text: str, match: str, limit: int) -> list[dict[str, Any]]:
    """Predictions whose id, subject or household is ``text`` (exact) or starts with it (prefix)."""
    store = graph.facts
    uid = text if text.startswith("prediction:") else f"prediction:{text}"
    if match == "exact":
        rows = query.get(store, [uid]) + query.by_keys(store, [text], limit=limit)
    else:
        uids = query.uid_prefix(store, uid, limit)
        keys = query.key_prefix(store, text, limit)
        rows = query.get(store, uids) + (query.by_keys(store, keys, limit=limit) if keys else [])
    return [_row({"ref": r["uid"], "label": "Prediction", "props": {k: r.get(k) for k in _SHOWN}}, match, TIERS[match])
            for r in rows[:limit]]
