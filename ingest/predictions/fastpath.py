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
_SCALARS = (str, int, float, bool)
MAX_PLANS = 64  # shapes remembered per file


class FastPath:
    def __init__(self, mapping: Mapping) -> None:
        constant = all(not (isinstance(v, str) and any(t in v for t in TEMPLATE_TOKENS)) for v in mapping.defaults.values())
        self.enabled = constant and not any(k.startswith(("input.", "override.")) for k in mapping.defaults)
        self.defaults = {k: v for k, v in mapping.defaults.items() if k in PLANNED} if self.enabled else {}
        self.plans: dict[tuple[str, ...], tuple[tuple[tuple[str, str], ...], Counter] | None] = {}
        self.hours: dict[str, bool] = {}
        self.versions: dict[tuple[str, str], str] = {}
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
        stamp, hour = self._time(stamp)
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
            self._version_uid(name, version), *ids,
            dumps(inputs) if inputs else None, dumps(output), score, ups or None, None, None, None, source, number,
        ]

    def _version_uid(self, name: str, version: str) -> str:
        uid = self.versions.get((name, version))
        if uid is None:
            uid = self.versions[(name, version)] = model.model_version(name, version).uid
        return uid

    def _time(self, stamp: Any) -> tuple[str | None, str | None]:
        """``(UTC text as the general path writes it, YYYY-MM-DDTHH)`` of a time
        written ``YYYY-MM-DDTHH:MM:SS[.f]Z`` (its hour checked once), else (None, None)."""
        if type(stamp) is not str or len(stamp) < 20 or stamp[-1] != "Z" or stamp[13] != ":" or stamp[16] != ":":
            return None, None
        hour, minute, second = stamp[:13], stamp[14:16], stamp[17:19]
        if not ((minute + second).isascii() and (minute + second).isdigit() and minute < "60" and second < "60"):
            return None, None
        valid = self.hours.get(hour)
        if valid is None:
            valid = self.hours[hour] = _valid_hour(hour)
        if not valid:
            return None, None
        if len(stamp) == 20:
            return stamp, hour
        fraction = stamp[19:-1]
        if len(fraction) < 2 or len(fraction) > 7 or fraction[0] != "." or not (fraction[1:].isascii() and fraction[1:].isdigit()):
            return None, None  # nanoseconds and other forms: the general path normalises them
        digits = fraction[1:].ljust(6, "0")
        return (stamp[:19] + "Z" if digits == "000000" else f"{stamp[:19]}.{digits}Z"), hour


def _valid_hour(hour: str) -> bool:
    digits = hour[:4] + hour[5:7] + hour[8:10] + hour[11:13]
    if not (len(hour) == 13 and hour[4] == "-" and hour[7] == "-" and hour[10] == "T" and digits.isascii() and digits.isdigit()):
        return False
    try:
        datetime.fromisoformat(hour + ":00:00+00:00")
    except ValueError:
        return False
    return True


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
