"""`provex watch` run for real: SIGTERM mid-round and a restart give the graph
of one clean run; a failing source backs off without stopping the others;
each round is an IngestRun; stale sources are reported; progress on stderr
(rich on a terminal, a line per source otherwise) leaves --format json alone."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from checksum import snapshot
from click.testing import CliRunner
from sample import json_documents

from provex.app.cli import cli
from provex.app.progress import IngestProgress
from provex.graph import schema, status

ROOT = Path(__file__).resolve().parent.parent
EXE = Path(sys.executable).parent / "provex"
SCORING = ROOT / "sample_data" / "predictions" / "scoring.jsonl"
LINES = 3_000  # predictions in the log a watch is stopped in the middle of


def prediction_log(path: Path, lines: int) -> Path:
    """``lines`` predictions shaped like the sample's scoring log, each with its own id."""
    template = [json.loads(line) for line in SCORING.read_text().splitlines() if line.strip()]
    with path.open("w") as out:
        for i in range(lines):
            row = dict(template[i % len(template)], prediction_id=f"{path.stem}-{i:06d}")
            out.write(json.dumps(row) + "\n")
    return path


def config_file(path: Path, *tables: str) -> Path:
    path.write_text("\n".join(tables))
    return path


def predictions_table(log: Path) -> str:
    return f'[[source]]\nkind = "predictions"\nfiles = ["{log}"]\n'


def predictions(graph) -> int:
    """Predictions in the prediction store (whether or not they have nodes)."""
    return graph.facts.manifest().rows()


