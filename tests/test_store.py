"""The prediction store on its own (no Neo4j): one commit per ingest, nothing
written twice, an interrupted append invisible, compaction that keeps every
row findable, reads by uid, key, version and window, and standard Parquet
that a second reader (pandas) reads the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from provex.ingest import predictions
from provex.store import Store, compact, dangling, query, scan
from provex.vocab.facts import Facts

TIME = "2026-04-02T{h:02d}:{m:02d}:00Z"


def record(i: int, **over: Any) -> dict[str, Any]:
    return {"prediction_id": f"p{i:05d}", "timestamp": TIME.format(h=10 + i % 3, m=i % 60), "model_name": "m",
            "model_version": str(1 + i % 2), "output": float(i), "inputs": {"a": i, "b": "x"},
            "subject_id": f"s{i % 7}", "household_id": f"h{i % 3}", **over}


def append(store: Store, tmp: Path, records: list[dict[str, Any]], name: str, commit: bool = True) -> Any:
    """The records through the adapter into one append of the store."""
    log = tmp / f"{name}.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    batch = store.append(name)
    for r in predictions.read(log):
        if isinstance(r, Facts):
            batch.add(r)
    outcome = batch.finish()
    if commit:
        batch.commit()
    return outcome


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(str(tmp_path / "store"))


def test_one_commit_per_ingest_and_nothing_written_twice(store: Store, tmp_path: Path) -> None:
    first = append(store, tmp_path, [record(i) for i in range(50)], "a")
    assert (first.added, first.repeated, first.conflict_count) == (50, 0, 0)
    again = append(store, tmp_path, [record(i) for i in range(60)], "b")
    assert (again.added, again.repeated) == (10, 50)
    assert store.manifest().rows() == 60
    assert [r["uid"] for r in query.get(store, ["prediction:p00003", "prediction:p00055", "prediction:nope"])] == [
        "prediction:p00003", "prediction:p00055"]


def test_an_interrupted_append_is_invisible_and_swept_by_the_next_commit(store: Store, tmp_path: Path) -> None:
    append(store, tmp_path, [record(i) for i in range(10)], "a")
    append(store, tmp_path, [record(i) for i in range(10, 20)], "killed", commit=False)  # files written, no commit
    on_disk = {p.relative_to(store.location.root).as_posix() for p in Path(store.location.root).rglob("*.parquet")}
    assert any("killed" in p for p in on_disk) and store.manifest().rows() == 10
    assert query.get(store, ["prediction:p00015"]) == []
    append(store, tmp_path, [record(i) for i in range(20, 25)], "c")
    left = {p.name for p in Path(store.location.root).rglob("*.parquet")}
    assert not any("killed" in name for name in left) and store.manifest().rows() == 15


def test_compaction_keeps_every_row_findable_and_pandas_reads_the_same_rows(store: Store, tmp_path: Path) -> None:
    for n in range(10):  # ten small ingests: the partition-months and the buckets pass the merge threshold
        append(store, tmp_path, [record(i) for i in range(n * 20, n * 20 + 20)], f"i{n}")
    files = store.manifest().files
    assert sum(1 for m in files.values() if m["kind"] == "data") < 10 * 6  # merged
    assert all(len(store.manifest().index_files("ids", [b])) < compact.MAX_SMALL for b in "0123456789abcdef")
    uids = [f"prediction:p{i:05d}" for i in range(200)]
    assert [r["uid"] for r in query.get(store, uids)] == uids  # every id index entry follows its row
    about = query.by_keys(store, ["s3"])
    assert {r["uid"] for r in about} == {u for i, u in enumerate(uids) if i % 7 == 3}
    assert [r["timestamp"] for r in about] == sorted(r["timestamp"] for r in about)  # oldest first
    live = [str(Path(store.location.root) / p) for p, m in store.manifest().files.items() if m["kind"] == "data"]
    theirs = pd.concat([pd.read_parquet(p) for p in live])  # a second, independent reader of the same files
    assert sorted(theirs["uid"]) == uids
    ours = {r["uid"]: r for r in query.get(store, uids)}
    assert all(json.loads(row.inputs) == ours[row.uid]["inputs"] and float(json.loads(row.output)) == ours[row.uid]["output"]
               for row in theirs.itertuples())


def test_reads_by_version_and_window(store: Store, tmp_path: Path) -> None:
    append(store, tmp_path, [record(i) for i in range(30)], "a")
    rows = scan.scan(store, ["model:m@2"], "2026-04-02T11:00:00+00:00", "2026-04-02T12:00:00+00:00")
    want = sorted((r for r in (record(i) for i in range(30)) if r["model_version"] == "2" and "T11:" in r["timestamp"]),
                  key=lambda r: (r["timestamp"], r["prediction_id"]))
    assert [r["prediction_id"] for r in rows] == [r["prediction_id"] for r in want]
    assert scan.count(store, ["model:m@2"]) == 15 and scan.count(store, ["model:m@9"]) == 0
    assert query.uid_prefix(store, "prediction:p0001", 5) == [f"prediction:p{i:05d}" for i in range(10, 15)]


def test_a_conflict_keeps_both_values_and_the_first_stands(store: Store, tmp_path: Path) -> None:
    append(store, tmp_path, [record(1)], "a")
    outcome = append(store, tmp_path, [record(1, output=99.0), record(2)], "b")
    assert (outcome.added, outcome.conflict_count) == (1, 1)
    [conflict] = outcome.conflicts
    assert (conflict.kept["output"], conflict.later["output"]) == ("1.0", "99.0")
    assert query.get(store, ["prediction:p00001"])[0]["output"] == 1.0


def test_credentials_in_a_logged_uri_are_not_stored(store: Store, tmp_path: Path) -> None:
    append(store, tmp_path, [record(1, model_uri="http://alice:s3cret@host/m?token=abc")], "a")
    text = b"".join(p.read_bytes() for p in Path(store.location.root).rglob("*.parquet"))
    assert b"s3cret" not in text and b"abc" not in text.replace(b"abcdef", b"")


def test_every_row_lands_in_its_own_partition_and_month(store: Store, tmp_path: Path) -> None:
    """Many versions and months in one chunk: each data file holds only its partition's rows."""
    records = [record(i, model_version=str(i % 5), timestamp=f"2026-{1 + i % 4:02d}-0{1 + i % 7}T10:00:00Z")
               for i in range(400)]
    append(store, tmp_path, records, "a")
    for path, meta in store.manifest().files.items():
        if meta["kind"] == "data":
            rows = pd.read_parquet(Path(store.location.root) / path)
            assert set(rows["model_version_uid"]) == {meta["partition"]}, path
            assert {t[:7] for t in rows["timestamp"]} == {meta["month"]}, path


