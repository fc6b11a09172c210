"""What every command group shares: the error-to-exit-code group, the
connection context, ``--param`` parsing and the ``--format`` option.

Exit codes: 0 ok, 1 failure, 2 usage or bad input. Errors print one message
saying what failed and how to fix it, never a traceback. While a command
runs, what it prints goes through :mod:`provex.app.terminal`.
"""

from __future__ import annotations

import contextlib
import math
import re
import sys
import threading
from collections.abc import Iterator

import click

from provex.app import terminal
from provex.app.output import FORMATS
from provex.graph.connection import Graph
from provex.vocab.errors import ProvexError, UsageError
from provex.vocab.values import INT_MAX, INT_MIN

#: The shortest query time limit: the driver sends whole milliseconds, and 0 means no limit at all.
MIN_TIMEOUT = 0.001
_INTEGER = re.compile(r"^\s*[+-]?[0-9](?:_?[0-9])*\s*$")  # what int() reads as a decimal integer


class Group(click.Group):
    """Turns provex errors into a message and an exit code."""

    def invoke(self, ctx: click.Context) -> object:
        with terminal.guarded():  # everything printed: no URI credentials, no terminal controls from the data
            try:
                return super().invoke(ctx)
            except ProvexError as exc:
                click.echo(f"error: {exc}", err=True)
                sys.exit(exc.exit_code)
            except KeyboardInterrupt:
                click.echo("interrupted", err=True)
                sys.exit(130)


@contextlib.contextmanager
def connected() -> Iterator[Graph]:
    graph = Graph.connect()
    try:
        yield graph
    finally:
        graph.close()


def parse_params(pairs: tuple[str, ...], *, typed: bool = True) -> dict[str, object]:
    """``k=v`` pairs. ``typed``: integers (64-bit, as Neo4j stores them) and
    finite floats are converted, the rest stay text (``nan``, ``inf`` included);
    else every value stays text (a question converts its own, by declared type)."""
    params: dict[str, object] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"Bad --param {pair!r}: write it as name=value.")
        params[name] = _number(name, value) if typed else value
    return params


def _number(name: str, value: str) -> object:
    if _INTEGER.match(value):
        digits = value.strip().replace("_", "").lstrip("+-").lstrip("0")
        number = int(value) if len(digits) <= 19 else None  # int() refuses more than 4,300 digits
        if number is None or not INT_MIN <= number <= INT_MAX:
            raise UsageError(f"--param {name}={value[:40]}{'...' if len(value) > 40 else ''} is beyond Neo4j's 64-bit "
                             f"integers ({INT_MIN} to {INT_MAX}); give a smaller number.")
        return number
    with contextlib.suppress(ValueError):
        real = float(value)
        if math.isfinite(real):
            return real
    return value


class Seconds(click.ParamType):
    """A time in seconds: a finite number, at least ``minimum`` (above it when
    ``above``), at most what a wait can take (``threading.TIMEOUT_MAX``, ~292
    years). ``nan``, ``inf`` and negative values are usage errors (exit 2)."""

    name = "seconds"

    def __init__(self, minimum: float = 0.0, *, above: bool = False) -> None:
        self.minimum, self.above = minimum, above

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds.", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number of seconds.", param, ctx)
        if number > threading.TIMEOUT_MAX:
            self.fail(f"{value!r} is too long; give at most {threading.TIMEOUT_MAX:g} seconds.", param, ctx)
        if number < self.minimum or (self.above and number == self.minimum):
            self.fail(f"{value!r} must be {'more than' if self.above else 'at least'} {self.minimum:g} (seconds).", param, ctx)
        return number


format_option = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                             help="Output format: table for people, json or csv for scripts.")
