"""train_credit_limit: the Credit Limit Model (score + cost/risk + market -> limit).

Since 2026-04: the historic limits it learns from are winsorized with creditkit
(outliers from one-off manual approvals pulled in); creditkit is pinned in requirements.txt.
"""
from importlib.metadata import version

import creditkit
import joblib
import mlflow
import numpy as np
import pandas as pd
import yaml
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from credit_common import FEATURES_PATH, PIP_REQUIREMENTS, is_holdout, limit_frame, log_sklearn_model


def main() -> None:
    params = yaml.safe_load(open("params.yaml"))
    p = params["credit_limit"]
    features = pd.read_csv(FEATURES_PATH)
    historic = pd.read_csv("data/raw/historic_outcomes.csv")
    market = pd.read_csv("data/raw/market_conditions.csv")
    cost_risk = pd.read_csv("data/raw/cost_risk.csv")
    scoring = joblib.load("models/scoring.pkl")

    df = features.merge(historic, on="customer_id")
    df = df.merge(market.rename(columns={"month": "granted_month"}), on="granted_month")
    df = df[~is_holdout(df["customer_id"], params["evaluate"]["holdout_fraction"])]
    df = df.reset_index(drop=True)
    feats = df[features.columns]
    scores = scoring.predict_proba(feats.drop(columns=["customer_id", "household_id"]))[:, 1]
    x = limit_frame(feats, scores, cost_risk, df["base_rate"])
    target = creditkit.winsorize(df["credit_limit"].to_numpy())
    model = TransformedTargetRegressor(
        regressor=Pipeline([
            ("log", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
            ("scale", StandardScaler()),
            ("ridge", Ridge(alpha=p["alpha"])),
        ]),
        func=np.log, inverse_func=np.exp).fit(x, target)
    joblib.dump(model, "models/credit_limit.pkl")

    mlflow.set_experiment("credit-limit")
    with mlflow.start_run(run_name="train_credit_limit"):
        mlflow.set_tag("dvc.stage", "train_credit_limit")
        mlflow.log_params({"alpha": p["alpha"], "model": "Ridge(log target)",
                           "features": ",".join(x.columns), "n_train": len(x)})
        err = np.abs(np.log(model.predict(x)) - np.log(df["credit_limit"]))
        mlflow.log_metric("train_median_abs_log_error", float(np.median(err)))
        mlflow.log_input(mlflow.data.from_pandas(
            df[features.columns], source=FEATURES_PATH, name="purchase_features"),
            context="training")
        for name in ("historic_outcomes", "market_conditions", "cost_risk"):
            mlflow.log_input(mlflow.data.from_pandas(
                pd.read_csv(f"data/raw/{name}.csv"), source=f"data/raw/{name}.csv", name=name),
                context="training")
        PIP_REQUIREMENTS.append(f"creditkit=={version('creditkit')}")
        log_sklearn_model(mlflow, model, "credit-limit", x.head(3))


if __name__ == "__main__":
    main()
