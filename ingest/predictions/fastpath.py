"""The fast path for the lines of a serving log that all look alike.

A service writes millions of lines with the same fields. The general path
(strict JSON, inference, mapping, validation: :mod:`.mapping`, :mod:`.infer`)
reads the first line of each *shape* (its keys, in order); when what it
made of that line is a plain renaming of the line's fields to provex names,
the shape gets a plan, and the following lines of that shape are read by
:meth:`FastPath.row`: orjson, the plan's renames, and type checks that are
the general path's rules for these fields (64-bit integers, finite numbers,
text ids, a canonical UTC time). Any line the checks do not clear (a
duplicate key may hide in it, a number of 19+ digits, a null, a nested
input, another time format...) goes the general path, which says exactly
what is wrong with it. Both paths give the same fact for the same line.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import Any

import orjson

from provex.ingest.predictions.facts import dumps
from provex.ingest.predictions.mapping import TEMPLATE_TOKENS, Mapping
from provex.vocab import model
from provex.vocab.values import INT_MAX, INT_MIN

#: Fields a planned line may carry (after renaming); anything else takes the general path.
PLANNED = ("prediction_id", "timestamp", "model_name", "model_version", "output", "score", "inputs",
           "input_hash", "subject_id", "household_id", "feature_pipeline", "upstream")
IDS = ("subject_id", "household_id", "input_hash", "feature_pipeline")  # in vocab.facts.FIELDS order
_SPACE_AFTER_QUOTE = re.compile(rb'"[ \t\r\n]')  # a key written `"k" :` (the key count below needs `":`)
_EXACT = 2.0**53  # a float this large may be a long integer literal orjson read as float: the general path decides
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}):[0-5]\d:[0-5]\d(\.\d{1,6})?Z$")
_SCALARS = (str, int, float, bool)
MAX_PLANS = 64  # shapes remembered per file


class FastPath:
    def __init__(self, mapping: Mapping) -> None:
        constant = all(not (isinstance(v, str) and any(t in v for t in TEMPLATE_TOKENS)) for v in mapping.defaults.values())
        self.enabled = constant and not any(k.startswith(("input.", "override.")) for k in mapping.defaults)
        self.defaults = {k: v for k, v in mapping.defaults.items() if k in PLANNED} if self.enabled else {}
        self.plans: dict[tuple[str, ...], tuple[tuple[tuple[str, str], ...], Counter] | None] = {}
        self.hours: dict[str, bool] = {}
        self.notes: Counter = Counter()  # what the general path would have counted as inferred, for planned lines
        self.last_inputs: dict[str, Any] | None = None

    # ---- learning from the general path -------------------------------------------------------

    def learn(self, raw: dict[str, Any], docs: list[dict[str, Any]], canonical: dict[str, Any], notes: Counter,
              mapping: Mapping) -> None:
        """After the general path read a line of a new shape: plan the shape
        when the result is a plain renaming of the line's fields."""
        shape = tuple(raw)
        if not self.enabled or shape in self.plans or len(self.plans) >= MAX_PLANS:
            return
        self.plans[shape] = self._plan(raw, docs, canonical, mapping, notes)

    def _plan(self, raw: dict[str, Any], docs: list[dict[str, Any]], canonical: dict[str, Any], mapping: Mapping,
              notes: Counter) -> tuple | None:
        if len(docs) != 1 or any(v is None for v in raw.values()):
            return None
        doc = docs[0]
        renames = []
        for key, value in raw.items():
            target = next((k for k, v in doc.items() if v is value), None)
            name = mapping.fields.get(target, target) if target is not None else None
            if name not in PLANNED or canonical.get(name) is not value:
                return None
            renames.append((key, name))
        if len(doc) != len(raw) or set(canonical) - set(dict(renames).values()) - set(self.defaults):
            return None
        if not ({"model_name", "model_version"} <= set(canonical)):
            return None
        return tuple(renames), notes

    # ---- one line -------------------------------------------------------------------------------

    def row(self, raw: bytes, source: str, number: int) -> list[Any] | None:
        """The fact for a line of a planned shape, or None (the general path reads it)."""
        if not self.enabled or not self.plans:
            return None
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if type(doc) is not dict:
            return None
        planned = self.plans.get(tuple(doc))
        if planned is None:
            return None
        renames, notes = planned
        if raw.count(b'":') != _keys(doc) or _SPACE_AFTER_QUOTE.search(raw):
            return None  # a duplicate key may hide here: the general path tells
        rec = {**self.defaults, **{name: doc[key] for key, name in renames}}
        values = self._fact(rec, source, number)
        if values is not None and notes:
            self.notes.update(notes)
        return values

    def _fact(self, rec: dict[str, Any], source: str, number: int) -> list[Any] | None:
        pid, stamp = rec["prediction_id"], rec["timestamp"]
        name, version = rec["model_name"], rec["model_version"]
        if type(pid) is not str or not pid or type(name) is not str or not name or type(version) not in (str, int):
            return None
        version = str(version)
        if not version or (type(rec["model_version"]) is int and not INT_MIN <= rec["model_version"] <= INT_MAX):
            return None
        hour = self._hour(stamp)
        output, score, inputs = rec["output"], rec.get("score"), rec.get("inputs")
        if hour is None or not _scalar(output) or not (score is None or (type(score) in (int, float) and _scalar(score))):
            return None
        if inputs is not None and not _inputs(inputs):
            return None
        self.last_inputs = inputs
        ids = [rec.get(k) for k in IDS]
        for v in ids:
            if v is not None and (type(v) is not str or not v):
                return None
        upstream = rec.get("upstream")
        if upstream is not None and (type(upstream) is not list or not all(type(u) is str for u in upstream)):
            return None
        ups = [f"prediction:{u}" for u in upstream] if upstream else None
        return [
            "prediction:" + pid, pid, stamp, hour, f"{name}@{version}", name, version, None, None, None,
            model.model_version(name, version).uid, *ids,
            dumps(inputs) if inputs else None, dumps(output), score, ups or None, None, None, None, source, number,
        ]

    def _hour(self, stamp: Any) -> str | None:
        """``YYYY-MM-DDTHH`` of a canonical UTC time (its hour checked once), else None."""
        if type(stamp) is not str:
            return None
        match = _TIME.match(stamp)
        if match is None:
            return None
        hour = match.group(1)
        valid = self.hours.get(hour)
        if valid is None:
            try:
                datetime.fromisoformat(hour + ":00:00+00:00")
                valid = True
            except ValueError:
                valid = False
            self.hours[hour] = valid
        if not valid:
            return None
        fraction = match.group(2)
        if fraction and (len(fraction) != 7 or fraction == ".000000"):
            return None  # fractions are written back with 6 digits (none when zero): the general path normalises them
        return hour


def _keys(doc: dict[str, Any]) -> int:
    n = len(doc)
    for value in doc.values():
        if type(value) is dict:
            n += len(value)
    return n


def _scalar(value: Any) -> bool:
    """A value the general path stores as it is (orjson reads no NaN or Infinity)."""
    kind = type(value)
    if kind is float:
        return -_EXACT < value < _EXACT
    if kind is int:
        return INT_MIN <= value <= INT_MAX
    return kind is str or kind is bool


def _inputs(inputs: Any) -> bool:
    if type(inputs) is not dict:
        return False
    for value in inputs.values():
        kind = type(value)
        if kind is float:
            if not -_EXACT < value < _EXACT:
                return False
        elif kind is int:
            if not INT_MIN <= value <= INT_MAX:
                return False
        elif not (kind is str or kind is bool or value is None):
            return False
    return "\x00" not in "".join(inputs)
