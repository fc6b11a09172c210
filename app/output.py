"""Printing results for people (table, summary) and scripts (json, csv)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click
import pandas as pd

FORMATS = ("table", "json", "csv")
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
    if fmt == "summary":
        click.echo(headline or f"{len(rows):,} row{'s' if len(rows) != 1 else ''}.")
        return
    if headline and fmt == "table":
        click.echo(headline + "\n")
    if fmt == "json":
        click.echo(json.dumps(list(rows), indent=2, default=str))
    elif fmt == "csv":
        frame(rows).to_csv(sys.stdout, index=False)
    elif not rows:
        click.echo("(no rows)")
    else:
        with pd.option_context("display.max_colwidth", 80, "display.width", 200):
            click.echo(frame(rows).to_string(index=False))
    if note and fmt == "table":
        click.echo(note, err=True)


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))
