"""Data integrity round 2 (issue 25): options and settings that are usage
errors, not tracebacks; a rejects file that never destroys an input and keeps
every input's rejects; sources that are refused before they are touched, read
without writing into them, or read as git reads them (a bare repository).

Most of these need no database: the refusals come before any connection."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from provex.app.cli import cli
from provex.graph.questions import _convert, get
from provex.ingest import dvc, openlineage
from provex.ingest import mlflow as mlflow_adapter
from provex.ingest.mlflow.store import Store
from provex.vocab.errors import SourceError, UsageError
from provex.vocab.records import Edge, Entry, Node, Reject

SAMPLE_BUNDLE = Path(__file__).resolve().parent.parent / "sample_data" / "credit-dvc.bundle"
TIME = "2026-04-02T10:15:00Z"


def invoke(*args: str, env: dict | None = None):
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=True)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def log(path: Path, ids: list[str], bad: str = "") -> Path:
    rows = [json.dumps({"prediction_id": i, "timestamp": TIME, "model_name": "m", "model_version": "1", "output": 1.0})
            for i in ids]
    path.write_text("\n".join(rows + ([bad] if bad else [])) + "\n")
    return path


# ---- options: usage errors (exit 2), never a traceback or an endless loop ------------------------------

@pytest.mark.parametrize("value", ["0", "-1", "0.5", "nan", "inf", "-inf", "1e300", "abc"])
def test_watch_every_must_be_finite_and_at_least_a_second(tmp_path: Path, value: str) -> None:
    config = tmp_path / "provex.toml"
    config.write_text('[[source]]\nkind = "predictions"\nfiles = ["x.jsonl"]\n')
    result = invoke("watch", "--config", str(config), "--every", value, "--times", "1")
    assert result.exit_code == 2 and "--every" in result.output


@pytest.mark.parametrize("option", ["--max-backoff", "--stale-after", "--wait"])
def test_other_watch_seconds_are_finite(tmp_path: Path, option: str) -> None:
    config = tmp_path / "provex.toml"
    config.write_text('[[source]]\nkind = "predictions"\nfiles = ["x.jsonl"]\n')
    result = invoke("watch", "--config", str(config), "--every", "5", option, "nan")
    assert result.exit_code == 2 and option in result.output


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "1e-9"])
def test_query_time_limits_are_finite_and_positive(value: str) -> None:
    for args in (["cypher", "RETURN 1", "--timeout", value], ["ask", "lineage-gaps", "--timeout", value],
                 ["lineage", "run:x", "--time-limit", value]):
        result = invoke(*args)
        assert result.exit_code == 2 and ("--timeout" in result.output or "--time-limit" in result.output), args


@pytest.mark.parametrize("value", [str(2**63), str(-(2**63) - 1), "9" * 30, "1" * 5000, "+0" + "9" * 20])
def test_integer_params_beyond_64_bits_are_refused(value: str) -> None:
    result = invoke("cypher", "RETURN $x AS x", "--param", f"x={value}")
    assert result.exit_code == 2 and "64-bit" in result.output
    with pytest.raises(UsageError, match="64-bit"):
        question = get("serving-model-at")
        _convert(None, question, next(p for p in question.params if p.type == "int"), value)


def test_other_limits_are_usage_errors() -> None:
    assert invoke("cypher", "RETURN 1", "--limit", "-1").exit_code == 2
    assert invoke("search", "x", "--limit", "0").exit_code == 2
    assert invoke("ingest", "dvc", ".", "--batch-size", "0").exit_code == 2


@pytest.mark.parametrize("uri", ["foo", "bolt://", "bolt://host:notaport", "bolt://[::1", "bolt://h:99999",
                                 "http://localhost:7687", "bolt://user:secret@localhost:7687", "bolt://h:1/db",
                                 "bolt://" + "a" * 70 + ".com:7687", "bolt://ho st:7687"])
def test_a_malformed_neo4j_uri_is_a_usage_error(uri: str) -> None:
    result = invoke("stats", env={"NEO4J_URI": uri, "NEO4J_PASSWORD": "x"})
    assert result.exit_code == 2 and "NEO4J_URI" in result.output
    assert "secret" not in result.output


@pytest.mark.parametrize("table", ['kind = "dvc"\npath = "."\nrev = 5', 'kind = "dvc"\npath = "."\nrev = ["a"]',
                                   'kind = "predictions"\nfiles = ["x.jsonl"]\nmodel = 5',
                                   'kind = "mlflow"\ntracking_uri = 1', "kind = 3"])
def test_a_config_value_that_is_not_text_is_a_usage_error(tmp_path: Path, table: str) -> None:
    config = tmp_path / "provex.toml"
    config.write_text(f"[[source]]\n{table}\n")
    result = invoke("ingest", "--config", str(config))
    assert result.exit_code == 2 and "source #1" in result.output


def test_a_revision_that_looks_like_an_option_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a git revision"):
        list(dvc.read(clone(tmp_path / "repo"), rev="--output=/tmp/provex-pwned"))
    assert not Path("/tmp/provex-pwned").exists()


# ---- a flush too big for one transaction: cut in halves by record (test_txmemory.py writes them) ------

def test_a_flush_is_cut_in_halves_by_record() -> None:
    """A record is a node with the edges that start at it; an edge from a node
    outside the flush is a record of its own. Halves keep the order; one record
    is not cut (the writer gives it up when it is too big alone)."""
    from provex.graph import batch

    used = ("USED", "Run", "Run", (), ())
    nodes = {"Run": [{"uid": f"run:{i}", "props": {}, "source": "f"} for i in range(3)]}
    edges = {used: [{"src": "run:1", "dst": "run:0", "props": {}, "source": "f"},
                    {"src": "run:9", "dst": "run:0", "props": {}, "source": "f"},
                    {"src": "run:2", "dst": "run:1", "props": {}, "source": "f"}]}
    first, second = batch.halves(nodes, edges)
    assert [r["uid"] for r in first[0]["Run"]] == ["run:0", "run:1"]
    assert [e["src"] for e in first[1][used]] == ["run:1"]
    assert [r["uid"] for r in second[0]["Run"]] == ["run:2"] and [e["src"] for e in second[1][used]] == ["run:2", "run:9"]
    assert batch.halves({"Run": nodes["Run"][1:2]}, {used: edges[used][:1]}) is None
    assert batch.halves({}, {used: edges[used][1:2]}) is None
    pieces = [nodes, edges]
    while True:  # halving again and again ends at single records, each kept once
        parts = [p for n, e in zip(pieces[::2], pieces[1::2]) for p in (batch.halves(n, e) or [(n, e)])]
        flat = [x for part in parts for x in part]
        if flat == pieces:
            break
        pieces = flat
    assert len(pieces) // 2 == 4  # three nodes with their edges, and the edge from run:9


# ---- --rejects: never onto an input; every input's rejects kept ---------------------------------------

def test_rejects_refused_onto_any_input(tmp_path: Path) -> None:
    a = log(tmp_path / "a.jsonl", ["a1"], bad="not json")
    original = a.read_bytes()
    os.link(a, tmp_path / "hard.jsonl")
    (tmp_path / "sym.jsonl").symlink_to(a)
    mapping = tmp_path / "map.toml"
    mapping.write_text("[fields]\n")
    for args in (["a.jsonl", "--rejects", "a.jsonl"], ["a.jsonl", "--rejects", "./hard.jsonl"],
                 ["sym.jsonl", "--rejects", "a.jsonl"], ["a.jsonl", "--mapping", "map.toml", "--rejects", "map.toml"],
                 ["a.jsonl", "--rejects", str(tmp_path)]):
        result = invoke("ingest", "predictions", *[str(tmp_path / x) if x.endswith((".jsonl", ".toml")) else x
                                                   for x in args])
        assert result.exit_code == 2 and "--rejects" in result.output, args
    assert a.read_bytes() == original and mapping.read_text() == "[fields]\n"
    os.mkfifo(tmp_path / "fifo")  # opening it to write would wait for a reader forever
    assert invoke("ingest", "predictions", str(a), "--rejects", str(tmp_path / "fifo")).exit_code == 2
    folder = tmp_path / "events"
    folder.mkdir()
    result = invoke("ingest", "openlineage", str(folder), "--rejects", str(folder / "sub" / "rejects.jsonl"))
    assert result.exit_code == 2 and "inside the input folder" in result.output


def test_an_input_beside_another_inputs_rejects_file_is_refused(tmp_path: Path) -> None:
    a = log(tmp_path / "a.jsonl", ["a1"], bad="{")
    other = log(tmp_path / "a.jsonl.rejected.jsonl", ["b1"])
    before = other.read_bytes()
    result = invoke("ingest", "predictions", str(a), str(other))
    assert result.exit_code == 2 and "rejected.jsonl is one of the inputs" in result.output
    assert other.read_bytes() == before


def test_rejects_of_several_inputs_all_kept_with_their_source(graph, tmp_path: Path) -> None:
    a = log(tmp_path / "a.jsonl", ["a1"], bad="not json")
    b = log(tmp_path / "b.jsonl", ["b1", "b2"], bad="{broken")
    target = tmp_path / "out" / "rejects.jsonl"
    target.parent.mkdir()
    target.write_text("stale line from an earlier run\n")
    result = invoke("ingest", "predictions", str(a), str(b), "--rejects", str(target))
    assert result.exit_code == 1
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [(Path(r["file"]).name, r["line"], Path(r["source"]).name) for r in rows] == [
        ("a.jsonl", 2, "a.jsonl"), ("b.jsonl", 3, "b.jsonl")]
    assert [r["raw"] for r in rows] == ["not json", "{broken"]
    assert graph.read("MATCH (p:Prediction) RETURN count(p) AS c") == [{"c": 3}]  # the good lines, every file


def test_openlineage_folder_never_reads_its_rejects_back(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text('{"eventType": "START"}\n')
    (tmp_path / "events.jsonl.rejected.jsonl").write_text(json.dumps({"file": "x", "line": 1, "reason": "r"}) + "\n")
    records = list(openlineage.read(tmp_path))
    assert {r.file for r in records if isinstance(r, Reject)} == {str(tmp_path / "events.jsonl")}


# ---- sources: refused before they are touched, never written into -------------------------------------

@pytest.mark.parametrize(("uri", "package"), [("postgresql://u:secret@localhost:5432/db", None),
                                              ("mysql://u:secret@localhost/db", "mysqlclient"),
                                              ("mysql+pymysql://u@localhost/db", "PyMySQL"),
                                              ("mssql://u@localhost/db", "pyodbc")])
def test_a_database_uri_without_its_driver_names_the_package(uri: str, package: str | None) -> None:
    from sqlalchemy.engine import make_url

    module = make_url(uri).get_dialect().import_dbapi.__qualname__  # the dialect loads its driver when asked
    try:
        make_url(uri).get_dialect().import_dbapi()
        pytest.skip(f"the driver of {uri} is installed here ({module})")
    except ImportError:
        pass
    with pytest.raises(SourceError, match="pip install") as err:
        list(mlflow_adapter.read(uri))
    assert (package or "psycopg") in str(err.value) and "secret" not in str(err.value)


def test_a_folder_that_is_not_an_mlflow_store_is_refused_untouched(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    project = tmp_path / "project"
    (project / ".dvc").mkdir(parents=True)
    (project / "dvc.yaml").write_text("stages: {}\n")
    for folder, hint in ((empty, "mlruns folder"), (project, "provex ingest dvc")):
        before = tree(folder)
        with pytest.raises(SourceError, match=hint):
            list(mlflow_adapter.read(str(folder)))
        with pytest.raises(SourceError, match="not an MLflow file store"):
            list(mlflow_adapter.read(folder.as_uri()))
        assert tree(folder) == before


def test_reading_a_file_store_creates_nothing_in_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store copied out of git has no .trash/ nor models/ (empty folders are not
    committed); MLflow creates both in any store it opens. chmod cannot show it
    (tests may run as root), so the whole tree is compared before and after."""
    from mlflow.entities import RunStatus
    from mlflow.store.tracking.file_store import FileStore

    root = tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # only to build the store here
    store = FileStore(str(root))
    exp = store.create_experiment("exp")
    run = store.create_run(exp, "someone", 1_700_000_000_000, [], "r1")
    store.update_run_info(run.info.run_id, RunStatus.to_string(RunStatus.FINISHED), 1_700_000_001_000, "r1")
    for name in (".trash", "models"):
        shutil.rmtree(root / name, ignore_errors=True)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    for made in ((), (".trash", "models")):  # read through a view, then (both there) as it is
        for name in made:
            (root / name).mkdir()
        before = tree(root)
        records = list(mlflow_adapter.read(str(root)))
        assert any(isinstance(r, Node) and r.ref.uid == f"run:{run.info.run_id}" for r in records)
        assert tree(root) == before


