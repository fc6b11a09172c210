"""DVC's own errors, caught where DVC raises them (see :mod:`provex.ingest.failures`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ruamel.yaml.error import YAMLError

from provex.ingest.failures import mapped
from provex.vocab.errors import ReadFailed


@contextlib.contextmanager
def dvc_errors(what: str, data: Any) -> Iterator[None]:
    """DVC's own errors while it resolves the dvc.yaml ``data`` (templating,
    vars files, foreach/matrix) become ReadFailed("<what>: ..."). DVC resolves
    only files its schema accepts; when it trips over one (a TypeError on
    ``stages:`` left empty, an assert on ``foreach`` without ``do``), DVC's schema says what is wrong with the file. A
    crash on a file the schema accepts is a bug, and surfaces as one."""
    from dvc.exceptions import DvcException

    try:
        with mapped((DvcException, YAMLError, OSError, RecursionError), what, all_lines=True):
            yield
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, AssertionError):
        invalid = schema_problem(data)
        if invalid is None:
            raise
        raise ReadFailed(f"{what}: not a valid dvc.yaml ({invalid}); fix it as `dvc repro` would ask") from None


def schema_problem(data: Any) -> str | None:
    """What DVC's own dvc.yaml schema says is wrong with ``data``, or None."""
    from dvc.schema import COMPILED_MULTI_STAGE_SCHEMA
    from voluptuous import Invalid

    try:
        COMPILED_MULTI_STAGE_SCHEMA(data)
    except Invalid as exc:
        return " ".join(str(exc).split())[:300]
    return None
