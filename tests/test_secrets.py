"""Credentials in URIs, every form: a password holding ``@`` and ``:``, a
percent-encoded one, a malformed authority (``http://[::1:Secret@...``), a
password that ends the authority early (``/``, ``#``, a space), and secret
query or fragment keys (token, access_token, key, password, sig, secret,
X-Amz-*). One scrubber (:mod:`provex.vocab.secrets`) removes them; the
end-to-end test feeds them through MLflow tracking URIs, OpenLineage events,
a DVC import URL and NEO4J_URI, then greps every output stream, the rejects
file and every uid and property of every node and edge for each secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from provex.app.cli import cli
from provex.vocab.model import Ref
from provex.vocab.records import Edge, Flag, Node, Reject
from provex.vocab.secrets import scrub_record, scrubbed, shown_uri

#: (URI, the secret parts that must never be shown, what must stay).
FORMS = [
    ("http://alice:se@cr:et-A1@db.example.com:5000/api", ["se@cr:et-A1", "cr:et-A1", "et-A1"], "http://db.example.com:5000/api"),
    ("https://alice:p%40ss%3Aw-B2@host/x", ["p%40ss", "w-B2", "p@ss"], "https://host/x"),
    ("http://[::1:Secret-C3@127.0.0.1:9/v", ["Secret-C3"], "http://127.0.0.1:9/v"),
    ("http://alice:pa/ss-D4@host/p", ["pa/ss-D4", "ss-D4"], "http://host/p"),
    ("http://alice:pa#ss-E5@host/p", ["ss-E5"], "http://host/p"),
    ("http://alice:pa?ss-F6@host/p", ["ss-F6"], "http://host/p"),
    ("http://alice:sp ace-G7@host/p", ["ace-G7"], "http://host/p"),
    ("https://ghp_tokenonly-H8@github.com/org/repo.git", ["tokenonly-H8"], "https://github.com/org/repo.git"),
    ("neo4j+s://neo4j:bolt-I9@db:7687", ["bolt-I9"], "neo4j+s://db:7687"),
    ("https://h/x?token=tok-J1&access_token=acc-K2&key=key-L3&password=pw-M4&sig=sig-N5&secret=sec-O6&page=2",
     ["tok-J1", "acc-K2", "key-L3", "pw-M4", "sig-N5", "sec-O6"], "page=2"),
    ("s3://bucket/k.csv?X-Amz-Signature=amz-P7&X-Amz-Credential=cred-Q8&X-Amz-Security-Token=st-R9&X-Amz-Date=1",
     ["amz-P7", "cred-Q8", "st-R9"], "s3://bucket/k.csv?"),
    ("https://h/cb#access_token=frag-S1&state=x", ["frag-S1"], "state=x"),
    ("https://h/x?%74oken=enc-T2&api_key=ak-U3&client_secret=cs-V4", ["enc-T2", "ak-U3", "cs-V4"], "https://h/x"),
]
SECRETS = [s for _, secrets, _ in FORMS for s in secrets]


@pytest.mark.parametrize("uri,secrets,kept", FORMS, ids=[f[0][:40] for f in FORMS])
def test_each_form_is_scrubbed(uri, secrets, kept):
    for shown in (shown_uri(uri), scrubbed(f"error: cannot reach {uri} (retry)"), scrubbed(json.dumps({"u": uri}))):
        assert not [s for s in secrets if s in shown], shown
        assert kept in shown
    json.loads(scrubbed(json.dumps({"u": uri})))  # still JSON


def test_text_without_credentials_is_unchanged():
    for text in ("/a/path with spaces@x", "http://host:8080/a@b", "sqlite:////tmp/a@b/mlflow.db",
                 "http://[::1]:7687/x", "user@example.com wrote http://example.com/?q=1", "bolt://127.0.0.1:7687"):
        assert scrubbed(text) == text


def test_records_are_scrubbed_everywhere_they_hold_text():
    uri = FORMS[0][0]
    ref = Ref("Dataset", f"dataset:{uri}")
    records = [Node(ref, {"path": uri, "deps": [uri, "x"], "n": 1}, uri), Edge("USED", ref, ref, {"u": uri}, source=uri),
               Reject(uri, 1, f"bad {uri}", uri), Flag("k", f"odd {uri}", uri)]
    text = repr([scrub_record(r) for r in records])
    assert "et-A1" not in text and "db.example.com" in text
    plain = Node(Ref("Dataset", "dataset:x"), {"path": "x"})
    assert scrub_record(plain) is plain  # nothing to remove: the same record


def every_text(graph) -> str:
    rows = graph.read("MATCH (n) RETURN n.uid AS uid, properties(n) AS p UNION ALL "
                      "MATCH (a)-[e]->(b) RETURN a.uid + '->' + b.uid AS uid, properties(e) AS p")
    return json.dumps([[r["uid"], r["p"]] for r in rows], default=str, ensure_ascii=False)


def test_no_secret_reaches_any_output_or_the_graph(graph, tmp_path: Path):
    runner = CliRunner()
    outputs: list[str] = []

    def run(args: list[str], **env: str) -> None:
        done = runner.invoke(cli, args, env=env or None)
        assert done.exception is None or isinstance(done.exception, SystemExit), repr(done.exception)
        outputs.append(done.stdout + done.stderr)

    for uri, _, _ in FORMS[:9]:  # unreachable or malformed tracking URIs: the error, the Source node's last error
        run(["ingest", "mlflow", "--tracking-uri", uri])
    run(["ingest", "mlflow", "--tracking-uri", FORMS[0][0], "--format", "json"])
    events = tmp_path / "events.jsonl"
    lines = []
    for i, (uri, _, _) in enumerate(FORMS):
        lines.append(json.dumps({"eventType": "COMPLETE", "eventTime": "2026-04-02T10:15:00Z", "producer": uri,
                                 "run": {"runId": f"run-{i}", "facets": {"x": {"url": uri}}},
                                 "job": {"namespace": uri, "name": f"job {uri}"},
                                 "inputs": [{"namespace": uri, "name": f"in {uri}"}]}))
        lines.append(json.dumps({"eventType": "BOGUS", "run": {"runId": uri}, "job": {"namespace": uri, "name": uri}}))
    events.write_text("\n".join(lines) + "\n")
    run(["ingest", "openlineage", str(events)])
    run(["ingest", "openlineage", str(events), "--format", "json"])
    project = tmp_path / "dvc"
    project.mkdir()
    deps = [{"path": uri, "etag": f"etag-{i}"} for i, (uri, _, _) in enumerate(FORMS)]
    (project / "data.csv.dvc").write_text(yaml.safe_dump({"deps": deps[:1], "outs": [{"path": "data.csv", "md5": "0" * 32}]}))
    (project / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {
        "fetch": {"cmd": f"curl {FORMS[0][0]}", "deps": deps, "outs": [{"path": "out.csv", "md5": "1" * 32}]}}}))
    run(["ingest", "dvc", str(project)])
    for uri in ("bolt://neo4j:se@cr:et-A1@127.0.0.1:9", "bolt://[::1:Secret-C3@127.0.0.1:9", "neo4j+s://neo4j:bolt-I9@db:7687"):
        run(["stats"], NEO4J_URI=uri)
        run(["neo4j", "status"], NEO4J_URI=uri)
    text = "\n".join(outputs) + every_text(graph) + (tmp_path / "events.jsonl.rejected.jsonl").read_text()
    assert graph.read("MATCH (r:IngestRun) RETURN count(r) AS c")[0]["c"] >= 3  # the ingests did record themselves
    assert "db.example.com" in text and "Traceback" not in text
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, [text[max(0, text.index(s) - 200):text.index(s) + 50] for s in leaked[:3]]
