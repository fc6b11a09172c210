"""evaluate: holdout metrics of both models -> metrics/evaluate.json."""
import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import roc_auc_score

from credit_common import FEATURES_PATH, feature_columns, is_holdout, limit_frame


def main() -> None:
    params = yaml.safe_load(open("params.yaml"))
    features = pd.read_csv(FEATURES_PATH)
    historic = pd.read_csv("data/raw/historic_outcomes.csv")
    market = pd.read_csv("data/raw/market_conditions.csv")
    cost_risk = pd.read_csv("data/raw/cost_risk.csv")
    scoring = joblib.load("models/scoring.pkl")
    limit = joblib.load("models/credit_limit.pkl")
    df = features.merge(historic, on="customer_id")
    df = df.merge(market.rename(columns={"month": "granted_month"}), on="granted_month")
    df = df[is_holdout(df["customer_id"], params["evaluate"]["holdout_fraction"])]
    df = df.reset_index(drop=True)
    scores = scoring.predict_proba(df[feature_columns(features)])[:, 1]
    pred = limit.predict(limit_frame(df[features.columns], scores, cost_risk, df["base_rate"]))
    ratio = pred / df["credit_limit"]
    metrics = {
        "scoring_auc": round(float(roc_auc_score(1 - df["defaulted"], scores)), 4),
        "limit_median_abs_log_error": round(float(np.median(np.abs(np.log(ratio)))), 4),
        "limit_median_ratio_pred_to_actual": round(float(np.median(ratio)), 4),
        "n_holdout": int(len(df)),
    }
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/evaluate.json").write_text(json.dumps(metrics, indent=2) + "\n")


if __name__ == "__main__":
    main()
