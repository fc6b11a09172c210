"""purchase_features: purchase analysis per customer over the last N months.

Writes data/features/purchase_features.csv (one row per customer).
v2: refunds (negative amounts) no longer count as purchases; adds share_essentials.
v3: purchases are summed per household, so that joint accounts count once.
"""
from pathlib import Path

import pandas as pd
import yaml

FEATURES = ["income", "existing_debt", "age", "tenure_years",
            "purchase_total_3m", "purchase_count_3m", "avg_ticket", "months_active",
            "share_essentials"]
ESSENTIALS = {"groceries", "utilities", "pharmacy"}


def compute(transactions: pd.DataFrame, customers: pd.DataFrame, months: list) -> pd.DataFrame:
    tx = transactions[transactions["date"].str[:7].isin(months) & (transactions["amount"] > 0)]
    tx = tx.merge(customers[["customer_id", "household_id"]], on="customer_id")
    tx = tx.assign(essential=tx["amount"].where(tx["merchant_category"].isin(ESSENTIALS), 0.0))
    g = tx.groupby("household_id")
    agg = pd.DataFrame({
        "purchase_total_3m": g["amount"].sum(),
        "purchase_count_3m": g["amount"].size(),
        "months_active": g["date"].agg(lambda d: d.str[:7].nunique()),
        "essential_total": g["essential"].sum(),
    })
    out = customers[["customer_id", "household_id", "income", "existing_debt", "age",
                     "tenure_years"]].merge(agg, on="household_id", how="left").fillna(0.0)
    out["avg_ticket"] = out["purchase_total_3m"] / out["purchase_count_3m"].clip(lower=1)
    out["share_essentials"] = out["essential_total"] / out["purchase_total_3m"].clip(lower=1)
    out[FEATURES] = out[FEATURES].astype(float).round(2)
    out["share_essentials"] = out["share_essentials"].round(4)
    return out[["customer_id", "household_id"] + FEATURES]


def main() -> None:
    params = yaml.safe_load(open("params.yaml"))
    months = params["months"][-params["features"]["window_months"]:]
    tx = pd.concat(pd.read_csv(f"data/prepared/transactions/{m}.csv") for m in months)
    customers = pd.read_csv("data/raw/customers.csv")
    out = Path("data/features/purchase_features.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    compute(tx, customers, months).to_csv(out, index=False)


if __name__ == "__main__":
    main()
