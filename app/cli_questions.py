"""`provex ask`, `provex lineage`, `provex export`: the question catalog and
lineage engine on the command line (issue 7)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
