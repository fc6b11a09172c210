"""DVC's own errors, caught where DVC raises them (see :mod:`provex.ingest.failures`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ruamel.yaml.error import YAMLError

from provex.ingest.failures import mapped, one_line
from provex.vocab.errors import ReadFailed

#: What DVC's resolver raises on input it does not expect, beside its own
#: errors: an assert on ``matrix: {}`` or ``foreach`` without ``do``, a
#: TypeError on ``stages:`` left empty, a KeyError on a missing variable.
DVC_CRASHES = (TypeError, AttributeError, LookupError, ValueError, AssertionError, ArithmeticError)


@contextlib.contextmanager
def dvc_errors(what: str, data: Any) -> Iterator[None]:
    """DVC's own errors while it parses and resolves the dvc.yaml ``data``
    (templating, vars files, foreach/matrix) become ReadFailed("<what>: ...").
    So does any exception DVC raises on input it did not expect: the file (or
    stage) is set aside with DVC's schema message when its schema rejects the
    data, else with DVC's own message, and the other stages are still read."""
    from dvc.exceptions import DvcException

    try:
        with mapped((DvcException, YAMLError, OSError, RecursionError), what, all_lines=True):
            yield
    except DVC_CRASHES as exc:
        invalid = schema_problem(data)
        if invalid is not None:
            raise ReadFailed(f"{what}: not a valid dvc.yaml ({invalid}); fix it as `dvc repro` would ask") from None
        raise ReadFailed(f"{what}: DVC failed on it ({type(exc).__name__}: {one_line(exc)}); "
                         "check this stage's foreach/matrix/vars and run `dvc repro --dry` on it") from None


def schema_problem(data: Any) -> str | None:
    """What DVC's own dvc.yaml schema says is wrong with ``data``, or None."""
    from dvc.schema import COMPILED_MULTI_STAGE_SCHEMA
    from voluptuous import Invalid

    try:
        COMPILED_MULTI_STAGE_SCHEMA(data)
    except Invalid as exc:
        return " ".join(str(exc).split())[:300]
    return None