def upstreams(store: Store, found: str | None) -> list[str]:
    return [r[0] for r in store.duck().execute(f"SELECT upstream FROM ({found}) ORDER BY 1").fetchall()] if found else []


def dangling_now(store: Store) -> list[str]:
    """The kept set, checked against the anti-join of every link and uid."""
    kept = upstreams(store, dangling.query(store))
    assert kept == upstreams(store, dangling.full(store, store.manifest()))
    return kept


def test_the_dangling_set_is_kept_by_each_ingest_as_the_full_computation_finds_it(store: Store, tmp_path: Path) -> None:
    """Upstream predictions used but never logged: each ingest updates one live
    set (the one before retired), equal to the anti-join of every link and uid."""
    append(store, tmp_path, [record(i) for i in range(5)], "plain")
    assert dangling.query(store) is None  # no link anywhere
    append(store, tmp_path, [record(10, upstream=["u1", "u2", "p00011"]), record(11)], "chained")
    assert dangling_now(store) == ["prediction:u1", "prediction:u2"]
    append(store, tmp_path, [record(0, prediction_id="u1")], "late")  # u1 logged at last; no link of its own
    assert dangling_now(store) == ["prediction:u2"]
    append(store, tmp_path, [record(12, upstream=["p00001", "u3"])], "more")  # p00001 is held: not dangling
    assert dangling_now(store) == ["prediction:u2", "prediction:u3"]
    append(store, tmp_path, [record(12, upstream=["p00001", "u3"]), record(13)], "again")  # a repeat, one new row
    assert dangling_now(store) == ["prediction:u2", "prediction:u3"]
    live = [p for p, m in store.manifest().files.items() if m["kind"] == "dangling"]
    assert live == ["dangling/more.parquet"] and "dangling/late.parquet" in store.manifest().retired  # unchanged: not rewritten


def test_a_point_read_finds_each_row_in_its_row_group(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Data files of many small row groups: every uid read by itself, and all at
    once, gives the row pandas reads at that place."""
    monkeypatch.setattr("provex.store.files.ROW_GROUP", 7)
    append(store, tmp_path, [record(i) for i in range(100)], "groups")
    uids = [f"prediction:p{i:05d}" for i in range(100)]
    files = [p for p, m in store.manifest().files.items() if m["kind"] == "data"]
    theirs = pd.concat([pd.read_parquet(Path(store.location.root) / p) for p in files]).set_index("uid")
    assert any(query._footer(store.location, p)[0].num_row_groups > 2 for p in files)
    together = query.get(store, uids)
    assert [r["uid"] for r in together] == uids
    for row in together:
        assert query.get(store, [row["uid"]]) == [row]
        assert row["output"] == json.loads(theirs.loc[row["uid"], "output"]) and row["line"] == theirs.loc[row["uid"], "line"]
