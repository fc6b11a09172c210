"""Tables for people: which way each column's numbers are written, for the
CLI tables (:mod:`provex.app.output`) and the app's tables (a pandas Styler:
the values stay numbers, so columns still sort as numbers; only what is
shown changes). The number functions themselves are
:mod:`provex.vocab.numbers` (headlines use them too).

A column is read by its name: ``ratio``/``factor`` are ratios (``35.3x``),
``change`` a relative change (``−95%``) when it holds a number (attribution's
``change`` is a word), ``share``/``null_rate`` shares (``68.1%``), ids and
versions are written as they are, other numbers with significant digits and
thousands separators. Missing values are ``—``. ``--format json/csv``
never come here: scripts get raw values.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd

from provex.vocab import numbers as num

MAX_CELL = 300  # characters of one table cell before the ellipsis
#: Above this many cells a table is shown as text without a Styler (pandas refuses to style
#: more than 262,144 cells, and styling costs about 10 microseconds a cell).
STYLE_LIMIT = 100_000

RATIO_COLUMNS = frozenset({"ratio", "factor"})
CHANGE_COLUMNS = frozenset({"change", "relative_change"})
PERCENT_COLUMNS = frozenset({"share", "share_of_difference", "null_rate"})
#: Integers in these columns are identifiers, not quantities: no separators (a year stays 2026).
RAW_SUFFIXES = ("id", "version", "year", "port", "pid")


def kind_of(column: str) -> str:
    """How a column's numbers are written: ratio, change, percent, raw or number."""
    name = str(column).lower()
    if name in RATIO_COLUMNS or name.endswith(("_ratio", "_factor")):
        return "ratio"
    if name in CHANGE_COLUMNS:
        return "change"
    if name in PERCENT_COLUMNS or name.endswith("_share"):
        return "percent"
    if name.endswith(RAW_SUFFIXES):
        return "raw"
    return "number"


_WRITERS: dict[str, Callable[[Any], str]] = {
    "ratio": num.ratio, "change": num.change, "percent": num.percent, "number": num.number,
    "raw": lambda v: num.number(v) if isinstance(v, float) and not float(v).is_integer() else str(int(v)),
}


def cell(value: Any, column: str = "", limit: int = MAX_CELL) -> str:
    """One cell as text: numbers by the column's kind, ``—`` when missing,
    compact JSON for nested values, cut at ``limit`` characters."""
    if isinstance(value, (dict, list, tuple)):
        text = json.dumps(value, default=str)
    elif num.missing(value):
        return num.EMPTY
    elif num.is_number(value):
        text = _WRITERS[kind_of(column)](value)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def styled(frame: Any, styles: Callable[[Any], list[str]] | None = None) -> Any:
    """A pandas Styler showing ``frame`` for people; ``styles(row) -> [css per
    cell]`` adds row highlighting. Complete columns of one type keep their
    values (they sort as numbers). A column mixing numbers and text (a
    comparison's ``a`` and ``b``), or with missing values (which the table
    would show as ``None`` whatever the Styler says), holds the text shown."""
    data = frame.copy()
    if data.size > STYLE_LIMIT:  # too big to style: the text shown, no highlighting
        return pd.DataFrame({col: [cell(v, col) for v in data[col]] for col in data.columns}, index=data.index)
    for col in data.columns:
        values = data[col]
        if values.map(num.missing).any() or (values.dtype == object and values.dropna().map(type).nunique() > 1):
            data[col] = [cell(v, col) for v in values]
    shown = data.style.format({col: (lambda v, c=col: cell(v, c)) for col in data.columns}, na_rep=num.EMPTY)
    return shown.apply(styles, axis=1) if styles else shown