@pytest.mark.slow  # a real SIGTERM to a watch process; make test stops mid-read in-process (the test below)
def test_sigterm_mid_round_then_restart_gives_the_graph_of_one_clean_run(graph, tmp_path):
    log = prediction_log(tmp_path / "big.jsonl", LINES)
    config = config_file(tmp_path / "provex.toml", predictions_table(log))
    done = subprocess.run([str(EXE), "ingest", "--config", str(config)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    clean = snapshot(graph)
    schema.clear(graph)

    proc = subprocess.Popen([str(EXE), "watch", "--config", str(config), "--every", "3600", "--batch-size", "100"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    deadline = time.monotonic() + 600
    while predictions(graph) == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "SIGTERM: finishing the current batch, then exiting" in err and "stopped after round 1" in err
    assert 0 < predictions(graph) <= LINES  # the predictions read are stored as one commit (mid-round: below)
    assert not graph.read("MATCH (l:IngestLock) WHERE l.token IS NOT NULL RETURN l")  # lock given back
    restarted = subprocess.run([str(EXE), "watch", "--config", str(config), "--every", "1", "--times", "1"],
                               capture_output=True, text=True, timeout=900)
    assert restarted.returncode == 0, restarted.stderr
    assert predictions(graph) == LINES
    assert snapshot(graph) == clean


def test_a_stop_mid_read_stores_what_was_read_and_the_rerun_the_rest(graph, tmp_path):
    """A stop at a batch boundary (what SIGTERM does, here on the third tick):
    the facts read so far are committed, the watermark is not, and the next
    ingest reads the log again and ends with the graph of one clean run."""
    from provex.app.cli.ingest import ingest_one
    from provex.app.cli.watch import Stopped
    from provex.ingest.predictions import PredictionLogSource

    log = prediction_log(tmp_path / "big.jsonl", 21_000)  # three batches of facts
    src = PredictionLogSource(str(log), prediction_nodes="none")
    with IngestProgress(stream=io.StringIO(), live=False) as shown:
        ingest_one(graph, src, shown)
        clean = snapshot(graph)
        schema.clear(graph)
        ticks = iter(range(3))
        with pytest.raises(Stopped):
            ingest_one(graph, PredictionLogSource(str(log), prediction_nodes="none"), shown,
                       check=lambda: next(ticks, None) is None and _stop())
        assert 0 < predictions(graph) < 21_000
        assert not status.sources(graph) or not status.sources(graph)[0].get("last_success")
        again = ingest_one(graph, PredictionLogSource(str(log), prediction_nodes="none"), shown)
    assert again.predictions["stored"] + again.predictions["repeated"] == 21_000
    assert predictions(graph) == 21_000 and snapshot(graph) == clean


def _stop() -> None:
    from provex.app.cli.watch import Stopped

    raise Stopped


def test_failing_source_backs_off_without_stopping_the_others(graph, tmp_path):
    good = prediction_log(tmp_path / "good.jsonl", 20)
    missing = tmp_path / "nowhere" / "events.json"
    config = config_file(tmp_path / "provex.toml", predictions_table(good),
                         f'[[source]]\nkind = "openlineage"\npaths = ["{missing}"]\n')
    result = CliRunner().invoke(cli, ["watch", "--config", str(config), "--every", "1", "--times", "6",
                                      "--max-backoff", "60", "--stale-after", "3600"])
    assert result.exit_code == 1, result.output
    assert "round 6 done" in result.output
    assert "retrying in 1s" in result.stderr and "retrying in 2s" in result.stderr
    assert f"stale: {missing}: never succeeded" in result.stderr
    rows = {row["source"]: row for row in status.sources(graph)}
    assert rows[str(good)]["ingests"] == 6 and rows[str(good)]["failures"] == 0
    failing = rows[str(missing)]
    assert 2 <= failing["failures"] < 6  # tried, then backed off
    assert "does not exist" in failing["last_error"] and failing["last_failure"]
    assert status.staleness([failing], 3600)[0]["stale"] and not status.staleness([rows[str(good)]], 3600)[0]["stale"]
    rounds = graph.read("MATCH (w:IngestRun {kind: 'round'}) OPTIONAL MATCH (i:IngestRun)-[:PART_OF]->(w) "
                        "RETURN w.round AS details, w.started_at AS at, count(i) AS parts ORDER BY at")
    assert len(rounds) == 6 and all(r["parts"] == 1 for r in rounds)
    first = json.loads(rounds[0]["details"])
    assert first["ok"] == [str(good)] and str(missing) in first["failed"]
    assert any(str(missing) in json.loads(r["details"])["backing_off"] for r in rounds)


def test_json_summary_unchanged_and_one_progress_line_per_source(graph, tmp_path):
    logs = [prediction_log(tmp_path / f"log{i}.jsonl", 10 + i) for i in range(2)]
    config = config_file(tmp_path / "provex.toml", *(predictions_table(log) for log in logs))
    done = subprocess.run([str(EXE), "ingest", "--config", str(config), "--format", "json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    summaries = json_documents(done.stdout)
    assert [s["uri"] for s in summaries] == [str(log) for log in logs]
    assert [s["predictions"]["stored"] for s in summaries] == [10, 11]
    lines = [line for line in done.stderr.splitlines() if line.startswith("predictions ")]
    assert len(lines) == 2 and all(": done (done)" in line and "records in" in line for line in lines)


def test_live_progress_shows_records_rate_source_and_phase():
    stream = io.StringIO()
    with IngestProgress(stream=stream, live=True) as shown, shown.source("predictions", "/logs/a.jsonl") as tick:
        tick("read", 1500)
        tick("link", 2000)
    text = stream.getvalue()
    assert "predictions /logs/a.jsonl" in text and "2,000 records" in text and "done" in text


def test_ingest_status_page_shows_failure_staleness_rejects_and_the_lock(graph, tmp_path):
    from apppage import frame_with, open_page, texts

    good = prediction_log(tmp_path / "good.jsonl", 5)
    with good.open("a") as out:
        out.write("this line is not JSON\n")
    missing = tmp_path / "nowhere.json"
    config = config_file(tmp_path / "provex.toml", predictions_table(good),
                         f'[[source]]\nkind = "openlineage"\npaths = ["{missing}"]\n')
    result = CliRunner().invoke(cli, ["ingest", "--config", str(config)])
    assert result.exit_code == 1
    at = open_page("ingest_status")
    sources = frame_with(at, "last_error").set_index("source")
    assert sources.loc[str(good), "rejected"] == 1 and not sources.loc[str(good), "stale"]
    assert sources.loc[str(good), "failures"] == 0 and sources.loc[str(good), "last_success"]
    assert sources.loc[str(missing), "stale"] and sources.loc[str(missing), "failures"] == 1
    assert "does not exist" in sources.loc[str(missing), "last_error"]
    shown = texts(at)
    assert "1 source(s) stale" in shown and f"openlineage {missing}: failing since" in shown
    locks = frame_with(at, "heartbeat_age_s")
    assert list(locks["held"]) == [False] and "pid" in locks.iloc[0]["last_owner"]


def test_position_follows_a_logs_bytes_and_a_repositorys_commits(tmp_path):
    """What the ETA is computed from: the adapters say the whole and how far they are."""
    from provex.ingest import dvc, predictions
    from provex.ingest.source import Position

    log = prediction_log(tmp_path / "p.jsonl", 25_000)  # more than one batch of facts
    where = Position()
    records = predictions.read(log, position=where)
    next(records)
    assert where.unit == "bytes" and where.total == log.stat().st_size
    assert 0 < where.done < where.total
    list(records)
    assert where.done == where.total

    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    for i in range(3):
        (repo / "dvc.yaml").write_text(f"stages:\n  train:\n    cmd: python train.py --lr {i}\n")
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", f"c{i}"],
                       cwd=repo, check=True)
    commits = Position()
    list(dvc.read(repo, position=commits, profile=False))
    assert (commits.unit, commits.total, commits.done) == ("commits", 3, 3)


def test_live_progress_shows_a_bar_and_the_time_remaining_when_the_size_is_known():
    from provex.ingest.source import Position

    stream, where, read = io.StringIO(), Position(), [0]
    where.follow(1_000, "bytes", lambda: read[0])
    with IngestProgress(stream=stream, live=True) as shown, shown.source("predictions", "/logs/a.jsonl", where) as tick:
        for done in (100, 300, 500):
            read[0] = done
            time.sleep(0.05)
            tick("read", done // 10)
        [task] = shown._rich.tasks
        assert (task.total, task.completed, task.fields["records"]) == (1_000, 500, 50)
        assert task.time_remaining is not None and task.time_remaining > 0  # what the eta column shows
    assert "eta" in stream.getvalue()
