"""Comparing a re-computed value with the logged one, and saying how.

Logged outputs are often post-processed (the sample's serving rounds limits
to tens: 207.88 is logged as 210). A replay is ``reproduced`` when the value
equals the logged one as it is, or after rounding to the logged precision
(the post-processing is stated); ``reproduced-within-tolerance`` when it is
within the stated tolerance; ``differs`` otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

OUTCOMES = ("reproduced", "reproduced-within-tolerance", "differs", "could-not-run")
MIN_DECIMALS, MAX_DECIMALS = -3, 10
REL_TOLERANCE = 1e-6
_UNITS = {-1: "tens", -2: "hundreds", -3: "thousands"}


@dataclass(frozen=True)
class Comparison:
    outcome: str
    post_processing: str
    tolerance: str = ""
    ratio: float | None = None


def logged_decimals(value: float) -> int:
    """The precision a logged number was written with: the fewest decimals
    (negative: tens, hundreds, ...) that leave it unchanged."""
    if value == 0 or not math.isfinite(value):
        return MAX_DECIMALS
    for digits in range(MIN_DECIMALS, MAX_DECIMALS + 1):
        if math.isclose(round(value, digits), value, rel_tol=1e-12, abs_tol=1e-12):
            return digits
    return MAX_DECIMALS


def describe_rounding(digits: int) -> str:
    if digits < 0:
        return f"rounded to {_UNITS.get(digits, f'10^{-digits}')} (the logged precision)"
    return f"rounded to {digits} decimal{'s' if digits != 1 else ''} (the logged precision)"


def post_process(value: float, logged: float) -> float:
    """``value`` rounded the way ``logged`` was written."""
    return round(value, logged_decimals(logged))


def compare(value: float, logged: float) -> Comparison:
    """How ``value`` (re-computed) relates to ``logged``."""
    ratio = value / logged if logged else None
    if math.isclose(value, logged, rel_tol=1e-12, abs_tol=1e-12):
        return Comparison("reproduced", "none (equal as computed)", ratio=ratio)
    digits = logged_decimals(logged)
    if digits < MAX_DECIMALS and math.isclose(round(value, digits), logged, rel_tol=1e-12, abs_tol=1e-12):
        return Comparison("reproduced", describe_rounding(digits), ratio=ratio)
    half_unit = 0.5 * 10 ** (-digits) if digits < MAX_DECIMALS else 0.0
    tolerance = max(half_unit * (1 + 1e-9), REL_TOLERANCE * abs(logged))
    stated = f"|replayed - logged| <= {tolerance:.6g} (half a unit of the logged precision, or {REL_TOLERANCE:g} relative)"
    if abs(value - logged) <= tolerance:
        return Comparison("reproduced-within-tolerance", describe_rounding(digits), stated, ratio)
    return Comparison("differs", describe_rounding(digits) if digits < MAX_DECIMALS else "none", stated, ratio)
