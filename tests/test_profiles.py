"""Data content profiles: the profiler on files built here (CSV, TSV, JSON
lines, Parquet, a big file sampled, bad files), a real DVC project whose
versions change units, drop a column and fill with nulls (profiles at ingest,
unprofilable inputs flagged), and the data questions on it and on the sample."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from apppage import frame_with, open_page, texts
from sample import expected

from provex.app import profile_view
from provex.graph import flags, pipeline
from provex.graph.questions import ask
from provex.graph.questions import data as dq
from provex.ingest import dvc
from provex.ingest import profile as p
from provex.vocab.records import Flag

DVC = shutil.which("dvc") or str(Path(sys.executable).with_name("dvc"))


def table(n: int = 40, scale: float = 1.0, drop: str | None = None, null_rate: float = 0.0) -> pd.DataFrame:
    """A small transactions table: ``scale`` multiplies ``amount`` (a unit change)."""
    frame = pd.DataFrame({"id": [f"t-{i:04d}" for i in range(n)],
                          "amount": [round((10 + (i * 37) % 90) * scale, 2) for i in range(n)],
                          "category": [("food", "fuel", "rent")[i % 3] for i in range(n)],
                          "items": [1 + i % 4 for i in range(n)]})
    if null_rate:
        frame.loc[: int(n * null_rate) - 1, "items"] = None
    return frame.drop(columns=[drop]) if drop else frame


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def column(prof: p.Profile, name: str) -> dict:
    return next(c for c in prof.doc["columns"] if c["name"] == name)


# ---- the profiler ----------------------------------------------------------------------------------


def test_csv_profile_has_rows_types_and_statistics() -> None:
    frame = table()
    prof = p.profile_bytes("data/tx.csv", csv_bytes(frame))
    assert prof.status == "profiled" and prof.doc["rows"] == len(frame) and not prof.doc["sampled"]
    amount = column(prof, "amount")
    assert amount["type"] == "float" and amount["nulls"] == 0
    assert math.isclose(amount["mean"], frame["amount"].mean(), rel_tol=1e-5)
    assert amount["min"] == frame["amount"].min() and amount["max"] == frame["amount"].max()
    assert math.isclose(amount["quantiles"]["p50"], frame["amount"].median(), rel_tol=1e-5)
    assert sum(amount["hist"]) == len(frame)
    cat = column(prof, "category")
    assert cat["type"] == "text" and cat["distinct"] == 3
    assert {v for v, _ in cat["top"]} == {"food", "fuel", "rent"}
    props = prof.props()
    assert props["profile_columns"] == list(frame.columns)
    assert all(len(props[v]) == len(frame.columns) for v in p.VECTORS)
    assert math.isnan(props["profile_mean"][0]) and json.loads(props["profile"])["rows"] == len(frame)


def test_other_formats_and_a_sampled_big_file(tmp_path: Path) -> None:
    frame = table(n=200)
    (tmp_path / "t.parquet").write_bytes(frame.to_parquet(index=False))
    (tmp_path / "t.jsonl").write_text(frame.to_json(orient="records", lines=True))
    (tmp_path / "t.tsv").write_text(frame.to_csv(index=False, sep="\t"))
    for name in ("t.parquet", "t.jsonl", "t.tsv"):
        prof = p.profile_file(name, tmp_path / name, sample_rows=50)
        assert prof.doc["rows"] == 200 and prof.doc["sampled"] and prof.doc["sample_rows"] == 50, name
        assert column(prof, "items")["type"] == "int" and column(prof, "items")["distinct_approx"]
    gz = p.profile_bytes("t.csv.gz", gzip.compress(csv_bytes(frame)))
    assert gz.doc["rows"] == 200 and column(gz, "amount")["type"] == "float"
    nested = p.profile_bytes("n.jsonl", b'{"a": {"x": 1}, "b": [1, 2]}\n{"a": {"x": 1}, "b": null}\n')
    assert column(nested, "a")["top"] == [['{"x": 1}', 2]] and column(nested, "b")["nulls"] == 1
    model = tmp_path / "model.pkl"
    model.write_bytes(b"\x80\x04binary")
    assert p.profile_file("model.pkl", model).status == "size-only"


def test_bad_tables_are_unprofilable_with_the_reason() -> None:
    with pytest.raises(p.Unprofilable, match="line 3"):
        p.profile_bytes("bad.csv", b"a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(p.Unprofilable, match="binary"):
        p.profile_bytes("blob.csv", b"PK\x03\x04\x00\x00binary")
    assert p.profile_bytes("big.csv", csv_bytes(table()), max_bytes=100).status == "skipped"
    with pytest.raises(p.Unprofilable, match="gzip"):
        p.profile_bytes("plain.csv.gz", b"a,b\n1,2\n")


def test_mlflow_profile_and_schema_in_the_same_shape() -> None:
    prof = p.from_mlflow('{"num_rows": 241, "num_elements": 482}',
                         '{"mlflow_colspec": [{"type": "double", "name": "income", "required": true},'
                         ' {"type": "string", "name": "region", "required": false}]}')
    props = prof.props()
    assert (props["profile_status"], props["profile_rows"]) == ("mlflow", 241)
    assert props["profile_columns"] == ["income", "region"] and props["profile_types"] == ["float", "text"]
    assert json.loads(props["profile"])["mlflow_profile"] == {"num_rows": 241, "num_elements": 482}
    assert p.from_mlflow(None, "not json") is None


def test_source_options_turn_profiles_off_or_cap_them(tmp_path: Path) -> None:
    (source,) = dvc.DvcSource.from_config({"path": ".", "profile": False}, tmp_path)
    assert source.profile is False
    (source,) = dvc.DvcSource.from_config({"path": ".", "profile_max_bytes": 1000}, tmp_path)
    assert source.profile == {"max_bytes": 1000}
    with pytest.raises(ValueError, match="profile_max_bytes"):
        dvc.DvcSource.from_config({"path": ".", "profile_max_bytes": "1MB"}, tmp_path)


# ---- a DVC project built here ----------------------------------------------------------------------


def sh(root: Path, *args: str) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "ann", "GIT_AUTHOR_EMAIL": "ann@example.org",
           "GIT_COMMITTER_NAME": "ann", "GIT_COMMITTER_EMAIL": "ann@example.org",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(list(args), cwd=root, check=True, capture_output=True, text=True, env=env).stdout


def add_and_commit(root: Path, files: dict[str, bytes], message: str) -> None:
    for name, raw in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(raw)
    sh(root, DVC, "add", "-q", *files)
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", message)


def md5_of(root: Path, name: str) -> str:
    import yaml

    return yaml.safe_load((root / f"{name}.dvc").read_text())["outs"][0]["md5"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Commit 1: three months of transactions, customers, features, and four
    unprofilable files; commit 2: a month in cents (unit change), features
    without ``category`` (dropped column), customers with 70% null ``items``."""
    root = tmp_path_factory.mktemp("profiled")
    sh(root, "git", "init", "-q")
    sh(root, DVC, "init", "-q")
    months = {f"data/tx/2026-0{m}.csv": csv_bytes(table(n=40 + m)) for m in (1, 2, 3)}
    add_and_commit(root, {**months, "data/customers.csv": csv_bytes(table(60)),
                          "data/features.csv": csv_bytes(table(50)),
                          "data/bad.csv": b"a,b\n1,2\n3,4,5,6\n", "data/blob.csv": b"PK\x03\x04\x00\x00\x01binary",
                          "data/big.csv": csv_bytes(table(2000)), "data/gone.csv": csv_bytes(table(7))}, "first")
    hashes = {"v1": {n: md5_of(root, n) for n in ("data/customers.csv", "data/features.csv", "data/tx/2026-03.csv")}}
    gone = md5_of(root, "data/gone.csv")
    (root / ".dvc/cache/files/md5" / gone[:2] / gone[2:]).unlink()
    (root / "data/gone.csv").write_text("changed in the work tree\n")
    add_and_commit(root, {"data/tx/2026-04.csv": csv_bytes(table(n=44, scale=100)),
                          "data/features.csv": csv_bytes(table(50, drop="category")),
                          "data/customers.csv": csv_bytes(table(60, null_rate=0.7))}, "second")
    hashes["v2"] = {n: md5_of(root, n) for n in ("data/customers.csv", "data/features.csv", "data/tx/2026-04.csv")}
    return {"root": root, "hashes": hashes, "gone": gone}


