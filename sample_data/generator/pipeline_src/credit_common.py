"""Helpers shared by the training and evaluation stages."""
import hashlib
import os
import tempfile
import warnings
from importlib.metadata import version

import numpy as np
import pandas as pd

ID_COLUMNS = ["customer_id", "household_id"]
FEATURES_PATH = "data/features/purchase_features.csv"
PIP_REQUIREMENTS = [f"scikit-learn=={version('scikit-learn')}", f"pandas=={version('pandas')}",
                    f"cloudpickle=={version('cloudpickle')}"]
warnings.filterwarnings("ignore")


def feature_columns(features: pd.DataFrame) -> list:
    return [c for c in features.columns if c not in ID_COLUMNS]


def is_holdout(customer_ids: pd.Series, fraction: float) -> pd.Series:
    """Stable holdout split by customer id (same customers in every commit)."""
    h = customer_ids.map(lambda c: int(hashlib.sha256(c.encode()).hexdigest()[:8], 16) / 2**32)
    return h < fraction


def risk_band(scores, cost_risk: pd.DataFrame) -> pd.DataFrame:
    """The Cost and Risk Function: score -> band, expected loss rate, cost of funds."""
    bands = cost_risk.sort_values("min_score")
    idx = np.searchsorted(bands["min_score"].to_numpy(), np.asarray(scores), side="right") - 1
    return bands.iloc[np.clip(idx, 0, len(bands) - 1)].reset_index(drop=True)


def limit_frame(features: pd.DataFrame, scores, cost_risk: pd.DataFrame,
                base_rates) -> pd.DataFrame:
    """Inputs of the credit-limit model: purchase features + score + cost/risk + market."""
    bands = risk_band(scores, cost_risk)
    x = features[feature_columns(features)].reset_index(drop=True).copy()
    x["score"] = np.round(np.asarray(scores, dtype=float), 4)
    x["expected_loss_rate"] = bands["expected_loss_rate"].astype(float)
    x["cost_of_funds"] = bands["cost_of_funds"].astype(float)
    x["base_rate"] = np.asarray(base_rates, dtype=float)
    return x


def log_sklearn_model(mlflow, model, registered_name: str, example: pd.DataFrame,
                      predict_fn: str = "predict"):
    """Log + register the model; mirror its small env files into the run's artifacts."""
    info = mlflow.sklearn.log_model(
        model, name="model", registered_model_name=registered_name,
        serialization_format="cloudpickle", pip_requirements=PIP_REQUIREMENTS,
        pyfunc_predict_fn=predict_fn, input_example=example)
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(info.model_uri, dst_path=tmp)
        for name in ("MLmodel", "requirements.txt", "python_env.yaml", "conda.yaml"):
            mlflow.log_artifact(os.path.join(local, name), artifact_path="model")
    return info
