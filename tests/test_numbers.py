"""Numbers for people (vocab/numbers.py, app/humanize.py): significant digits,
thousands separators, ratios, changes, shares and missing values, the same in
the CLI tables, the app's tables and the headlines; scripts keep raw values."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from provex.app import humanize
from provex.app.output import emit
from provex.graph.questions import data
from provex.vocab import numbers as num


@pytest.mark.parametrize(("value", "table", "brief"), [
    (2960.3629425216695, "2,960.36", "2,960"),
    (4280.0, "4,280", "4,280"),
    (0.0491, "0.0491", "0.0491"),
    (-0.9509, "\u22120.9509", "\u22120.9509"),
    (1234567.891, "1,234,568", "1,234,568"),  # the integer part is never cut
    (12618, "12,618", "12,618"),
    (np.float64(64135.3), "64,135.3", "64,135"),
    (np.int64(-2503), "\u22122,503", "\u22122,503"),
    (0.0, "0", "0"),
    (1.5e-7, "1.5e-7", "1.5e-7"),
    (float("inf"), "\u221e", "\u221e"),
])
def test_numbers_keep_significant_digits_and_group_thousands(value, table, brief) -> None:
    assert num.number(value) == table and num.number(value, num.BRIEF) == brief


@pytest.mark.parametrize("value", [None, float("nan"), np.nan, pd.NA, pd.NaT, "", "  "])
def test_missing_values_are_a_dash(value) -> None:
    assert num.number(value) == num.ratio(value) == num.change(value) == humanize.cell(value) == "\u2014"


def test_ratios_changes_and_shares() -> None:
    assert [num.ratio(r) for r in (35.297, 0.0491, 1.0, 100.0, 0)] == ["35.3x", "20.4x lower", "1x", "100x", "0x"]
    assert [num.change(c) for c in (-0.9509, 0.2791, 0.0526, 0.0, 33.297)] == [
        "\u221295%", "+28%", "+5.3%", "0%", "+3,330%"]
    assert num.percent(0.6812) == "68.1%" and num.percent(1) == "100%"
    assert num.factor_words(4280, 210) == "20.4x lower" and num.factor_words(210, 4280) == "20.4x higher"
    assert num.factor_words(0, 5) == "" and num.factor_words(-1, 5) == "" and num.factor_words(3, 3) == "the same"
    assert num.ratio("shifted") == "shifted" and num.change("model version") == "model version"  # words stay words


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e14, max_value=1e14))
def test_a_number_reads_back_within_its_significant_digits(value: float) -> None:
    text = num.number(value).replace(",", "").replace(num.MINUS, "-")
    assert math.isclose(float(text), value, rel_tol=1e-5)


def test_columns_are_written_by_their_kind() -> None:
    row = {"ratio": 0.0491, "change": -0.9509, "share_of_difference": 0.68, "version": 2026, "model_version": 5,
           "predictions": 12618, "output": 2960.3629425216695, "differs": True, "attribution": "model version"}
    assert {k: humanize.cell(v, k) for k, v in row.items()} == {
        "ratio": "20.4x lower", "change": "\u221295%", "share_of_difference": "68%", "version": "2026",
        "model_version": "5", "predictions": "12,618", "output": "2,960.36", "differs": "True",
        "attribution": "model version"}
    assert humanize.cell({"a": [1, 2]}) == '{"a": [1, 2]}' and humanize.cell("x" * 400).endswith("\u2026")


def test_the_cli_table_is_for_people_json_and_csv_stay_raw(capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    rows = [{"key": "output", "a": 4280.0, "b": 210.0, "ratio": 0.0491, "change": -0.9509, "note": None}]
    emit(rows, "table")
    assert capsys.readouterr().out.splitlines()[1].split() == ["output", "4,280", "210", "20.4x", "lower",
                                                               "\u221295%", "\u2014"]
    emit(rows, "json")
    assert json.loads(capsys.readouterr().out) == rows
    emit(rows, "csv")
    assert capsys.readouterr().out.splitlines()[1] == "output,4280.0,210.0,0.0491,-0.9509,"


def test_app_tables_keep_numbers_and_show_them_for_people() -> None:
    frame = pd.DataFrame({"key": ["output", "model"], "a": [4280.0, "model:m@4"], "ratio": [0.0491, None],
                          "predictions": [12618, 3]})
    styler = humanize.styled(frame)
    shown = styler.data
    assert shown["predictions"].tolist() == [12618, 3]  # complete numeric columns still sort as numbers
    assert shown["a"].tolist() == ["4,280", "model:m@4"] and shown["ratio"].tolist() == ["20.4x lower", "\u2014"]
    html = styler.to_html()
    assert "12,618" in html and "20.4x lower" in html
    big = pd.DataFrame({"n": range(humanize.STYLE_LIMIT + 1)})
    shown = humanize.styled(big)
    assert isinstance(shown, pd.DataFrame) and shown["n"].iloc[-1] == f"{humanize.STYLE_LIMIT:,}"  # text, unstyled


def test_profile_statistics_written_as_text_get_their_ratio() -> None:
    rows = [{"aspect": "data profile (credit-limit)", "key": "f.csv avg_ticket mean", "a": "78.873", "b": "2783.87",
             "ratio": None, "change": None, "differs": True},
            {"aspect": "data profile (credit-limit)", "key": "f.csv rows", "a": None, "b": "2503", "ratio": None,
             "change": None, "differs": True},
            {"aspect": "stage (credit-limit)", "key": "months", "a": "1.5", "b": "2", "ratio": None, "change": None,
             "differs": True}]
    done = data.profile_ratios(rows)
    assert done[0]["a"] == 78.873 and done[0]["ratio"] == pytest.approx(35.296, abs=1e-3)
    assert done[0]["change"] == pytest.approx(34.296, abs=1e-3) and num.ratio(done[0]["ratio"]) == "35.3x"
    assert done[1]["b"] == 2503 and done[1]["ratio"] is None  # one side only: no ratio
    assert done[2] == rows[2]  # not a statistic: text stays text
