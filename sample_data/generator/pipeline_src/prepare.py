"""prepare@<month>: clean one month of raw card transactions.

Usage: python src/prepare.py 2026-01
Reads data/raw/transactions/<month>.csv, writes data/prepared/transactions/<month>.csv.
"""
import sys
from pathlib import Path

import pandas as pd

COLUMNS = ["transaction_id", "customer_id", "date", "amount", "merchant_category"]


def clean(df: pd.DataFrame, month: str) -> pd.DataFrame:
    df = df[COLUMNS].drop_duplicates("transaction_id")
    df = df[df["date"].astype(str).str.startswith(month)]
    df = df.assign(amount=df["amount"].astype(float).round(2))
    df = df.assign(month=month)
    return df.sort_values(["date", "transaction_id"]).reset_index(drop=True)


def main(month: str) -> None:
    raw = pd.read_csv(f"data/raw/transactions/{month}.csv")
    out = Path(f"data/prepared/transactions/{month}.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    clean(raw, month).to_csv(out, index=False)


if __name__ == "__main__":
    main(sys.argv[1])
