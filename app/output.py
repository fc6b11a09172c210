"""Printing results for people (table, summary) and scripts (json, csv).

Tables show numbers for people (:mod:`provex.app.humanize`: significant
digits, thousands separators, ratios as ``20.4x``, changes as ``−95%``,
``—`` for a missing value); json and csv keep the raw values.
Tables are drawn with rich: columns share the terminal's width, long cells wrap
(and very long ones are cut with an ellipsis). On a terminal the header is
bold and NO_COLOR turns colour off. Piped or redirected, the table is plain
text (no escape codes, no box lines, no padding at line ends) and rows are not
wrapped (unless COLUMNS sets a width), so each row stays one greppable line.
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

import click
import pandas as pd

from provex.app import humanize, terminal
from provex.app.humanize import MAX_CELL

FORMATS = ("table", "json", "csv")
MIN_COLUMN = 14  # a column narrower than this by nature is never squeezed
#: Question answers may also be printed as their headline only.
ANSWER_FORMATS = FORMATS + ("summary",)


def frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Rows as a DataFrame; nested values shown as compact JSON."""
    df = pd.DataFrame(list(rows))
    for col in df.columns:
        df[col] = df[col].map(lambda v: json.dumps(v, default=str) if isinstance(v, (dict, list)) else v)
    return df


def emit(rows: Sequence[dict[str, Any]], fmt: str, *, note: str = "", headline: str = "") -> None:
    """Rows in ``fmt``; ``summary`` prints only the headline, ``table`` prints it first."""
    headline = terminal.shown(headline) if headline else headline  # one line: its data's newlines shown too
    if fmt == "summary":
        click.echo(headline or f"{len(rows):,} row{'s' if len(rows) != 1 else ''}.")
        return
    if headline and fmt == "table":
        click.echo(headline + "\n")
    if fmt == "json":
        emit_json(list(rows))
    elif fmt == "csv":
        with terminal.exact():  # data for another program: controls kept when piped
            frame(rows).to_csv(sys.stdout, index=False)
    elif not rows:
        click.echo("(no rows)")
    else:
        table(rows)
    if note and fmt == "table":
        click.echo(note, err=True)


def emit_json(value: Any) -> None:
    """Strict JSON: NaN and infinities (Neo4j stores them, e.g. an MLflow metric)
    are written as null, never as the bare ``NaN`` that strict parsers refuse."""
    click.echo(json.dumps(strict(value), indent=2, default=str, allow_nan=False))


def strict(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (nested too)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def cell(value: Any, column: str = "") -> str:
    """One table cell for people (:func:`provex.app.humanize.cell`): numbers by
    the column's kind, ``—`` for missing values, compact JSON for nested ones,
    controls made visible (:mod:`provex.app.terminal`), cut at MAX_CELL."""
    return terminal.shown(humanize.cell(value, column, MAX_CELL))


def table(rows: Sequence[dict[str, Any]]) -> None:
    """Rows as a rich table that fits the terminal (plain text when piped)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    columns = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[cell(row.get(name), name) for name in columns] for row in rows]
    columns = [terminal.shown(name) for name in columns]  # cells and names made visible: rich writes past the guard
    console = Console(file=terminal.raw(sys.stdout), highlight=False, emoji=False, markup=False, soft_wrap=False)
    tty = console.is_terminal
    if not tty:
        natural = sum(max(len(name), *(len(line[i]) for line in cells)) + 2 for i, name in enumerate(columns))
        console = Console(file=io.StringIO(), highlight=False, emoji=False, markup=False, color_system=None,
                          width=_pipe_width(natural))
    grid = Table(box=box.SIMPLE_HEAD if tty else None, header_style="bold" if tty else "", show_edge=False,
                 pad_edge=False, expand=False)
    for name, least in zip(columns, _min_widths(columns, cells, console.width)):
        grid.add_column(name, overflow="fold", min_width=least)
    for line in cells:
        grid.add_row(*line)
    console.print(grid)
    if not tty:  # plain text: no padding at the ends of lines
        click.echo("\n".join(line.rstrip() for line in console.file.getvalue().splitlines()))


def _min_widths(columns: list[str], cells: list[list[str]], width: int) -> list[int]:
    """Short columns keep their width and long ones wrap; when even that is too wide,
    every column shares the width (rich would otherwise drop the last columns)."""
    least = [min(MIN_COLUMN, max(len(name), *(len(line[i]) for line in cells))) for i, name in enumerate(columns)]
    budget = width - 2 * len(columns)
    if sum(least) > budget:
        share = budget // len(columns)
        wide = [w for w in least if w > share]
        rest = (budget - sum(w for w in least if w <= share)) // max(len(wide), 1)
        least = [w if w <= share else max(3, rest) for w in least]
    return least


def _pipe_width(natural: int) -> int:
    """COLUMNS when set, else wide enough for every row on one line."""
    value = os.environ.get("COLUMNS", "")
    return int(value) if value.isdigit() and int(value) > 0 else max(natural, 80)
