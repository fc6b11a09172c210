"""How the CLI looks and starts: rich tables (terminal width, wrapping,
ellipsis, plain text when piped, NO_COLOR) and the deferred heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from provex.app.output import MAX_CELL, emit

ROWS = [{"uid": "data:data/raw/transactions/2026-02.csv@04fc6d27fb7bab8b253f245b79f4c3a0", "count": 3,
         "hint": "ingest the MLflow tracking store that logged the run of the version " * 3, "none": None},
        {"uid": "model:credit-limit@5", "count": 12, "hint": "short", "none": float("nan")}]


def test_piped_tables_are_plain_one_line_per_row(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    emit(ROWS, "table")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].split() == ["uid", "count", "hint", "none"]
    assert all(line == line.rstrip() and "\x1b" not in line for line in lines)  # no padding, no escape codes
    assert lines[1].startswith(ROWS[0]["uid"]) and lines[1].endswith("of the version   \u2014")
    assert lines[2].split() == ["model:credit-limit@5", "12", "short", "\u2014"]  # None and NaN are a dash


def test_terminal_tables_fit_the_width_wrap_and_obey_no_color(capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich treats the output as a terminal
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.setenv("NO_COLOR", "1")
    emit(ROWS + [{"uid": "x", "count": 1, "hint": "y" * 1000}], "table")
    out = capsys.readouterr().out
    plain = out.replace("\x1b[1m", "").replace("\x1b[0m", "")
    assert "\x1b[3" not in out and "\x1b[9" not in out  # bold header at most, no colours
    assert all(len(line) <= 60 for line in plain.splitlines())
    assert "─" in plain  # the header rule of a terminal table
    assert "count" in plain and "12" in plain and "…" in plain  # every column kept; the 1000-char cell cut
    assert plain.count("y") < MAX_CELL + 5


def test_csv_and_json_stay_as_they_were(capsys: pytest.CaptureFixture[str]) -> None:
    emit(ROWS[1:], "csv")
    assert capsys.readouterr().out.splitlines() == ["uid,count,hint,none", "model:credit-limit@5,12,short,"]
    emit(ROWS[1:], "json")
    assert json.loads(capsys.readouterr().out)[0]["count"] == 12


def test_help_and_the_question_catalog_load_neither_neo4j_nor_pandas() -> None:
    probe = ("import sys\n"
             "from click.testing import CliRunner\n"
             "from provex.app.cli import cli\n"
             "assert CliRunner().invoke(cli, ['--help']).exit_code == 0\n"
             "assert CliRunner().invoke(cli, ['ask']).exit_code == 0\n"
             "print(sorted(n for n in ('neo4j', 'pandas') if type(sys.modules.get(n)).__name__ != 'Deferred'))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def refuse_constant(name: str) -> None:
    raise ValueError(f"not strict JSON: {name}")


def test_json_is_strict_non_finite_numbers_become_null(graph) -> None:
    """Neo4j stores and returns NaN and infinities; --format json writes them as null."""
    from click.testing import CliRunner

    from provex.app.cli import cli

    result = CliRunner().invoke(cli, ["cypher", "RETURN 0.0/0.0 AS nan, 1e308*10 AS inf, -1e308*10 AS ninf, "
                                      "[1.5, 0.0/0.0] AS list, 2 AS two", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout, parse_constant=refuse_constant)
    assert rows == [{"nan": None, "inf": None, "ninf": None, "list": [1.5, None], "two": 2}]