def test_a_sqlite_store_is_read_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow writes a Default experiment into a database without one, even to
    read it (and migrates an old schema): provex opens SQLite read-only, and
    refuses such a store before MLflow sees it, leaving it byte for byte. Nor
    does reading create anything in the working folder (MLflow makes the parent
    folders of a ``sqlite:///`` path, which read a ``file:`` URI as relative)."""
    import sqlite3

    from provex.ingest.mlflow.store import check_database

    db = tmp_path / "mlflow.db"
    shutil.copy(SAMPLE_BUNDLE.parent / "mlflow" / "mlflow.db", db)
    before = db.read_bytes()
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    assert any(isinstance(r, Node) for r in mlflow_adapter.read(f"sqlite:///{db}"))
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "mlflow.db"]
    assert not any((tmp_path / "cwd").iterdir())
    assert "mode=ro" in Store(f"sqlite:///{db}").client_uri
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA foreign_keys = OFF")
        con.execute("DELETE FROM experiments WHERE experiment_id = 0")
    before = db.read_bytes()
    for check in (lambda: list(mlflow_adapter.read(f"sqlite:///{db}")), lambda: check_database(f"sqlite:///{db}")):
        with pytest.raises(SourceError, match="no Default experiment"):
            check()
    assert db.read_bytes() == before
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(SourceError, match="empty database"):  # a database server's store is checked the same way
        check_database(f"sqlite:///{empty}")


