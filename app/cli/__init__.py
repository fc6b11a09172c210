"""provex: the command line. Each command's help is its docstring; one module
per command group (``server``, ``explore``, ``ingest``, ``questions``,
``app``), all built on :mod:`provex.app.cli.base`.

Start-up is kept short (``provex --help`` and ``provex ask`` in well under a
second): a command's module is imported when that command is asked for, and
the heavy libraries (neo4j, pandas) load on first use (:mod:`provex.app.cli.startup`);
mlflow, dvc and streamlit are only imported inside the commands that read them.

Exit codes: 0 ok, 1 failure, 2 usage or bad input, 3 another ingest holds the
lock. Errors print one message saying what failed and how to fix it, never a
traceback.
"""

from __future__ import annotations

import importlib

import click

from provex.app.cli import startup

startup.defer()

from provex.app.cli.base import Group  # noqa: E402  (after defer: base's imports stay light)

#: Where each command lives (a module lists its commands in ``COMMANDS``); a command a module
#: adds without an entry here is still found, by loading every module.
MODULES: dict[str, tuple[str, ...]] = {
    "server": ("neo4j",),
    "explore": ("stats", "search", "cypher", "reset"),
    "ingest": ("ingest",),
    "watch": ("watch",),
    "serve": ("serve-lineage",),
    "questions": ("ask", "lineage", "path", "export"),
    "reproduce": ("reproduce", "replay"),
    "explain": ("explain",),
    "app": ("app",),
}


class LazyGroup(Group):
    """Imports a command's module only when that command is run or listed."""

    def _load(self, module: str) -> None:
        loaded = importlib.import_module(f"provex.app.cli.{module}")
        for command in getattr(loaded, "COMMANDS", ()):
            self.commands.setdefault(command.name, command)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            hinted = [m for m, names in MODULES.items() if cmd_name in names]
            for module in hinted or MODULES:
                self._load(module)
        return self.commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in MODULES:
            self._load(module)
        return sorted(self.commands)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """provex: ML provenance explorer. DVC, MLflow, prediction logs and
    OpenLineage joined in one Neo4j graph, for debugging bad predictions.

    Shell completion (bash, zsh, fish): eval "$(_PROVEX_COMPLETE=bash_source provex)";
    see the README."""


def main() -> None:
    cli(prog_name="provex")
