"""JSON text as the sources write it, read strictly: no NaN or Infinity
(strict JSON has neither, and they would come back out as bare ``NaN``), no
recursion crash on deep nesting, no integer parse of thousands of digits,
and the keys that appear twice in one object reported (the last one wins,
as in ``json.loads``, but it is flagged, not silent)."""

from __future__ import annotations

import json
from typing import Any

from provex.vocab import values


class JSONTextError(ValueError):
    """Text that is not one strict JSON value; the message is the reason."""


def loads(text: str | bytes) -> tuple[Any, list[str]]:
    """The value, and the keys that appeared more than once in one object."""
    dupes: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) != len(items):
            seen: set[str] = set()
            dupes.extend(k for k, _ in items if k in seen or seen.add(k))
        return obj

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=_no_constant), dupes
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise JSONTextError(f"JSON nested too deeply to read; provex keeps at most {values.MAX_DEPTH} levels: "
                            "flatten the record") from None
    except ValueError as exc:  # NaN/Infinity (below), or an integer of more than 4300 digits
        raise JSONTextError(f"not valid JSON ({exc}); write numbers as finite values, or as text") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number: strict JSON has no NaN or Infinity")


def duplicate_note(dupes: list[str]) -> str:
    return (f"key(s) {', '.join(map(repr, dict.fromkeys(dupes[:5])))} appear more than once in one object; "
            "the last value was kept")
