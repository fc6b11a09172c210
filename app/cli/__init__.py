"""provex: the command line. Each command's help is its docstring; one module
per command group (``server``, ``explore``, ``ingest``, ``questions``,
``app``), all built on :mod:`provex.app.cli.base`.

Exit codes: 0 ok, 1 failure, 2 usage or bad input, 3 another ingest holds the
lock. Errors print one message saying what failed and how to fix it, never a
traceback.
"""

from __future__ import annotations

import click

from provex.app.cli import app, explore, ingest, questions, reproduce, server
from provex.app.cli.base import Group


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """provex: ML provenance explorer. DVC, MLflow, prediction logs and
    OpenLineage joined in one Neo4j graph, for debugging bad predictions."""


for command in [server.neo4j, *explore.COMMANDS, ingest.ingest, ingest.watch, *questions.COMMANDS, app.app,
                *reproduce.COMMANDS]:
    cli.add_command(command)


def main() -> None:
    cli(prog_name="provex")
