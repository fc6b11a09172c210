"""A prediction log's bytes under limits (issue 25, "bounded input"): the
line cap on every line (the first included), a decompression bomb, runs of
blank lines, CR-only line ends, a rejected line fixed in place, and a
dry-run of a very wide record. Most read the adapter alone (no Neo4j)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import logged
from click.testing import CliRunner

from provex.app.cli import cli
from provex.ingest import predictions
from provex.ingest.predictions import lines as linereader
from provex.vocab.facts import Facts
from provex.vocab.records import Reject, Watermark

TIME = "2026-04-02T10:15:00Z"


def record(pid: str, **over: Any) -> dict[str, Any]:
    return {"prediction_id": pid, "timestamp": TIME, "model_name": "m", "model_version": "1", "output": 1, **over}


def outcome(path: Path, state: dict | None = None) -> tuple[list[str], list[tuple[int | None, str]], Any]:
    """(stored ids, (line, reason) of each reject, the watermark) of one read."""
    ids, rejects, mark = [], [], None
    for r in predictions.read(path, state=state):
        if isinstance(r, Facts):
            ids += list(r.columns["prediction_id"])
        elif isinstance(r, Reject):
            rejects.append((r.line, r.reason))
        elif isinstance(r, Watermark):
            mark = r
    return ids, rejects, mark


def test_the_first_line_is_under_the_cap_too(tmp_path, monkeypatch):
    monkeypatch.setattr(linereader, "MAX_LINE", 4096)
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps(record("big", blob="x" * 50_000)) + "\n" + json.dumps(record("good")) + "\n")
    ids, rejects, _ = outcome(path)
    assert ids == ["good"]
    assert [(line, "bytes long" in reason) for line, reason in rejects] == [(1, True)]


def test_a_gzip_bomb_stops_at_the_ratio_naming_the_setting(tmp_path, monkeypatch):
    monkeypatch.setattr(linereader, "RATIO_AFTER", 1024 * 1024)
    monkeypatch.setenv("PROVEX_MAX_GZIP_RATIO", "50")
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb") as fh:
        fh.write((json.dumps(record("before")) + "\n").encode())
        fh.write(b"x" * 20_000_000)  # one line with no end, expanding 1000x
    ids, rejects, mark = outcome(path)
    assert ids == ["before"] and mark is None  # no watermark: the file is read again once fixed
    [(line, reason)] = rejects
    assert line == 2 and str(path) in reason and "PROVEX_MAX_GZIP_RATIO" in reason


def test_a_log_past_its_byte_limit_stops_naming_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("PROVEX_MAX_LOG_BYTES", str(300_000))
    path = tmp_path / "big.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        for i in range(5_000):
            fh.write(json.dumps(record(f"p{i}")) + "\n")
    ids, rejects, _ = outcome(path)
    assert 0 < len(ids) < 5_000 and ids == [f"p{i}" for i in range(len(ids))]
    assert len(rejects) == 1 and "PROVEX_MAX_LOG_BYTES" in rejects[0][1]


def test_runs_of_blank_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / "blank.jsonl.gz"
    with gzip.open(path, "wb") as fh:
        fh.write((json.dumps(record("a")) + "\n").encode() + b"\n" * 3_000_000 + b"  \r\n\t\n"
                 + (json.dumps(record("b")) + "\n").encode() + b"{not json\n")
    ids, rejects, mark = outcome(path)
    assert ids == ["a", "b"] and [line for line, _ in rejects] == [3_000_005]
    assert mark.value["lines"] == 3_000_005


def test_cr_only_line_ends_are_line_ends(tmp_path):
    for name, body in (("log.jsonl", "\r".join(json.dumps(record(f"p{i}")) for i in range(3)) + "\r"),
                       ("log.csv", "prediction_id,timestamp,output\rp0,2026-04-02T10:15:00Z,1\rp1,2026-04-02T10:15:00Z,2\r")):
        path = tmp_path / name
        path.write_bytes(body.encode())
        ids, rejects, _ = outcome(path)
        assert rejects == [] and ids == [f"p{i}" for i in range(3 if name.endswith("jsonl") else 2)], name


def test_a_bare_cr_inside_an_lf_log_is_named_in_the_reject(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes((json.dumps(record("a")) + "\r" + json.dumps(record("b")) + "\n").encode())
    _, rejects, _ = outcome(path)
    assert len(rejects) == 1 and "bare CR" in rejects[0][1]


def test_a_rejected_line_fixed_in_place_is_ingested_at_the_next_run(graph, tmp_path):
    """The watermark hashes the bytes it has read: a line fixed in place
    changes them, so the next ingest reads the file again (the lines already
    stored are repeats); a log that only grew is read from where it stopped."""
    path = tmp_path / "log.jsonl"
    good = [json.dumps(record(f"p{i}")) for i in range(5)]
    path.write_text("\n".join([*good[:2], '{"prediction_id": "p-bad", "output": 1', *good[2:]]) + "\n")
    first = logged.ingest_file(graph, path)
    assert first.predictions["stored"] == 5 and [r.line for r in first.rejected] == [3]
    path.write_text("\n".join([*good[:2], json.dumps(record("p-bad")), *good[2:]]) + "\n")
    second = logged.ingest_file(graph, path)
    assert second.rejected == [] and second.predictions == {**second.predictions, "stored": 1, "repeated": 5}
    with path.open("a") as fh:
        fh.write(json.dumps(record("p-new")) + "\n")
    third = logged.ingest_file(graph, path)
    assert third.rejected == [] and (third.predictions["stored"], third.predictions["repeated"]) == (1, 0)


def test_a_dry_run_of_a_very_wide_record_is_bounded(tmp_path):
    path = tmp_path / "wide.jsonl"
    path.write_text(json.dumps(record("wide", inputs={f"f{i}": i for i in range(200_000)})) + "\n")
    env = {"NEO4J_URI": "bolt://127.0.0.1:1", "NEO4J_PASSWORD": "x"}  # never contacted
    result = CliRunner().invoke(cli, ["ingest", "predictions", "--dry-run", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) < 100 and "199,950 more inputs" in result.output
