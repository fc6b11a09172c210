"""Numbers for people: one way to write a number, a ratio, a change and a
missing value, shared by the CLI tables, the app's tables and the headlines.

Pure functions of a value (no pandas, nothing of provex), so every layer can
use them: ``graph/`` for headlines, ``app/`` for tables (through
:mod:`provex.app.humanize`, which picks a function per column). Scripts get
raw values (``--format json/csv``): nothing here is applied to them.

- ``number(2960.3629425216695)`` -> ``2,960.36`` (six significant digits, never
  fewer than the integer digits); ``number(2960.36, BRIEF)`` -> ``2,960``.
- ``ratio(35.3)`` -> ``35.3x``; ``ratio(0.0491)`` -> ``20.4x lower``.
- ``change(-0.9509)`` -> ``−95%`` (a relative change; U+2212 minus).
- ``percent(0.6812)`` -> ``68.1%`` (a share or a rate).
- a missing value (None, NaN, empty text) -> ``—``.
"""

from __future__ import annotations

import math
from typing import Any

EMPTY = "\u2014"  # an em dash: nothing to show
MINUS = "\u2212"  # the minus sign (not the hyphen)
TIMES = "x"
#: Significant digits in tables, and in sentences (headlines).
SIGNIFICANT, BRIEF = 6, 4
#: Below this magnitude (and from 10**15 up) numbers are written in scientific notation.
TINY, HUGE = 1e-4, 1e15


def missing(value: Any) -> bool:
    """None, NaN (pandas' and numpy's too) or an empty/blank text."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return not value.strip()
    if type(value).__name__ == "NAType":  # pandas.NA, without importing pandas
        return True
    try:  # numpy.nan, pandas.NaT and friends
        return bool(value != value)
    except (TypeError, ValueError):
        return False


def is_number(value: Any) -> bool:
    """An int or a float (numpy's too), not a bool, not missing."""
    if isinstance(value, bool) or missing(value):
        return False
    if isinstance(value, (int, float)):
        return True
    kind = type(value).__module__ + "." + type(value).__name__
    return kind.startswith("numpy.") and hasattr(value, "dtype") and value.dtype.kind in "iuf"


def _signed(text: str, negative: bool, plus: bool = False) -> str:
    return (MINUS if negative else "+" if plus else "") + text


def number(value: Any, significant: int = SIGNIFICANT) -> str:
    """A number with thousands separators and ``significant`` digits (the
    integer part is never cut: 1234567.8 -> 1,234,568); integers as they are."""
    if missing(value):
        return EMPTY
    if not is_number(value):
        return str(value)
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return _signed(f"{abs(int(value)):,}", int(value) < 0)
    value = float(value)
    if math.isinf(value):
        return _signed("\u221e", value < 0)
    size = abs(value)
    if size == 0:
        return "0"
    if size < TINY or size >= HUGE:
        mantissa, _, exponent = f"{size:.{significant - 1}e}".partition("e")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return _signed(f"{mantissa}e{int(exponent)}", value < 0)
    decimals = max(0, significant - 1 - math.floor(math.log10(size)))
    text = f"{size:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return _signed(text, value < 0 and text != "0")


def ratio(value: Any, significant: int = 3) -> str:
    """How many times: ``35.3x``; below 1 as the inverse, ``20.4x lower`` (0.0491)."""
    if not is_number(value):
        return EMPTY if missing(value) else str(value)
    value = float(value)
    if value == 0 or math.isinf(value):
        return number(value) + TIMES
    size = abs(value)
    if size >= 1:
        return _signed(number(size, significant), value < 0) + TIMES
    return _signed(number(1 / size, significant), value < 0) + TIMES + " lower"


def change(value: Any, significant: int = 2) -> str:
    """A relative change (b / a - 1) in percent with its sign: ``−95%``, ``+28%``, ``+5.3%``."""
    if not is_number(value):
        return EMPTY if missing(value) else str(value)
    pct = float(value) * 100
    if pct == 0:
        return "0%"
    return _signed(number(abs(pct), significant), pct < 0, plus=True) + "%"


def percent(value: Any, significant: int = 3) -> str:
    """A share or a rate (0.6812) in percent: ``68.1%``."""
    if not is_number(value):
        return EMPTY if missing(value) else str(value)
    return number(float(value) * 100, significant) + "%"


def factor_words(a: Any, b: Any, significant: int = 3) -> str:
    """``20.4x lower`` / ``35.3x higher`` / ``the same``: b against a (both non-zero, same sign)."""
    if not (is_number(a) and is_number(b)) or float(a) == 0 or float(b) / float(a) <= 0:
        return ""
    r = float(b) / float(a)
    if r == 1:
        return "the same"
    return number(r if r > 1 else 1 / r, significant) + TIMES + (" higher" if r > 1 else " lower")
