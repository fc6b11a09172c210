"""Hostile and broken input, one test per row of docs/reliability.md: each gets
a clear reject (file, line, reason) or a clear error, never a traceback, and
the good records around it are still ingested into the real Neo4j."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from graphcheck import count, props

from provex.graph import console
from provex.graph.connection import Graph
from provex.graph.pipeline import Summary, ingest
from provex.graph.writer import MAX_PROPS, Writer
from provex.ingest import dvc, mlflow, openlineage, predictions
from provex.vocab import model as m
from provex.vocab import values
from provex.vocab.errors import QueryError, SourceError, scrubbed, shown_uri
from provex.vocab.records import Node, Reject

TIME = "2026-04-02T10:15:00Z"
GOOD = json.dumps({"prediction_id": "p-good", "timestamp": TIME, "model_name": "m", "model_version": "1",
                   "output": 1})


def line(**fields: Any) -> str:
    base = {"prediction_id": "p-bad", "timestamp": TIME, "model_name": "m", "model_version": "1", "output": 1}
    return json.dumps({**base, **fields})


def run_predictions(graph: Graph, path: Path) -> Summary:
    return ingest(graph, kind="predictions", uri=str(path), read=lambda s: predictions.read(path, state=s))


def run_openlineage(graph: Graph, path: Path) -> Summary:
    return ingest(graph, kind="openlineage", uri=str(path), read=lambda s: openlineage.read(path, state=s))


def reasons(summary: Summary) -> list[tuple[int | None, str]]:
    return [(r.line, r.reason) for r in summary.rejected]


# ---- prediction logs ---------------------------------------------------------------------------------

def raw(pid: str = '"p-bad"', **fields: str) -> str:
    """A JSON line written by hand: ``fields`` are JSON text, so anything json.dumps refuses fits."""
    body = ", ".join(f'"{k}": {v}' for k, v in {"output": "1", **fields}.items())
    return f'{{"prediction_id": {pid}, "timestamp": "{TIME}", {body}}}'


HOSTILE_LINES = [
    ("integer above 2^63", raw(output="99999999999999999999999999999"), "64-bit range"),
    ("integer of 5000 digits", raw(output="9" * 5000), "4300 digits"),
    ("JSON nested 10,000 deep", raw(x="[" * 10_000 + "]" * 10_000), "nested too deeply"),
    ("JSON nested 100 deep", raw(x="[" * 100 + "]" * 100), "nested more than 64 levels"),
    ("lone surrogate", raw(pid='"x\\ud800"'), "surrogate"),
    ("NUL in an input key", line(inputs={"a\u0000b": 1}), "NUL"),
    ("NaN", raw(output="NaN"), "NaN"),
    ("-Infinity", raw(output="-Infinity"), "Infinity"),
    ("1e400 (overflows to inf)", raw(score="1e400"), "not a finite number"),
]


@pytest.mark.parametrize("name,bad,expected", HOSTILE_LINES, ids=[c[0] for c in HOSTILE_LINES])
def test_hostile_prediction_line_is_rejected_and_the_good_lines_kept(graph, tmp_path, name, bad, expected):
    path = tmp_path / "log.jsonl"
    path.write_text(f"{GOOD}\n{bad}\n{GOOD.replace('p-good', 'p-good-2')}\n", encoding="utf-8")
    summary = run_predictions(graph, path)
    assert summary.rejected_count == 1, reasons(summary)
    where, reason = reasons(summary)[0]
    assert where == 2 and expected in reason
    assert count(graph, "Prediction") == 2
    rejected = [json.loads(r) for r in Path(f"{path}.rejected.jsonl").read_text().splitlines()] if Path(
        f"{path}.rejected.jsonl").exists() else []
    assert rejected == [] or rejected[0]["line"] == 2


def test_csv_cell_above_2_63_is_rejected(graph, tmp_path):
    path = tmp_path / "log.csv"
    path.write_text(f"prediction_id,timestamp,output\np1,{TIME},1\np2,{TIME},99999999999999999999999\n"
                    f"p3,{TIME},3\n", encoding="utf-8")
    summary = run_predictions(graph, path)
    assert [w for w, _ in reasons(summary)] == [3] and "64-bit" in reasons(summary)[0][1]
    assert count(graph, "Prediction") == 2


def test_bare_cr_in_a_csv_header_is_one_reject_naming_line_1(graph, tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"prediction_id,time\rstamp,output\np1,2026-04-02T10:15:00Z,1\n")
    summary = run_predictions(graph, path)
    assert [w for w, _ in reasons(summary)] == [1]
    assert "CSV header cannot be parsed" in reasons(summary)[0][1]


def test_random_bytes_under_a_non_json_suffix_are_rejected_not_a_crash(graph, tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(os.urandom(1) + bytes(range(256)) * 40)
    summary = run_predictions(graph, path)
    assert summary.rejected_count >= 1
    assert all(r.file == str(path) and r.line for r in summary.rejected)
    assert count(graph, "Prediction") == 0


def test_duplicate_json_keys_are_flagged_not_silent(graph, tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text(raw(pid='"a", "prediction_id": "b"') + "\n")
    summary = run_predictions(graph, path)
    assert summary.flag_counts["duplicate-key"] == 1
    assert "'prediction_id'" in next(f.message for f in summary.flags if f.kind == "duplicate-key")
    assert count(graph, "Prediction") == 1  # the last value wins, as in json.loads, but it is flagged


def test_special_characters_in_ids_are_stored_exactly(graph, tmp_path):
    ids = ["é🔥日本", "a`b", 'q"uote', "*~\"( OR 1=1 //", "x}) DETACH DELETE n //", "AND:*:~", "\\"]
    path = tmp_path / "log.jsonl"
    path.write_text("".join(line(prediction_id=i) + "\n" for i in ids), encoding="utf-8")
    summary = run_predictions(graph, path)
    assert summary.rejected_count == 0
    for pid in ids:
        assert props(graph, m.prediction(pid).uid)["prediction_id"] == pid


def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "log.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(SourceError, match="not a regular file .a FIFO"):
        list(predictions.read(fifo))
    with pytest.raises(SourceError, match="not a regular file or folder"):
        list(openlineage.read(fifo))


def test_empty_file_ingests_nothing_and_fails_nothing(graph, tmp_path):
    for name in ("empty.jsonl", "empty.csv", "empty.json"):
        (tmp_path / name).write_bytes(b"")
        assert run_predictions(graph, tmp_path / name).rejected_count == 0
    assert run_openlineage(graph, tmp_path / "empty.json").rejected_count == 1  # "not valid JSON", line 1


def test_truncated_gzip_keeps_the_lines_before_the_cut(graph, tmp_path):
    whole = tmp_path / "whole.jsonl.gz"
    with gzip.open(whole, "wt", encoding="utf-8") as fh:
        for i in range(2000):
            fh.write(line(prediction_id=f"p{i}", extra="x" * 50) + "\n")
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole.read_bytes()[: len(whole.read_bytes()) // 2])
    summary = run_predictions(graph, cut)
    assert summary.rejected_count == 1 and "corrupt or truncated" in summary.rejected[0].reason
    kept = count(graph, "Prediction")
    assert 0 < kept < 2000 and summary.rejected[0].line == kept + 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_a_clear_error(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text(GOOD + "\n")
    path.chmod(0)
    with pytest.raises(SourceError, match="Cannot read prediction log"):
        list(predictions.read(path))


def test_a_line_longer_than_the_cap_is_rejected_without_being_read_whole(graph, tmp_path, monkeypatch):
    monkeypatch.setattr(predictions.linereader, "MAX_LINE", 4096)
    path = tmp_path / "log.jsonl"
    path.write_text(GOOD + "\n" + line(blob="x" * 100_000) + "\n" + line(prediction_id="after") + "\n")
    summary = run_predictions(graph, path)
    assert [w for w, _ in reasons(summary)] == [2] and "bytes long" in reasons(summary)[0][1]
    assert count(graph, "Prediction") == 2
    mark = graph.read("MATCH (s:Source) RETURN s.state AS state")[0]["state"]
    assert json.loads(mark)["log"]["offset"] == path.stat().st_size  # the watermark counts the skipped bytes


def test_a_record_with_200000_inputs_is_capped_with_flags(graph, tmp_path):
    path = tmp_path / "wide.jsonl"
    wide = {f"f{i}": i for i in range(200_000)}
    path.write_text(GOOD + "\n" + line(prediction_id="wide", inputs=wide) + "\n", encoding="utf-8")
    summary = run_predictions(graph, path)
    assert summary.rejected_count == 0
    assert summary.flag_counts["props-capped"] == 1 and summary.flag_counts["wide-inputs"] == 1
    stored = props(graph, m.prediction("wide").uid)
    assert len(stored) <= MAX_PROPS + 10
    overflow = json.loads(stored["props_overflow"])
    assert stored["props_capped"] == len(overflow) and len(overflow) + len(stored) > 200_000
    assert count(graph, "Feature") == predictions.MAX_FEATURES


# ---- OpenLineage --------------------------------------------------------------------------------------

EVENT = {"eventType": "START", "eventTime": TIME, "run": {"runId": "r1"}, "job": {"namespace": "n", "name": "j"},
         "producer": "test"}


def test_hostile_openlineage_events_are_rejected_by_line(graph, tmp_path):
    good = json.dumps(EVENT)
    deep = json.dumps(EVENT)[:-1] + ', "x": ' + "[" * 10_000 + "]" * 10_000 + "}"
    nan = json.dumps(EVENT)[:-1] + ', "x": NaN}'
    big = json.dumps({**EVENT, "x": 2**70})
    surrogate = json.dumps(EVENT)[:-1] + ', "x": "\\udfff"}'
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([good, deep, nan, big, surrogate, good.replace("r1", "r2")]) + "\n")
    summary = run_openlineage(graph, path)
    got = reasons(summary)
    assert [w for w, _ in got] == [2, 3, 4, 5]
    for (_, reason), expected in zip(got, ["nested too deeply", "NaN", "64-bit", "surrogate"]):
        assert expected in reason
    assert count(graph, "Run") == 2


def test_outputs_that_are_not_a_list_are_flagged_not_a_crash(graph, tmp_path):
    """Found by the long fuzz (make test-long): ``"outputs": true`` crashed the column-lineage step."""
    path = tmp_path / "event.json"
    path.write_text(json.dumps({**EVENT, "outputs": True}))
    summary = run_openlineage(graph, path)
    assert summary.flag_counts["bad-dataset"] == 1 and summary.rejected_count == 0
    assert count(graph, "Run") == 1


def test_duplicate_keys_in_an_openlineage_event_are_flagged(graph, tmp_path):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(EVENT)[:-1] + ', "eventType": "COMPLETE"}')
    summary = run_openlineage(graph, path)
    assert summary.flag_counts["duplicate-key"] == 1 and summary.rejected_count == 0


# ---- DVC ----------------------------------------------------------------------------------------------

def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": 9 levels of 9 aliases expand to 9**9 (387 million) strings."""
    names = "abcdefghijklmnop"
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{names[i]}: &{names[i]} [{', '.join([f'*{names[i - 1]}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def dvc_rejects(folder: Path) -> list[Reject]:
    return [r for r in dvc.read(folder) if isinstance(r, Reject)]


def test_yaml_alias_bomb_in_params_is_refused_without_expanding(tmp_path):
    (tmp_path / "params.yaml").write_text(alias_bomb())
    (tmp_path / "dvc.yaml").write_text("stages:\n  train:\n    cmd: python train.py\n    params: [i]\n")
    rejects = dvc_rejects(tmp_path)
    assert len(rejects) == 1 and "alias bomb" in rejects[0].reason and "params.yaml" in rejects[0].reason


def test_yaml_alias_bomb_in_dvc_yaml_is_refused(tmp_path):
    (tmp_path / "dvc.yaml").write_text(alias_bomb() + "stages:\n  train:\n    cmd: *i\n")
    rejects = dvc_rejects(tmp_path)
    assert len(rejects) == 1 and "alias bomb" in rejects[0].reason and rejects[0].file.endswith("dvc.yaml")


def test_dvc_yaml_nested_10000_deep_is_refused(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages:\n  train:\n    cmd: " + "[" * 10_000 + "]" * 10_000 + "\n")
    rejects = dvc_rejects(tmp_path)
    assert len(rejects) == 1 and "nested too deeply" in rejects[0].reason


def test_recursive_yaml_alias_is_refused(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages: &s\n  train:\n    cmd: echo\n    deps: *s\n")
    rejects = dvc_rejects(tmp_path)
    assert len(rejects) == 1 and "nested more than" in rejects[0].reason


def test_binary_and_empty_dvc_files_are_rejects(tmp_path):
    (tmp_path / "dvc.yaml").write_bytes(bytes(range(256)))
    (tmp_path / "data.dvc").write_bytes(b"")
    rejects = dvc_rejects(tmp_path)
    assert {Path(r.file).name for r in rejects} == {"dvc.yaml", "data.dvc"}
    assert any("UTF-8" in r.reason for r in rejects)


def test_symlink_loop_and_fifo_in_a_dvc_folder_are_skipped(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo\n")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to(tmp_path)
    os.mkfifo(tmp_path / "sub" / "x.dvc")
    records = list(dvc.read(tmp_path))
    assert any(isinstance(r, Node) and r.ref.label == "Stage" for r in records)


def test_corrupt_git_object_is_a_clear_error_or_reject(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo one\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    blob = subprocess.run([*git, "rev-parse", "HEAD:dvc.yaml"], capture_output=True, text=True).stdout.strip()
    obj = repo / ".git" / "objects" / blob[:2] / blob[2:]
    obj.chmod(0o644)
    obj.write_bytes(b"garbage, not zlib")
    try:
        records = list(dvc.read(repo))
    except SourceError as exc:  # a clear error, never a traceback
        assert str(repo) in str(exc)
    else:
        assert any(isinstance(r, Reject) for r in records)


# ---- MLflow -------------------------------------------------------------------------------------------

def test_empty_sqlite_file_is_refused_and_left_empty(tmp_path):
    db = tmp_path / "z.db"
    db.write_bytes(b"")
    with pytest.raises(SourceError, match="empty file"):
        list(mlflow.read(f"sqlite:///{db}"))
    assert db.stat().st_size == 0


def test_sqlite_database_without_mlflow_tables_is_refused_untouched(tmp_path):
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (x)")
    before = db.read_bytes()
    with pytest.raises(SourceError, match="without the table"):
        list(mlflow.read(f"sqlite:///{db}"))
    assert db.read_bytes() == before


def test_one_broken_experiment_meta_yaml_is_named_and_the_rest_read(tmp_path):
    import mlflow as mlf

    store = tmp_path / "mlruns"
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        client = mlf.MlflowClient(tracking_uri=store.as_uri())
        ids = [client.create_experiment(name) for name in ("good", "broken")]
        for exp in ids:
            client.set_terminated(client.create_run(exp).info.run_id)
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
    meta = store / ids[1] / "meta.yaml"
    meta.write_text("name: [unclosed\n  : : :\n")
    records = list(mlflow.read(str(store)))
    rejects = [r for r in records if isinstance(r, Reject)]
    assert [r.file for r in rejects] == [str(meta)]
    assert "its runs were skipped" in rejects[0].reason
    runs = [r for r in records if isinstance(r, Node) and r.ref.label == "Run"]
    assert [r.props["experiment_id"] for r in runs] == [ids[0]]


# ---- the graph writer and the console -----------------------------------------------------------------

def test_writer_rejects_a_nul_key_per_record_and_writes_the_rest_of_the_batch(graph):
    with Writer(graph, "t") as writer:
        notes = [writer.add(Node(m.run(f"r{i}"), {"x": i}, "file.jsonl")) for i in range(5)]
        notes.append(writer.add(Node(m.run("bad"), {"a\x00b": 1}, "file.jsonl")))
        notes.append(writer.add(Node(m.run("big"), {"n": 2**64}, "file.jsonl")))
        notes += [writer.add(Node(m.run(f"s{i}"), {"x": i}, "file.jsonl")) for i in range(5)]
    bad = [n for n in notes if n is not None]
    assert [type(n) for n in bad] == [Reject, Reject] and all(n.file == "file.jsonl" for n in bad)
    assert "NUL" in bad[0].reason and "64-bit" in bad[1].reason
    assert count(graph, "Run") == 10


def test_value_check_counts_aliases_without_expanding_them():
    shared: list[Any] = ["x"] * 10
    for _ in range(8):
        shared = [shared] * 10  # 10**9 values once expanded, 90 lists in memory
    start = time.perf_counter()
    assert "alias bomb" in (values.problem(shared) or "")
    assert time.perf_counter() - start < 5  # a bound on the work (not a speed claim): it never expands
    assert values.problem({"ok": [1, 2.5, "x", None, True]}) is None


def test_cypher_timeout_holds(graph):
    slow = "UNWIND range(1, 2000000000) AS x WITH x WHERE x % 7 = 100 RETURN count(x) AS c"
    start = time.monotonic()
    with pytest.raises(QueryError, match="time limit"):
        console.run(graph, slow, timeout=2)
    # The limit holds: stopped by the server, not retried (it used to run 30 s more).
    assert time.monotonic() - start < 2 + 15


def test_credentials_in_a_uri_never_reach_a_message():
    assert shown_uri("neo4j+s://user:secret@db.example.com:7687") == "neo4j+s://db.example.com:7687"
    assert shown_uri("/a/path with spaces") == "/a/path with spaces"
    assert scrubbed("Given URI: 'bolt://neo4j:secret@127.0.0.1:9'") == "Given URI: 'bolt://127.0.0.1:9'"
