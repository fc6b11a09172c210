"""Property-based tests (hypothesis) of each adapter's parsing: mutated YAML for
DVC, JSON lines and CSV for predictions, OpenLineage events, MLflow values.
The rule: never an unhandled exception; every rejection carries a reason and
a file (and a line, for line-based files); every record the adapter yields
is one the graph writer can store or refuses with a reason of its own.

The number of cases per adapter is in ``EXAMPLES`` (docs/reliability.md
reports them); ``make test-long`` runs each ten times as many."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from provex.graph.writer import plain_props
from provex.ingest import dvc, openlineage, predictions
from provex.ingest import mlflow as mlflow_adapter
from provex.ingest.predictions.fastpath import FastPath
from provex.store.table import settled, to_table
from provex.vocab import values
from provex.vocab.facts import Facts
from provex.vocab.records import Edge, Entry, Flag, Node, Record, Reject, Watermark

SLOW = 10  # times as many in the long run (make test-long)
SCALE = int(os.environ.get("PROVEX_FUZZ_SCALE", "1"))  # the long run sets it to SLOW, in a process of its own
EXAMPLES = {name: n * SCALE for name, n in
            {"predictions-jsonl": 300, "predictions-fast": 200, "predictions-csv": 200, "openlineage": 200, "dvc": 60, "mlflow": 12}.items()}
CASES: Counter = Counter()  # cases run per adapter in this session
TIME = "2026-04-02T10:15:00Z"
ANY = {"deadline": None, "suppress_health_check": list(HealthCheck)}

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=12)
odd_text = st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Z", "Cc"]), max_size=30)
RECORD = {"prediction_id": "p1", "timestamp": TIME, "model_name": "m", "model_version": "1",
          "inputs": {"a": 1}, "output": 1.5, "score": 0.5}


def check(records: list[Record], file: str, *, lines: bool) -> None:
    """The invariants every adapter output keeps, whatever its input."""
    records = [r for rec in records for r in (rec.records if isinstance(rec, Entry) else (rec,))]
    for rec in records:
        assert isinstance(rec, (Node, Edge, Reject, Flag, Watermark, Facts))
        if isinstance(rec, Facts):
            settled(to_table(rec, "fuzz"), DUCK)  # the store takes the batch ...
            for row in rec.rows():
                assert values.problem(row) is None, row  # ... and every fact is storable as it is
            continue
        if isinstance(rec, Reject):
            assert rec.reason.strip() and rec.file
            if lines:
                assert rec.file == file and isinstance(rec.line, int) and rec.line >= 1
        elif isinstance(rec, (Node, Edge)):
            json.dumps(plain_props(rec.props))  # the writer can encode it ...
            values.problem(dict(rec.props))  # ... and check it (a problem is a writer Reject, not a crash)


def workdir(name: str) -> Path:
    CASES[name] += 1
    return Path(tempfile.mkdtemp(prefix="provex-fuzz-"))


# ---- prediction logs ---------------------------------------------------------------------------------

DUCK = duckdb.connect()


def general_path_only(path: Path) -> list[Record]:
    """What read() yields with the fast path off: every line through the general path."""
    real = FastPath.row
    FastPath.row = lambda self, raw, source, number: None
    try:
        return list(predictions.read(path))
    finally:
        FastPath.row = real


def comparable(records: list[Record]) -> list[Any]:
    """Facts as rows (batching aside), rejects, flags and the watermark, in order."""
    out: list[Any] = []
    for rec in records:
        if isinstance(rec, Facts):
            out.extend(rec.rows())
        else:
            out.append(rec)
    return out


mutated_record = st.builds(lambda key, value: {**RECORD, key: value},
                           st.sampled_from([*RECORD, "upstream", "override", "extra", "\x00", "input.x"]), json_values)
json_line = st.one_of(mutated_record.map(json.dumps), json_values.map(json.dumps), odd_text,
                      st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
                      st.sampled_from(['{"output": NaN}', '{"a": 1, "a": 2}', "[" * 3000, '{"x": 1e999}',
                                       '{"prediction_id": "\\ud800"}', "\r", "\x00"]))
cell = st.one_of(odd_text, st.sampled_from(["", "nan", "inf", "1e400", "9" * 30, '"', '""', "\r", "a,b", TIME]))
csv_header = st.lists(st.sampled_from([*RECORD, "input.x", "override.rule", "extra", "a\rb", ""]) | odd_text,
                      min_size=1, max_size=6)


@settings(max_examples=EXAMPLES["predictions-jsonl"], **ANY)
@given(st.lists(json_line, min_size=1, max_size=6))
def test_fuzz_prediction_jsonl(lines):
    tmp = workdir("predictions-jsonl")
    try:
        path = tmp / "log.jsonl"
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
        records = list(predictions.read(path))
        check(records, str(path), lines=True)
        assert comparable(records) == comparable(general_path_only(path)), "the fast path and the general path differ"
    finally:
        shutil.rmtree(tmp)


same_shape = st.fixed_dictionaries({key: st.one_of(st.just(value), json_values, odd_text) for key, value in RECORD.items()})
raw_line = st.one_of(same_shape.map(json.dumps), same_shape.map(lambda r: json.dumps(r, separators=(",", ":"))),
                     same_shape.map(lambda r: json.dumps(r).replace('": ', '" : ')))


@settings(max_examples=EXAMPLES["predictions-fast"], **ANY)
@given(st.lists(raw_line, min_size=1, max_size=8))
def test_fuzz_prediction_lines_of_one_shape(lines):
    """A serving log's lines share one shape: after the first, the fast path
    reads them; it must store, reject and flag exactly as the general path."""
    tmp = workdir("predictions-fast")
    try:
        path = tmp / "log.jsonl"
        path.write_bytes("\n".join([json.dumps(RECORD), *lines]).encode("utf-8", "surrogatepass"))
        records = list(predictions.read(path))
        check(records, str(path), lines=True)
        assert comparable(records) == comparable(general_path_only(path)), "the fast path and the general path differ"
    finally:
        shutil.rmtree(tmp)


@settings(max_examples=EXAMPLES["predictions-csv"], **ANY)
@given(csv_header, st.lists(st.lists(cell, max_size=6), max_size=5))
def test_fuzz_prediction_csv(header, rows):
    tmp = workdir("predictions-csv")
    try:
        path = tmp / "log.csv"
        path.write_bytes("\n".join(",".join(r) for r in [header, *rows]).encode("utf-8", "surrogatepass"))
        check(list(predictions.read(path)), str(path), lines=True)
    finally:
        shutil.rmtree(tmp)


# ---- OpenLineage --------------------------------------------------------------------------------------

EVENT = {"eventType": "COMPLETE", "eventTime": TIME, "producer": "fuzz",
         "run": {"runId": "3f5e6f5a-0000-4000-8000-000000000001", "facets": {}},
         "job": {"namespace": "ns", "name": "job"},
         "inputs": [{"namespace": "ns", "name": "in", "facets": {}}],
         "outputs": [{"namespace": "ns", "name": "out", "facets": {}}]}
PATHS = [("eventType",), ("eventTime",), ("run",), ("run", "runId"), ("run", "facets"), ("job",), ("job", "name"),
         ("inputs",), ("outputs",), ("dataset",), ("run", "facets", "parent"), ("outputs", 0, "facets")]


def mutate(event: dict[str, Any], path: tuple, value: Any) -> dict[str, Any]:
    """``event`` with the value at ``path`` replaced (when the path still exists)."""
    doc = json.loads(json.dumps(event))
    target: Any = doc
    for key in path[:-1]:
        ok = isinstance(target, dict) or (isinstance(target, list) and isinstance(key, int) and key < len(target))
        target = target[key] if ok and (isinstance(target, list) or key in target) else None
    if isinstance(target, dict) or (isinstance(target, list) and isinstance(path[-1], int) and path[-1] < len(target)):
        target[path[-1]] = value
    return doc


@settings(max_examples=EXAMPLES["openlineage"], **ANY)
@given(st.lists(st.tuples(st.sampled_from(PATHS), json_values), max_size=3), st.booleans())
def test_fuzz_openlineage_events(mutations, as_lines):
    event = EVENT
    for path, value in mutations:
        event = mutate(event, path, value)
    tmp = workdir("openlineage")
    try:
        path = tmp / ("events.jsonl" if as_lines else "event.json")
        path.write_text(json.dumps(event) + "\n" + (json.dumps(EVENT) if as_lines else ""), encoding="utf-8")
        check(list(openlineage.read(path)), str(path), lines=as_lines)
    finally:
        shutil.rmtree(tmp)


# ---- DVC ----------------------------------------------------------------------------------------------

STAGE = {"cmd": "python train.py", "deps": ["data.csv"], "outs": ["model.pkl"], "params": ["lr"]}
LOCK = {"schema": "2.0", "stages": {"train": {"cmd": "python train.py",
                                               "deps": [{"path": "data.csv", "md5": "a" * 32, "size": 1}],
                                               "outs": [{"path": "model.pkl", "md5": "b" * 32, "size": 2}],
                                               "params": {"params.yaml": {"lr": 0.1}}}}}
yaml_text = st.one_of(json_values.map(json.dumps), odd_text,
                      st.sampled_from(["a: &a [1]\nb: *a\n", "- - - -", "!!python/object:os.system {}",
                                       "stages: ${x}", "vars: [missing.yaml]\nstages: {}", "\t", "---\n---\n"]))


def stage_doc(key: str, value: Any) -> str:
    return json.dumps({"stages": {"train": {**STAGE, key: value}, "prep": STAGE | {"cmd": "echo ${lr}"}}})


dvc_yaml = st.one_of(yaml_text, st.builds(stage_doc, st.sampled_from([*STAGE, "foreach", "do", "matrix", "wdir",
                                                                      "vars"]), json_values))
lock_yaml = st.one_of(yaml_text, st.builds(lambda k, v: json.dumps({**LOCK, k: v}),
                                           st.sampled_from(["schema", "stages"]), json_values))


@settings(max_examples=EXAMPLES["dvc"], **ANY)
@given(dvc_yaml, lock_yaml, yaml_text, yaml_text)
@example(stage_doc("matrix", {}), json.dumps(LOCK), "", "")  # DVC's AssertionError in resolve_one (found by a random seed)
def test_fuzz_dvc_files(dvc_text, lock_text, params_text, dvcfile_text):
    tmp = workdir("dvc")
    try:
        for name, text in [("dvc.yaml", dvc_text), ("dvc.lock", lock_text), ("params.yaml", params_text),
                           ("data.dvc", dvcfile_text)]:
            (tmp / name).write_bytes(text.encode("utf-8", "surrogatepass"))
        check(list(dvc.read(tmp)), str(tmp), lines=False)
    finally:
        shutil.rmtree(tmp)


# ---- MLflow -------------------------------------------------------------------------------------------

param_key = st.text(alphabet=st.characters(codec="ascii", categories=["L", "N"]) | st.sampled_from("_-. /é日"),
                    min_size=1, max_size=40).filter(lambda k: k.strip() and not k.startswith("/"))
param_value = st.one_of(odd_text, st.text(min_size=1000, max_size=6000), st.sampled_from(["NaN", "9" * 40, "\x00"]))
metric_value = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**62), 2**62))


@settings(max_examples=EXAMPLES["mlflow"], **ANY)
@given(st.dictionaries(param_key, param_value, min_size=1, max_size=4),
       st.dictionaries(param_key, metric_value, max_size=3), odd_text.filter(str.strip))
def test_fuzz_mlflow_values(params, metrics, name):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    tmp = workdir("mlflow")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        client = MlflowClient(tracking_uri=(tmp / "mlruns").as_uri())
        try:
            run = client.create_run(client.create_experiment(name), run_name=name)
            for key, value in params.items():
                client.log_param(run.info.run_id, key, value)
            for key, value in metrics.items():
                client.log_metric(run.info.run_id, key, value)
        except MlflowException:
            pass  # MLflow refused the value itself; what it kept is read below
        finally:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        if (tmp / "mlruns").is_dir():
            check(list(mlflow_adapter.read(str(tmp / "mlruns"))), str(tmp / "mlruns"), lines=False)
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        shutil.rmtree(tmp)


# ---- the long runs ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_fuzz_long():
    """Every adapter's fuzz with SLOW times as many cases (make test-long): the
    fast tests above again, in a pytest of their own with PROVEX_FUZZ_SCALE set
    (hypothesis fixes a test's settings when it is decorated)."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-m", "not slow",
                           __file__], capture_output=True, text=True, timeout=3600,
                          env={**os.environ, "PROVEX_FUZZ_SCALE": str(SLOW), "PROVEX_HYPOTHESIS": "explore"})
    assert done.returncode == 0, done.stdout[-3000:]
    counts = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("fuzz cases:"))
                        .removeprefix("fuzz cases:").replace("'", '"'))
    print(f"\nlong fuzz cases: {counts}")
    assert set(counts) == set(EXAMPLES) and all(counts[name] >= EXAMPLES[name] * SLOW for name in counts)


def test_fuzz_case_counts_are_reported(capsys):
    """Prints the cases run per adapter in this session (docs/reliability.md);
    every adapter fuzzed in it ran at least its number of cases (hypothesis
    stops early only when it has seen every input its strategy can make)."""
    with capsys.disabled():
        print("\nfuzz cases:", dict(CASES))
    assert all(CASES[name] >= EXAMPLES[name] for name in CASES)