def ingest(graph, root: Path, profile: dict | bool) -> pipeline.Summary:
    return pipeline.ingest(graph, kind="dvc", uri=str(root),
                           read=lambda state: dvc.read(root, state=state, profile=profile))


def uid(path: str, md5: str) -> str:
    return f"data:{path}@{md5}"


def test_dvc_versions_get_profiles_and_unprofilable_ones_flags(graph, project: dict) -> None:
    summary = ingest(graph, project["root"], {"max_bytes": 20_000})
    found = {r["path"]: r for r in graph.read(
        "MATCH (d:DataVersion) RETURN d.path AS path, d.profile_status AS status, d.profile_rows AS rows, "
        "d.profile_reason AS reason, d.profile_columns AS columns")}
    assert found["data/tx/2026-04.csv"] == {**found["data/tx/2026-04.csv"], "status": "profiled", "rows": 44,
                                            "columns": ["id", "amount", "category", "items"]}
    assert {p: found[p]["status"] for p in ("data/bad.csv", "data/blob.csv", "data/big.csv", "data/gone.csv")} == \
        dict.fromkeys(("data/bad.csv", "data/blob.csv", "data/big.csv", "data/gone.csv"), "skipped")
    assert "line 3" in found["data/bad.csv"]["reason"] and "binary" in found["data/blob.csv"]["reason"]
    assert "size cap" in found["data/big.csv"]["reason"]
    assert summary.flag_counts["profile-skipped"] == 3 and summary.flag_counts["profile-no-bytes"] == 1
    assert any(project["gone"][:8] in f.message for f in summary.flags if f.kind == "profile-no-bytes")


