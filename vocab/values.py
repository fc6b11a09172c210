"""What a property value may be: the limits of Neo4j and of strict JSON.

Neo4j stores 64-bit integers and UTF-8 text, and a property key with a NUL
in it is refused (with an error that names no record and fails the whole
batch). Strict JSON has no NaN or Infinity. Parsed documents can also be
hostile in their shape: nested thousands deep (Python's recursion limit), or
a YAML "billion laughs" whose aliases expand to billions of values.

:func:`problem` says, for one value, the first of these it breaks (or None).
Adapters call it per record, so a reject names the file and line; the graph
writer calls it again as a safety net for every record it is given.
"""

from __future__ import annotations

import math
import re
from typing import Any

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 64  # nesting levels of lists/objects in one value
MAX_VALUES = 1_000_000  # values in one document once its aliases are expanded
_SURROGATE = re.compile("[\ud800-\udfff]")


def problem(value: Any, *, max_depth: int = MAX_DEPTH, max_values: int = MAX_VALUES,
            finite: bool = True) -> str | None:
    """The first reason ``value`` cannot be stored as it is, or None.

    Shared sub-values (YAML aliases) are walked once and counted every time
    they are referenced, so an alias bomb is caught without expanding it.
    ``finite=False`` lets NaN and Infinity pass (Neo4j stores them; MLflow
    allows a NaN metric): only strict JSON forbids them."""
    if type(value) is dict and _Plain(finite).check(value, max_depth - 1):
        return None
    walk = _Walk(max_depth, max_values, finite)
    walk.size(value, 0)
    return walk.found


class _Plain:
    """The common case, fast: a record of ASCII keys and ordinary values, nested
    a little, that breaks no rule. Anything else (or more than ``BUDGET``
    values: a shared sub-value is walked once per reference here) takes the
    full walk, which says why."""

    BUDGET = 10_000

    def __init__(self, finite: bool) -> None:
        self.finite, self.left = finite, self.BUDGET

    def check(self, value: dict | list, depth: int) -> bool:
        """``value`` is a dict or a list; its scalars are checked inline."""
        self.left -= len(value)
        if depth <= 0 or self.left < 0:
            return False
        items = value.items() if type(value) is dict else enumerate(value)
        for key, item in items:
            if type(key) is str and (not key.isascii() or "\x00" in key):
                return False
            kind = type(item)
            if kind is str:
                if not item.isascii():
                    return False
            elif kind is float:
                if self.finite and not math.isfinite(item):
                    return False
            elif kind is int:
                if not INT_MIN <= item <= INT_MAX:
                    return False
            elif kind is dict or kind is list:
                if not self.check(item, depth - 1):
                    return False
            elif item is not None and kind is not bool:
                return False
        return True


class _Walk:
    def __init__(self, max_depth: int, max_values: int, finite: bool) -> None:
        self.max_depth, self.max_values, self.finite = max_depth, max_values, finite
        self.total = 0
        self.found: str | None = None
        self.sizes: dict[int, int] = {}  # id(container) -> expanded size

    def size(self, value: Any, depth: int) -> int:
        if self.found:
            return 0
        if isinstance(value, (dict, list, tuple)):
            return self._container(value, depth)
        self.total += 1
        if self.finite or not isinstance(value, float):
            self.found = scalar_problem(value)
        return 1

    def _container(self, value: dict | list | tuple, depth: int) -> int:
        if id(value) in self.sizes:  # an alias of something already walked
            self.total += self.sizes[id(value)]
            if self.total > self.max_values:
                self.found = f"expands to more than {self.max_values:,} values (a YAML alias bomb?)"
            return self.sizes[id(value)]
        if depth >= self.max_depth:
            self.found = f"is nested more than {self.max_depth} levels deep"
            return 0
        self.total += 1
        size = 1
        items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
        for key, item in items:
            if key is not None:
                self.found = self.found or key_problem(key)
            size += self.size(item, depth + 1)
            if self.found:
                return size
            if self.total > self.max_values:
                self.found = f"expands to more than {self.max_values:,} values (a YAML alias bomb?)"
                return size
        self.sizes[id(value)] = size
        return size


def scalar_problem(value: Any) -> str | None:
    """Out-of-range integers, NaN/Infinity, text that is not valid Unicode."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            return (f"holds the integer {_abbrev(value)}, outside the 64-bit range Neo4j stores; "
                    "write it as text (in quotes)")
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"holds {value!r}, which is not a finite number (nor valid JSON); write null or a number"
        return None
    if isinstance(value, str) and _SURROGATE.search(value):
        return "holds a lone UTF-16 surrogate (e.g. \\ud800), which is not valid Unicode; fix the text encoding"
    return None


def key_problem(key: Any) -> str | None:
    """A field name Neo4j cannot use as a property key."""
    text = str(key)
    if "\x00" in text:
        return f"has a field name with a NUL character ({text!r}); rename the field"
    if _SURROGATE.search(text):
        return "has a field name with a lone UTF-16 surrogate; fix the text encoding"
    return None


def _abbrev(value: int) -> str:
    digits = str(abs(value)) if value.bit_length() < 10_000 else None
    if digits is None:
        return f"of {value.bit_length()} bits"
    sign = "-" if value < 0 else ""
    return sign + (digits if len(digits) <= 24 else f"{digits[:12]}...({len(digits)} digits)")
