"""A fast start: the command line defers its heavy libraries until a command uses them.

``provex --help`` and ``provex ask`` (the catalog) need neither the Neo4j driver
nor pandas, but modules they import name them at the top (``import neo4j``,
``import pandas as pd``). :func:`defer` puts a stand-in module in ``sys.modules``
for each: the import statement binds it at once, and the real library is
imported on the first attribute access (when a command connects or builds a
frame); from then on the stand-in forwards to it. (The standard library's
``LazyLoader`` does not help here: on Python 3.11 the import statement itself
reads ``__spec__``, which makes it load.) ``from lib import name`` still loads
at once. bench/REPORT.md ("CLI start") has the measured times.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

HEAVY = ("neo4j", "pandas")


class Deferred(types.ModuleType):
    """Stands in for a library until its first use, then forwards to it."""

    def __getattribute__(self, attr: str) -> Any:
        if attr in ("__name__", "__spec__"):  # what the import statement reads: no load
            return super().__getattribute__(attr)
        return getattr(load(super().__getattribute__("__name__")), attr)


def load(name: str) -> types.ModuleType:
    """The real module (imported now if only its stand-in is there)."""
    module = sys.modules.get(name)
    if module is None or type(module) is Deferred:
        sys.modules.pop(name, None)
        module = importlib.import_module(name)
    return module


def defer(*names: str) -> None:
    """Put a stand-in for each library that is installed and not imported yet."""
    for name in names or HEAVY:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        stand_in = Deferred(name)
        stand_in.__spec__ = spec
        sys.modules[name] = stand_in
