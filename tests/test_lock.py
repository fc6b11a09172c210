"""One ingest at a time: the ingest lock (graph/lock.py), the schema applied
safely by racing writers, race-proof alias intervals, and two concurrent
`provex ingest --config` runs serialised into the graph of one run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from checksum import checksum, snapshot
from click.testing import CliRunner
from sample import json_documents, restore

from provex.app.cli import cli
from provex.graph import lock as ingest_lock
from provex.graph import schema
from provex.graph.lock import IngestLock
from provex.graph.writer import Writer
from provex.vocab import model
from provex.vocab.errors import LockHeld
from provex.vocab.records import Edge

EXE = Path(sys.executable).parent / "provex"


def held_by(graph, **props) -> None:
    """A lock node as another process would have left it; ``age`` seconds since its heartbeat."""
    schema.apply_statement(graph, ingest_lock.CONSTRAINT)
    age = props.pop("age", 0)
    graph.write("MERGE (l:IngestLock {name: 'ingest'}) SET l += $p, l.heartbeat = timestamp() - $ms, "
                "l.acquired_at = timestamp() - $ms",
                p={"token": "other", "owner": "alice", "host": "elsewhere", "pid": 4242, "command": "cron", **props},
                ms=int(age * 1000))


def lock_node(graph) -> dict:
    return graph.read("MATCH (l:IngestLock {name: 'ingest'}) RETURN properties(l) AS p")[0]["p"]


def test_second_lock_is_refused_naming_the_holder(graph):
    with IngestLock(graph, command="first"):
        with pytest.raises(LockHeld) as refused:
            IngestLock(graph).acquire()
    assert refused.value.exit_code == 3
    text = str(refused.value)
    assert f"pid {os.getpid()}" in text and socket.gethostname() in text and "(first)" in text
    assert "--wait" in text
    assert not lock_node(graph).get("token")  # released


def test_cli_exits_3_while_another_ingest_holds_the_lock(graph, tmp_path):
    log = tmp_path / "p.jsonl"
    log.write_text('{"prediction_id": "p1", "model": "m@1", "timestamp": "2026-01-01T00:00:00Z", "output": 1}\n')
    held_by(graph)
    result = CliRunner().invoke(cli, ["ingest", "predictions", str(log)])
    assert result.exit_code == 3
    assert "alice@elsewhere pid 4242 (cron)" in result.output
    assert graph.read("MATCH (p:Prediction) RETURN count(p) AS c") == [{"c": 0}]


def test_wait_takes_the_lock_once_the_holder_releases_it(graph):
    first = IngestLock(graph)
    first.acquire()
    threading.Timer(1.0, first.release).start()
    started = time.monotonic()
    told: list[str] = []
    with IngestLock(graph, wait=30, notify=told.append):
        assert time.monotonic() - started >= 0.9
    assert any("waiting" in line for line in told)


def test_stale_lock_is_taken_over_and_the_takeover_recorded(graph):
    held_by(graph, age=30)
    told: list[str] = []
    with IngestLock(graph, stale_after=10, notify=told.append) as mine:
        node = lock_node(graph)
        assert node["token"] == mine.token and node["pid"] == os.getpid()
        assert mine.takeover is not None and mine.takeover.owner == "alice"
    assert node["takeovers"] == 1 and node["last_takeover_from"] == "alice@elsewhere pid 4242"
    assert any("took over" in line for line in told)


def test_fresh_lock_is_not_taken_over(graph):
    held_by(graph, age=1)
    with pytest.raises(LockHeld):
        IngestLock(graph, stale_after=10).acquire()
    assert lock_node(graph)["token"] == "other"


def test_lock_of_a_dead_process_on_this_host_is_taken_over_at_once(graph):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    held_by(graph, host=socket.gethostname(), pid=int(gone.stdout))
    with IngestLock(graph, stale_after=3600) as mine:
        assert mine.takeover is not None and mine.takeover.pid == int(gone.stdout)
    assert lock_node(graph)["takeovers"] == 1


def test_heartbeat_keeps_a_long_ingest_from_being_taken_over(graph):
    with IngestLock(graph, stale_after=1.0) as mine:
        first = lock_node(graph)["heartbeat"]
        time.sleep(1.6)
        assert lock_node(graph)["heartbeat"] > first
        with pytest.raises(LockHeld):
            IngestLock(graph, stale_after=1.0).acquire()
        assert not mine.lost
    status = ingest_lock.state(graph)
    assert status[0]["held"] is False and "token" not in status[0]


def test_schema_applied_by_racing_writers_on_a_fresh_database(graph):
    """Concurrent IF NOT EXISTS applies: the losers must not fail."""
    def drop_all() -> None:
        for row in graph.read("SHOW CONSTRAINTS YIELD name RETURN name"):
            graph.write(f"DROP CONSTRAINT `{row['name']}` IF EXISTS")
        for row in graph.read("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name"):
            graph.write(f"DROP INDEX `{row['name']}` IF EXISTS")

    try:
        for _ in range(2):
            drop_all()
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda _: schema.apply(graph), range(4)))  # raises if one failed
            names = {r["name"] for r in graph.read("SHOW CONSTRAINTS YIELD name RETURN name")}
            assert "node_uid" in names and len(names) == len({s for s in schema.statements() if "CONSTRAINT" in s})
    finally:
        schema.apply(graph)


def alias(version: int, at: str) -> Edge:
    return Edge("HAS_ALIAS", model.model("credit-limit"), model.model_version("credit-limit", version),
                {"alias": "production", "valid_from": at}, supersedes=("alias",), source="test")


HISTORY = [alias(1, "2026-01-01T00:00:00Z"), alias(2, "2026-02-01T00:00:00Z"), alias(1, "2026-03-01T00:00:00Z"),
           alias(3, "2026-04-01T00:00:00Z")]
INTERVALS = [
    {"v": "model:credit-limit@1", "f": "2026-01-01T00:00:00Z", "t": "2026-02-01T00:00:00Z"},
    {"v": "model:credit-limit@2", "f": "2026-02-01T00:00:00Z", "t": "2026-03-01T00:00:00Z"},
    {"v": "model:credit-limit@1", "f": "2026-03-01T00:00:00Z", "t": "2026-04-01T00:00:00Z"},
    {"v": "model:credit-limit@3", "f": "2026-04-01T00:00:00Z", "t": None},
]


def intervals(graph) -> list[dict]:
    return graph.read("MATCH (:Model)-[e:HAS_ALIAS]->(v) RETURN v.uid AS v, e.valid_from AS f, e.valid_to AS t "
                      "ORDER BY f")


def test_alias_intervals_stay_correct_when_writers_race(graph):
    """Eight writers (no ingest lock) write the same alias history at once, one
    assignment per transaction, in different orders: each interval once."""
    def writer(i: int) -> None:
        order = HISTORY if i % 2 == 0 else list(reversed(HISTORY))
        for edge in order:
            with Writer(graph, f"ingest-{i}") as w:
                w.add(edge)

    for _ in range(3):
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(writer, range(8)))
        assert intervals(graph) == INTERVALS


def test_alias_replay_out_of_order_adds_nothing(graph):
    with Writer(graph, "ingest-1") as w:
        w.add_all(HISTORY)
    for edge in reversed(HISTORY):
        with Writer(graph, "ingest-2") as w:
            w.add(edge)
    assert intervals(graph) == INTERVALS


def run_ingest(config: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([str(EXE), "ingest", "--config", str(config), "--format", "json", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())


def only(config: Path, kinds: tuple[str, ...]) -> Path:
    """A provex.toml beside ``config`` with only its sources of these kinds."""
    tables = tomllib.loads(config.read_text())["source"]
    lines = []
    for table in (t for t in tables if t["kind"] in kinds):
        lines.append("[[source]]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in table.items())
    target = config.with_name("subset.toml")
    target.write_text("\n".join(lines) + "\n")
    return target


def serialised_runs_equal_one_run(graph, config: Path) -> None:
    single = run_ingest(config)
    out, err = single.communicate(timeout=900)
    assert single.returncode == 0, err
    one_run = snapshot(graph)
    reference = checksum(graph)
    schema.clear(graph)

    first = run_ingest(config, "--wait", "900")
    time.sleep(0.5)
    second = run_ingest(config, "--wait", "900")
    results = [(p, *p.communicate(timeout=1800)) for p in (first, second)]
    for proc, _out, err in results:
        assert proc.returncode == 0, err
    assert any("waiting up to 900s for the ingest lock" in err for _p, _o, err in results)
    assert snapshot(graph) == one_run
    assert checksum(graph) == reference
    opened = graph.read("MATCH (m:Model)-[e:HAS_ALIAS]->() WHERE e.valid_to IS NULL "
                        "RETURN m.uid AS model, e.alias AS alias, count(*) AS open")
    assert opened and all(row["open"] == 1 for row in opened)
    sources = len(json_documents(out))
    assert graph.read("MATCH (i:IngestRun) RETURN count(i) AS c") == [{"c": 2 * sources}]


def test_two_concurrent_ingests_of_the_mlflow_store_equal_one(graph, tmp_path):
    """The registry (with its alias history) ingested by two racing `provex ingest --config` runs."""
    serialised_runs_equal_one_run(graph, only(restore(tmp_path / "sample"), ("mlflow",)))


@pytest.mark.slow
def test_two_concurrent_ingests_of_the_whole_sample_equal_one(graph, tmp_path):
    serialised_runs_equal_one_run(graph, restore(tmp_path / "sample"))
