"""What every command group shares: the error-to-exit-code group, the
connection context, ``--param`` parsing and the ``--format`` option.

Exit codes: 0 ok, 1 failure, 2 usage or bad input. Errors print one message
saying what failed and how to fix it, never a traceback. While a command
runs, what it prints goes through :mod:`provex.app.terminal`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import click

from provex.app import terminal
from provex.app.output import FORMATS
from provex.graph.connection import Graph
from provex.vocab.errors import ProvexError, UsageError


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


def parse_params(pairs: tuple[str, ...]) -> dict[str, object]:
    """``k=v`` pairs; integers and floats are converted, the rest stay text."""
    params: dict[str, object] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"Bad --param {pair!r}: write it as name=value.")
        params[name] = _number(value)
    return params


def _number(value: str) -> object:
    for cast in (int, float):
        with contextlib.suppress(ValueError):
            return cast(value)
    return value


format_option = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                             help="Output format: table for people, json or csv for scripts.")
