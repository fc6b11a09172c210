"""Timestamps from logs and events, normalised to UTC ISO 8601 text.

Shared by the prediction-log and OpenLineage adapters. Accepts ISO 8601 with
``Z`` or an offset (nanoseconds are cut to microseconds), dates, and epoch
numbers (seconds, or milliseconds when larger than 1e11). A time without a
zone is taken as UTC; callers flag that.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_EPOCH_MS = 1e11  # larger epoch numbers are milliseconds
_EPOCH_TEXT = re.compile(r"^[0-9]{9,13}(\.[0-9]+)?$")  # epoch seconds or ms written as text


class TimeParseError(ValueError):
    """The value is not a timestamp; the message says what was expected."""


def parse(value: object) -> tuple[datetime, bool]:
    """``(aware UTC datetime, had_zone)`` for a timestamp value."""
    if isinstance(value, bool) or value is None:
        raise TimeParseError(f"expected an ISO 8601 timestamp, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > _EPOCH_MS else value
        try:
            return datetime.fromtimestamp(seconds, UTC), True
        except (OverflowError, OSError, ValueError):
            raise TimeParseError(f"epoch number {value!r} is out of range") from None
    if not isinstance(value, str):
        raise TimeParseError(f"expected an ISO 8601 timestamp string, got {type(value).__name__}")
    if _EPOCH_TEXT.match(value.strip()):
        return parse(float(value))
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise TimeParseError(
            f"{value[:60]!r} is not an ISO 8601 timestamp (e.g. 2026-04-02T10:15:00Z)") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC), False
    return parsed.astimezone(UTC), True


def to_text(moment: datetime) -> str:
    """UTC ISO text with ``Z``: whole seconds, or microseconds when present."""
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def normalise(value: object) -> tuple[str, bool]:
    """``(UTC ISO text, had_zone)``; raises :class:`TimeParseError`."""
    moment, zoned = parse(value)
    return to_text(moment), zoned