def test_data_questions_on_a_unit_change_a_dropped_column_and_nulls(graph, project: dict) -> None:
    ingest(graph, project["root"], True)
    v1, v2 = project["hashes"]["v1"], project["hashes"]["v2"]
    anomalies = ask(graph, "data-anomalies", {}).to_dict("records")
    first = anomalies[0]
    assert (first["path"], first["column"], first["kind"]) == ("data/tx/2026-04.csv", "amount", "scale")
    assert 80 <= first["factor"] <= 120
    kinds = {(a["path"], a["column"], a["kind"]) for a in anomalies}
    assert ("data/features.csv", "category", "column vanished") in kinds
    assert ("data/customers.csv", "items", "null rate") in kinds
    assert not {a["path"] for a in anomalies} & {"data/tx/2026-01.csv", "data/tx/2026-02.csv"}
    assert ask(graph, "data-anomalies", {"path": "data/tx/"})["path"].eq("data/tx/2026-04.csv").all()

    diff = ask(graph, "diff-data-versions", {"a": uid("data/features.csv", v1["data/features.csv"]),
                                             "b": uid("data/features.csv", v2["data/features.csv"])})
    assert set(diff.loc[diff["change"] == "removed", "column"]) == {"category"}
    assert "removed category" in dq.diff_data_versions_headline(diff.to_dict("records"), {}).lower()
    tx = ask(graph, "diff-data-versions", {"a": uid("data/tx/2026-03.csv", v1["data/tx/2026-03.csv"]),
                                           "b": uid("data/tx/2026-04.csv", v2["data/tx/2026-04.csv"])})
    mean = tx[(tx["column"] == "amount") & (tx["stat"] == "mean")].iloc[0]
    # cents are whole numbers: the unit change also turns the column from float to int
    assert mean["shifted"] and mean["change"] == "type changed" and 80 <= mean["ratio"] <= 120
    assert not tx[tx["column"] == "category"]["shifted"].any()
    nulls = ask(graph, "diff-data-versions", {"a": uid("data/customers.csv", v1["data/customers.csv"]),
                                              "b": uid("data/customers.csv", v2["data/customers.csv"])})
    rate = nulls[(nulls["column"] == "items") & (nulls["stat"] == "null_rate")].iloc[0]
    assert (rate["a"], rate["b"], rate["shifted"]) == (0.0, 0.7, True)

    prof = ask(graph, "data-profile", {"data_version": uid("data/customers.csv", v2["data/customers.csv"])})
    items = prof[prof["column"] == "items"].iloc[0]
    assert (items["nulls"], items["rows"]) == (42, 60)
    assert "60 rows, 4 columns" in dq.data_profile_headline(prof.to_dict("records"), {"data_version": "c"})
    bad_uid = uid("data/bad.csv", md5_of(project["root"], "data/bad.csv"))
    bad = ask(graph, "data-profile", {"data_version": bad_uid}).to_dict("records")
    assert bad[0]["type"] == "skipped" and "line 3" in bad[0]["note"]


def test_profiles_off_and_each_hash_profiled_once(graph, project: dict) -> None:
    ingest(graph, project["root"], False)
    assert graph.read("MATCH (d:DataVersion) WHERE d.profile_status IS NOT NULL RETURN count(d) AS n")[0]["n"] == 0
    records = list(dvc.read(project["root"]))
    done = next(r.value for r in records if getattr(r, "name", None) == dvc.PROFILED)
    assert project["hashes"]["v2"]["data/customers.csv"] in done and project["gone"] not in done
    again = [r for r in dvc.read(project["root"], state={dvc.PROFILED: done})
             if getattr(r, "props", {}).get("profile_status") == "profiled"]
    assert again == []


# ---- the sample ------------------------------------------------------------------------------------


def test_sample_anomalies_rank_the_cents_file_first(g) -> None:
    bad, fixed = expected()["bad_data_version"], expected()["fixed_data_version"]
    rows = ask(g, "data-anomalies", {}).to_dict("records")
    first = rows[0]
    assert first["data_version"] == uid(bad["raw"]["path"], bad["raw"]["md5"])
    assert first["column"] == "amount" and 50 <= first["factor"] <= 200 and pd.isna(first["downstream_of"])
    assert uid(fixed["raw"]["path"], fixed["raw"]["md5"]) not in {r["data_version"] for r in rows}
    features = [r for r in rows if r["data_version"] == uid(bad["features"]["path"], bad["features"]["md5"])]
    assert features and all(r["downstream_of"] for r in features) and features[0]["factor"] >= 10
    assert dq.data_anomalies_headline(rows, {}).startswith("data/raw/transactions/2026-02.csv@04fc6d27 first")


