"""Printing results for people (table) and scripts (json, csv)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click
import pandas as pd

FORMATS = ("table", "json", "csv")


def frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Rows as a DataFrame; nested values shown as compact JSON."""
    df = pd.DataFrame(list(rows))
    for col in df.columns:
        df[col] = df[col].map(lambda v: json.dumps(v, default=str) if isinstance(v, (dict, list)) else v)
    return df


def emit(rows: Sequence[dict[str, Any]], fmt: str, *, note: str = "") -> None:
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
