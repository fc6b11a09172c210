"""Why a rebuilt model's bytes differ (app/reproduce/artifacts.py): both
models loaded (joblib/pickle, MLflow pyfunc), parameters and predictions
compared; the verdict drives `reproduce --verify`'s outcome. Small sklearn
models fitted here; the sample's real rebuild is in tests/test_reproduce.py."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from provex.app.reproduce import artifacts
from provex.app.reproduce.verify import outcome_of

ROWS = 60


def training(tree: Path) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"income": rng.normal(40_000, 8_000, ROWS), "debt": rng.normal(9_000, 2_000, ROWS),
                          "id": [f"c-{i}" for i in range(ROWS)]})
    frame["limit"] = 0.1 * frame["income"] - 0.2 * frame["debt"] + rng.normal(0, 50, ROWS)
    (tree / "data").mkdir(parents=True, exist_ok=True)
    frame.to_csv(tree / "data" / "train.csv", index=False)
    return frame


def fit(frame: pd.DataFrame, alpha: float = 1.0) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=alpha))]).fit(frame[["income", "debt"]],
                                                                                    frame["limit"])


def test_the_same_model_in_other_bytes(tmp_path: Path) -> None:
    frame = training(tmp_path)
    model = fit(frame)
    joblib.dump(model, tmp_path / "locked.pkl")
    (tmp_path / "rebuilt.pkl").write_bytes(pickle.dumps(model, protocol=2))  # other bytes, same object
    assert (tmp_path / "locked.pkl").read_bytes() != (tmp_path / "rebuilt.pkl").read_bytes()
    got = artifacts.compare(tmp_path / "locked.pkl", tmp_path / "rebuilt.pkl", tmp_path, ["data/train.csv"])
    assert got["verdict"] == artifacts.SAME and got["parameters"]["status"] == "identical"
    assert got["sample"] == f"the training input data/train.csv ({ROWS} rows)"
    assert got["predictions"]["status"] == "identical" and "the serialization differs" in got["detail"]


def test_a_refit_that_moves_the_last_digits_is_the_same_model(tmp_path: Path) -> None:
    frame = training(tmp_path)
    locked, rebuilt = fit(frame), fit(frame)
    rebuilt.named_steps["ridge"].coef_ = rebuilt.named_steps["ridge"].coef_ * (1 + 3e-15)
    for name, model in (("locked.pkl", locked), ("rebuilt.pkl", rebuilt)):
        joblib.dump(model, tmp_path / name)
    got = artifacts.compare(tmp_path / "locked.pkl", tmp_path / "rebuilt.pkl", tmp_path, ["data/train.csv"])
    assert got["verdict"] == artifacts.SAME, got["detail"]
    assert "differ only in the last digits" in got["detail"] and "model.steps[ridge].coef_" in got["detail"]
    stamped = artifacts.parameters({"coef_": np.ones(2), "_sklearn_version": "1.5.0"},
                                   {"coef_": np.ones(2), "_sklearn_version": "1.5.1"})
    assert stamped["status"] == "identical" and stamped["version_stamps"] == ["model._sklearn_version: version stamp 1.5.0 vs 1.5.1"]
    verdict, detail = artifacts.verdict(stamped, None, None)
    assert verdict == artifacts.SAME and "written by other library versions" in detail


def test_another_model_differs_and_says_how(tmp_path: Path) -> None:
    frame = training(tmp_path)
    joblib.dump(fit(frame, alpha=1.0), tmp_path / "locked.pkl")
    joblib.dump(fit(frame, alpha=30.0), tmp_path / "rebuilt.pkl")
    got = artifacts.compare(tmp_path / "locked.pkl", tmp_path / "rebuilt.pkl", tmp_path, ["data/train.csv"])
    assert got["verdict"] == artifacts.DIFFERENT
    assert got["detail"].startswith("parameters: model.steps[ridge].alpha differs by up to 29")
    assert "predictions on the training input data/train.csv" in got["detail"]
    assert got["predictions"]["status"] == "different" and got["predictions"]["max_abs"] > 1


def test_without_training_inputs_a_stated_sample_and_class_probabilities(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(80, 3)), rng.integers(0, 2, 80)
    joblib.dump(LogisticRegression().fit(x, y), tmp_path / "locked.joblib")
    joblib.dump(LogisticRegression(C=0.01).fit(x, y), tmp_path / "rebuilt.joblib")
    got = artifacts.compare(tmp_path / "locked.joblib", tmp_path / "rebuilt.joblib", tmp_path, [])
    assert got["verdict"] == artifacts.DIFFERENT and got["sample"].startswith("a synthetic sample (200 rows, seed 0")
    (tmp_path / "broken.pkl").write_bytes(b"not a pickle")
    broken = artifacts.compare(tmp_path / "locked.joblib", tmp_path / "broken.pkl", tmp_path, [])
    assert broken["verdict"] == artifacts.UNKNOWN and broken["detail"].startswith("could not load broken.pkl")


def test_mlflow_model_folders_are_compared_through_pyfunc(tmp_path: Path) -> None:
    import mlflow

    frame = training(tmp_path)
    mlflow.sklearn.save_model(fit(frame), str(tmp_path / "locked"))
    shutil.copytree(tmp_path / "locked", tmp_path / "rebuilt")  # one save: loading both is what is tested
    assert artifacts.is_model(tmp_path / "locked")
    got = artifacts.compare(tmp_path / "locked", tmp_path / "rebuilt", tmp_path, ["data/train.csv"])
    assert got["verdict"] == artifacts.SAME and got["parameters"]["status"] == "identical"
    assert got["predictions"]["rows"] == ROWS


def test_the_outputs_of_a_verification_are_judged_from_the_dvc_cache(tmp_path: Path) -> None:
    frame = training(tmp_path / "tree")
    model = fit(frame)
    locked_md5 = "ab" + "0" * 30
    cache = tmp_path / "cache"
    (cache / "files" / "md5" / "ab").mkdir(parents=True)
    joblib.dump(model, cache / "files" / "md5" / "ab" / locked_md5[2:])
    (tmp_path / "tree" / "models").mkdir()
    (tmp_path / "tree" / "models" / "m.pkl").write_bytes(pickle.dumps(model, protocol=2))
    outputs = [{"stage": "train", "kind": "output", "path": "models/m.pkl", "expected": locked_md5, "got": "cd" * 16,
                "same": False},
               {"stage": "train", "kind": "input", "path": "data/train.csv", "expected": "x", "got": "x", "same": True}]
    lock = {"stages": {"train": {"deps": [{"path": "data/train.csv", "md5": "x"}]}}}
    [judged] = artifacts.explain_outputs(outputs, lock, tmp_path / "tree", cache, tmp_path / "scratch")
    assert (judged["path"], judged["verdict"]) == ("models/m.pkl", artifacts.SAME)
    assert judged["sample"].startswith("the training input data/train.csv")
    outcome, reason = outcome_of(outputs, [], [judged])
    assert outcome == "reproduced-within-tolerance" and reason.startswith("models/m.pkl: same model, different bytes (")
    other = {**judged, "verdict": artifacts.DIFFERENT, "detail": "parameters: model.steps[ridge].alpha differs by up to 29"}
    assert outcome_of(outputs, [], [other]) == ("differs", f"models/m.pkl: the model differs: {other['detail']}")
    gone = artifacts.explain_outputs([{**outputs[0], "expected": "ef" * 16}], lock, tmp_path / "tree", cache,
                                     tmp_path / "scratch")
    assert gone[0]["verdict"] == artifacts.UNKNOWN and "not in the DVC cache" in gone[0]["detail"]
    metrics = [{"metric": "mae", "expected": 1.0, "got": 1.0, "same": True}]
    assert outcome_of(outputs, metrics, gone)[0] == "reproduced-within-tolerance"  # unjudged: the metrics decide


@pytest.mark.parametrize(("a", "b", "status"), [
    (np.array([1.0, 2.0]), np.array([1.0, 2.0]), "identical"),
    (np.array([1.0, np.nan]), np.array([1.0, np.nan]), "identical"),
    (np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-14]), "close"),
    (np.array([1.0, 2.0]), np.array([1.0, 2.1]), "different"),
    ({"a": [1, "x"]}, {"a": [1, "y"]}, "different"),
    ({"a": 1}, {"b": 1}, "different"),
    (np.log, np.log, "identical"),
    (np.log, np.exp, "different"),
])
def test_parameters_compare_numbers_within_a_tolerance_and_the_rest_exactly(a, b, status) -> None:
    assert artifacts.parameters(a, b)["status"] == status