def test_sample_pictures_flag_the_anomalous_versions_and_why(g) -> None:
    x = expected()
    bad, fixed = (uid(v["raw"]["path"], v["raw"]["md5"]) for v in (x["bad_data_version"], x["fixed_data_version"]))
    prepared = uid(x["bad_data_version"]["prepared"]["path"], x["bad_data_version"]["prepared"]["md5"])
    found = flags.flags(g, [bad, fixed, prepared])
    assert set(found) == {bad, prepared}
    [why] = found[bad]
    assert why.startswith("data anomaly: amount is 100x its siblings' median (7,124 vs ")  # cents: x100
    assert found[prepared][0].endswith("downstream of data/raw/transactions/2026-02.csv@04fc6d27")


def test_sample_mlflow_datasets_carry_their_profile(g) -> None:
    found = g.read("MATCH (d:DataVersion {hash_kind: 'mlflow-digest', path: 'data/features/purchase_features.csv'}) "
                   "RETURN d.uid AS uid, d.profile_rows AS rows, d.profile_columns AS cols, d.profile_status AS st")
    assert found and all(r["st"] == "mlflow" and r["rows"] > 0 and "income" in r["cols"] for r in found)
    prof = ask(g, "data-profile", {"data_version": found[0]["uid"]})
    assert set(prof["column"]) == set(found[0]["cols"]) and prof["mean"].isna().all()


def test_sample_model_diff_shows_the_profile_shift(g) -> None:
    diff = ask(g, "diff-model-versions", {"a": "model:credit-limit@4", "b": "model:credit-limit@5"})
    shifted = diff[(diff["aspect"] == "data profile") & diff["differs"]]
    amount = shifted[shifted["key"] == "data/raw/transactions/2026-02.csv amount mean"]
    assert len(amount) == 1 and pd.isna(amount.iloc[0]["a"]) and float(amount.iloc[0]["b"]) > 1000
    assert not diff[(diff["aspect"] == "data profile") & ~diff["differs"]].size


def test_app_profile_tables_are_built_from_the_stored_profile() -> None:
    doc = json.loads(p.profile_bytes("t.csv", csv_bytes(table())).props()["profile"])
    frame = profile_view.column_table(doc, {"amount"})
    amount = frame[frame["column"] == "amount"].iloc[0]
    assert amount["shifted"] and sum(amount["histogram"]) == 40 and len(amount["shape"]) == p.HIST_BINS
    assert not frame[frame["column"] == "category"].iloc[0]["shifted"]
    assert profile_view.sparkline([0, 5, 10]) == "▁▅█"
    assert "40 rows" in profile_view.summary(doc, "profiled")
    rows = [{"column": "amount", "change": "shifted"}, {"column": "id", "change": "same"},
            {"column": "(table)", "change": "shifted"}]
    assert profile_view.shifts(rows) == {"amount"}


def test_sample_node_page_shows_the_profile_and_the_shift(g) -> None:
    bad = expected()["bad_data_version"]["raw"]
    at = open_page("node", ref=uid(bad["path"], bad["md5"]), dir="up", depth="1")
    assert "Content profile" in texts(at)
    columns = frame_with(at, "histogram")
    amount = columns[columns["column"] == "amount"].iloc[0]
    assert amount["shifted"] and len(amount["histogram"]) == p.HIST_BINS
    assert not columns[columns["column"] == "merchant_category"].iloc[0]["shifted"]


def test_plain_folder_versions_are_profiled_from_the_files_on_disk(tmp_path: Path) -> None:
    raw = csv_bytes(table(12))
    (tmp_path / "tx.csv").write_bytes(raw)
    (tmp_path / "tx.csv.dvc").write_text(f"outs:\n- md5: {hashlib.md5(raw).hexdigest()}\n  size: {len(raw)}\n"
                                         "  hash: md5\n  path: tx.csv\n")
    (tmp_path / "old.csv.dvc").write_text("outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 9\n  path: old.csv\n")
    records = list(dvc.read(tmp_path))
    props = {r.props["path"]: r.props for r in records if getattr(r, "ref", None) and r.ref.label == "DataVersion"}
    assert (props["tx.csv"]["profile_status"], props["tx.csv"]["profile_rows"]) == ("profiled", 12)
    assert props["old.csv"]["profile_status"] == "skipped"
    assert [r.kind for r in records if isinstance(r, Flag)] == ["profile-no-bytes"]
