"""train_scoring: the Scoring Model (probability that a customer repays)."""
from pathlib import Path

import joblib
import mlflow
import numpy as np
import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from credit_common import FEATURES_PATH, feature_columns, is_holdout, log_sklearn_model


def main() -> None:
    params = yaml.safe_load(open("params.yaml"))
    p = params["train_scoring"]
    features = pd.read_csv(FEATURES_PATH)
    historic = pd.read_csv("data/raw/historic_outcomes.csv")
    df = features.merge(historic[["customer_id", "defaulted"]], on="customer_id")
    train = df[~is_holdout(df["customer_id"], params["evaluate"]["holdout_fraction"])]
    cols = feature_columns(features)
    x, y = train[cols], 1 - train["defaulted"]
    model = Pipeline([
        ("log", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
        ("scale", StandardScaler()),
        ("clf", LogisticRegression(C=p["C"], max_iter=1000, random_state=p["seed"])),
    ]).fit(x, y)
    Path("models").mkdir(exist_ok=True)
    joblib.dump(model, "models/scoring.pkl")

    mlflow.set_experiment("credit-scoring")
    with mlflow.start_run(run_name="train_scoring"):
        mlflow.set_tag("dvc.stage", "train_scoring")
        mlflow.log_params({"C": p["C"], "seed": p["seed"], "model": "LogisticRegression",
                           "features": ",".join(cols), "n_train": len(train)})
        mlflow.log_metric("train_auc", roc_auc_score(y, model.predict_proba(x)[:, 1]))
        mlflow.log_input(mlflow.data.from_pandas(
            train[["customer_id"] + cols], source=FEATURES_PATH, name="purchase_features"),
            context="training")
        mlflow.log_input(mlflow.data.from_pandas(
            historic, source="data/raw/historic_outcomes.csv", name="historic_outcomes"),
            context="training")
        log_sklearn_model(mlflow, model, "credit-scoring", x.head(3), "predict_proba")


if __name__ == "__main__":
    main()
