"""`provex serve-lineage`: the real OpenLineage client's HTTP transport posting
to a real server process (127.0.0.1, a free port), events spooled durably and
ingested into the real Neo4j; auth, bad events, concurrency, kill -9 and replay."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from checksum import checksum
from click.testing import CliRunner
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.serde import Serde
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpCompression, HttpConfig, HttpTransport
from openlineage.client.uuid import generate_new_uuid

from provex.app.cli import cli
from provex.vocab import model

EXE = Path(sys.executable).parent / "provex"
KEY = "test-key-0123456789"
NO_RETRY = {"total": 0, "read": 0, "connect": 0, "backoff_factor": 0, "status_forcelist": [],
            "allowed_methods": ["POST"]}


@contextlib.contextmanager
def server(spool: Path, *args: str, key: str | None = KEY) -> Iterator[tuple[subprocess.Popen, str]]:
    """A `provex serve-lineage` process on a free loopback port; yields it and its base URL.
    Stopped with SIGTERM (then killed) when the block ends."""
    env = {k: v for k, v in os.environ.items() if k != "PROVEX_API_KEY"}
    if key:
        env["PROVEX_API_KEY"] = key
    proc = subprocess.Popen([str(EXE), "serve-lineage", "--host", "127.0.0.1", "--port", "0", "--spool", str(spool),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        yield proc, _base_url(proc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            stream.close()


def _base_url(proc: subprocess.Popen, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            line = proc.stdout.readline()
            if "listening on" in line:
                return line.split("listening on ")[1].split("/api/v1/lineage")[0]
            if not line and proc.poll() is not None:
                break
    raise AssertionError(f"serve-lineage did not start: {proc.stderr.read() if proc.poll() is not None else ''}")


def transport(url: str, key: str | None = KEY, gzip: bool = False, retry: dict | None = None) -> HttpTransport:
    auth = ApiKeyTokenProvider({"apiKey": key}) if key else None
    config = HttpConfig(url=url, timeout=30, compression=HttpCompression.GZIP if gzip else None,
                        **({"auth": auth} if auth else {}), **({"retry": retry} if retry else {}))
    return HttpTransport(config)


def event(i: int) -> RunEvent:
    return RunEvent(eventType=RunState.COMPLETE, eventTime=datetime.now(UTC).isoformat(),
                    run=Run(runId=str(generate_new_uuid())), job=Job(namespace="tests", name=f"job-{i % 10}"),
                    producer="https://example.com/provex-tests",
                    inputs=[InputDataset(namespace="s3://bucket", name=f"in/{i % 7}")],
                    outputs=[OutputDataset(namespace="s3://bucket", name=f"out/{i}")])


def runs_in_graph(graph, run_ids: list[str]) -> int:
    uids = [model.run(r).uid for r in run_ids]
    return graph.read("MATCH (r:Run) WHERE r.uid IN $uids RETURN count(r) AS c", {"uids": uids})[0]["c"]


def wait_for(graph, run_ids: list[str], timeout: float = 240) -> int:
    deadline = time.monotonic() + timeout
    found = runs_in_graph(graph, run_ids)
    while found < len(run_ids) and time.monotonic() < deadline:
        time.sleep(0.5)
        found = runs_in_graph(graph, run_ids)
    return found


def health(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/health", timeout=10) as resp:
        return json.loads(resp.read())


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(f"{url}/api/v1/lineage", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_thousand_events_from_eight_clients_are_each_in_the_graph_once(graph, tmp_path):
    with server(tmp_path / "spool", "--every", "0.5") as (_proc, url):
        def client(n: int) -> list[str]:
            sender = transport(url, gzip=n % 2 == 0)
            sent = []
            for i in range(125):
                ev = event(n * 125 + i)
                assert sender.emit(ev).status_code == 201
                sent.append(ev.run.runId)
            return sent

        with ThreadPoolExecutor(8) as pool:
            run_ids = [r for sent in pool.map(client, range(8)) for r in sent]
        assert len(set(run_ids)) == 1000
        assert wait_for(graph, run_ids) == 1000
        assert health(url)["accepted"] == 1000
    uids = [model.run(r).uid for r in run_ids]
    rows = graph.read("MATCH (r:Run) WHERE r.kind = 'openlineage-run' OPTIONAL MATCH (r)-[u:USED]->() "
                      "RETURN count(DISTINCT r) AS runs, count(u) AS used, "
                      "count(DISTINCT CASE WHEN r.uid IN $uids THEN r END) AS ours", {"uids": uids})
    assert rows == [{"runs": 1000, "used": 1000, "ours": 1000}]
    outputs = graph.read("MATCH (d)-[g:WAS_GENERATED_BY]->(r:Run) WHERE r.uid IN $uids RETURN count(g) AS c",
                         {"uids": uids})
    assert outputs == [{"c": 1000}]
    assert not list((tmp_path / "spool").glob("segment-*.jsonl"))  # all ingested, then dropped


def test_after_kill_9_no_acknowledged_event_is_missing_and_replay_adds_nothing(graph, tmp_path):
    spool = tmp_path / "spool"
    acked: list[str] = []
    with server(spool, "--every", "600") as (proc, url):  # nothing ingested before the kill
        sender = transport(url, retry=NO_RETRY)
        stop = threading.Event()

        def stream() -> None:
            for i in range(5000):
                if stop.is_set():
                    return
                ev = event(i)
                try:
                    if sender.emit(ev).status_code == 201:
                        acked.append(ev.run.runId)
                except Exception:  # noqa: BLE001 - the server was killed mid-stream
                    return

        client = threading.Thread(target=stream)
        client.start()
        deadline = time.monotonic() + 120
        while len(acked) < 200 and time.monotonic() < deadline and client.is_alive():
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stop.set()
        client.join(timeout=60)
    assert len(acked) >= 200
    assert runs_in_graph(graph, acked) == 0  # so only the replay can bring them in
    kept = tmp_path / "kept"
    shutil.copytree(spool, kept, ignore=shutil.ignore_patterns(".lock"))
    with server(spool, "--every", "0.5") as (_proc, url):
        assert wait_for(graph, acked) == len(acked)
    before = checksum(graph)
    for segment in kept.glob("segment-*.jsonl"):  # as if the crash came after the ingest, before the drop
        shutil.copy(segment, spool / segment.name)
    with server(spool, "--every", "0.5") as (_proc, url):
        deadline = time.monotonic() + 120
        while health(url)["spooled_segments"] and time.monotonic() < deadline:
            time.sleep(0.5)
        assert health(url)["ingests"] >= 1
    assert checksum(graph) == before
    assert runs_in_graph(graph, acked) == len(acked)


def test_unauthenticated_or_wrong_key_is_refused_with_401(graph, tmp_path):
    with server(tmp_path / "spool") as (_proc, url):
        for key in (None, "wrong-key"):
            with pytest.raises(Exception) as refused:
                transport(url, key=key, retry=NO_RETRY).emit(event(1))
            assert refused.value.response.status_code == 401
        assert health(url)["accepted"] == 0
        with pytest.MonkeyPatch.context() as env:  # the documented client settings
            env.setenv("OPENLINEAGE_URL", url)
            env.setenv("OPENLINEAGE_API_KEY", KEY)
            env.delenv("OPENLINEAGE_CONFIG", raising=False)
            OpenLineageClient().emit(event(2))
        assert health(url)["accepted"] == 1


def test_bad_events_get_400_with_the_reason(graph, tmp_path):
    good = json.loads(Serde.to_json(event(1)))
    auth = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    with server(tmp_path / "spool") as (_proc, url):
        no_run = {k: v for k, v in good.items() if k != "run"} | {"run": {}}
        code, body = post(url, json.dumps(no_run).encode(), auth)
        assert code == 400 and "run.runId" in body["error"]
        code, body = post(url, b"{not json", auth)
        assert code == 400 and "not valid JSON" in body["error"]
        code, body = post(url, b"plain bytes", {**auth, "Content-Encoding": "gzip"})
        assert code == 400 and "gzip" in body["error"]
        code, body = post(url, json.dumps(["a", 1]).encode(), auth)
        assert code == 400 and "JSON object" in body["error"]
        assert health(url)["accepted"] == 0
        code, _ = post(url, json.dumps({"eventTime": "2026-01-01T00:00:00Z"}).encode(), auth)
        assert code == 400


def test_refuses_to_start_without_a_key_unless_loopback_no_auth(tmp_path, monkeypatch):
    monkeypatch.delenv("PROVEX_API_KEY", raising=False)
    runner = CliRunner()
    spool = ["--spool", str(tmp_path / "spool")]
    result = runner.invoke(cli, ["serve-lineage", *spool])
    assert result.exit_code == 2 and "PROVEX_API_KEY" in result.output
    result = runner.invoke(cli, ["serve-lineage", "--host", "0.0.0.0", "--no-auth", *spool])
    assert result.exit_code == 2 and "loopback" in result.output
    key_file = tmp_path / "key"
    key_file.write_text("secret\n")
    key_file.chmod(0o644)
    result = runner.invoke(cli, ["serve-lineage", "--api-key-file", str(key_file), *spool])
    assert result.exit_code == 2 and "chmod 600" in result.output


def test_no_auth_on_loopback_and_a_0600_key_file(graph, tmp_path):
    with server(tmp_path / "open", "--no-auth", key=None) as (_proc, url):
        ev = event(1)
        assert transport(url, key=None).emit(ev).status_code == 201
        assert wait_for(graph, [ev.run.runId], timeout=60) == 1
    key_file = tmp_path / "key"
    key_file.write_text("from-a-file\n")
    key_file.chmod(0o600)
    with server(tmp_path / "keyed", "--api-key-file", str(key_file), key=None) as (_proc, url):
        assert transport(url, key="from-a-file").emit(event(2)).status_code == 201
        with pytest.raises(Exception) as refused:
            transport(url, key=KEY, retry=NO_RETRY).emit(event(3))
        assert refused.value.response.status_code == 401