def test_a_bare_repository_is_read_like_its_clone(tmp_path: Path) -> None:
    work = clone(tmp_path / "work")
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(SAMPLE_BUNDLE), str(bare)], check=True)
    from_clone = graph_ids(dvc.read(work, profile=False))
    assert any(uid.startswith("run:") for uid in from_clone)
    assert graph_ids(dvc.read(bare, profile=False)) == from_clone
    assert graph_ids(dvc.read(work / ".git", profile=False)) == from_clone
    empty = tmp_path / "empty.git"
    subprocess.run(["git", "init", "-q", "--bare", str(empty)], check=True)
    with pytest.raises(SourceError, match="without any commit"):
        list(dvc.read(empty))
    branch = subprocess.run(["git", "-C", str(bare), "symbolic-ref", "--short", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    subprocess.run(["git", "-C", str(bare), "symbolic-ref", "HEAD", "refs/heads/never-pushed"], check=True)
    with pytest.raises(UsageError, match="--rev"):  # HEAD names a branch that is not there: say how to read another
        list(dvc.read(bare, profile=False))
    assert graph_ids(dvc.read(bare, rev=branch, profile=False)) == from_clone


# ---- helpers ------------------------------------------------------------------------------------------

def clone(path: Path) -> Path:
    """The sample DVC repository (a git bundle), cloned with its origin pointing at a bundle of that name."""
    subprocess.run(["git", "clone", "-q", str(SAMPLE_BUNDLE), str(path)], check=True)
    return path


def graph_ids(records) -> set[str]:
    out: set[str] = set()
    for rec in records:
        for r in rec.records if isinstance(rec, Entry) else (rec,):
            if isinstance(r, Node):
                out.add(r.ref.uid)
            elif isinstance(r, Edge):
                out.add(f"{r.src.uid} -{r.type}-> {r.dst.uid}")
    return out


def tree(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry under ``root``: kind, mode and content digest (a file), target (a link)."""
    out: dict[str, tuple[str, int, str]] = {}
    for path in sorted([root, *root.rglob("*")]):
        rel = str(path.relative_to(root))
        mode = path.lstat().st_mode
        if path.is_symlink():
            out[rel] = ("link", mode, os.readlink(path))
        elif path.is_dir():
            out[rel] = ("dir", mode, "")
        else:
            out[rel] = ("file", mode, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def test_helpers_see_a_change(tmp_path: Path) -> None:
    before = tree(tmp_path)
    (tmp_path / ".trash").mkdir()
    assert tree(tmp_path) != before
    assert importlib.util.find_spec("provex") is not None
