"""The sources' own errors, caught where they arise.

Each adapter names the exceptions its source library raises for bad input or
an unreachable source (MLflow's, DVC's, YAML's, the OS's, HTTP's) in one
tuple, and wraps each call into the library in :func:`mapped`, the way httpx
maps httpcore's exceptions in its transport. Those become
:class:`~provex.vocab.errors.ReadFailed` with one line of text, which the
adapter turns into a Reject naming what was being read. Anything else is a
bug in provex and surfaces as one (a traceback), never as "rejected input".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from provex.vocab.errors import ReadFailed, scrubbed


@contextlib.contextmanager
def mapped(errors: tuple[type[BaseException], ...], what: str, *, all_lines: bool = False) -> Iterator[None]:
    """Re-raise ``errors`` as ReadFailed("<what>: <the error in one line>")."""
    try:
        yield
    except errors as exc:
        raise ReadFailed(f"{what}: {one_line(exc, all_lines=all_lines)}") from exc


def one_line(exc: BaseException, *, all_lines: bool = False) -> str:
    """An error's text (its type when it has none) as one line of at most 300
    characters: its first line, or all its lines joined (DVC puts the detail
    on the second line). A ``user:password@`` in a URL in it is removed (MLflow
    and HTTP errors quote the URL they failed on)."""
    text = scrubbed(str(exc).strip())
    lines = text.splitlines()
    if not lines:
        return type(exc).__name__
    return (" ".join(text.split()) if all_lines else lines[0].strip())[:300]
