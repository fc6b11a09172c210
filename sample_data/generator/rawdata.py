"""Synthetic raw data of the credit case: customers, transactions, historic outcomes,
market conditions and the cost/risk table. Everything is drawn from fixed seeds."""
import numpy as np
import pandas as pd

SEED = 20260105
N_COUPLES, N_SINGLES = 110, 80
CATEGORIES = ["groceries", "utilities", "pharmacy", "restaurants", "travel",
              "electronics", "fashion", "fuel"]
CATEGORY_P = [0.30, 0.08, 0.05, 0.17, 0.06, 0.08, 0.14, 0.12]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def customers() -> pd.DataFrame:
    """Customers with household ids (couples share one) and a hidden monthly spend rate."""
    rng = np.random.default_rng(SEED)
    rows, n = [], 0
    for h in range(N_COUPLES + N_SINGLES):
        size = 2 if h < N_COUPLES else 1
        base_income = float(np.exp(rng.normal(np.log(52000), 0.45)))
        base_spend = float(np.exp(rng.normal(np.log(0.11), 0.45)))
        for k in range(size):
            n += 1
            income = base_income * (float(np.exp(rng.normal(0, 0.35))) if k else 1.0)
            rows.append({
                "customer_id": f"c-{n:04d}", "household_id": f"h-{h + 1:04d}",
                "age": int(rng.integers(23, 70)), "tenure_years": int(rng.integers(0, 16)),
                "income": round(income, -2),
                "existing_debt": round(income * float(rng.beta(2, 6)) * 0.8, -1),
                "region": str(rng.choice(["north", "south", "east", "west"])),
                "spend_rate": income / 12 * base_spend * float(np.exp(rng.normal(0, 0.25))),
            })
    df = pd.DataFrame(rows)
    # interleave households so ids are not trivially paired by order
    order = np.random.default_rng(SEED + 1).permutation(len(df))
    df = df.iloc[order].reset_index(drop=True)
    df["customer_id"] = [f"c-{i + 1:04d}" for i in range(len(df))]
    return df


def public_customers(cust: pd.DataFrame) -> pd.DataFrame:
    return cust[["customer_id", "household_id", "age", "tenure_years", "income",
                 "existing_debt", "region"]].sort_values("customer_id")


def transactions(cust: pd.DataFrame, month: str) -> pd.DataFrame:
    """One month of card transactions (dollars)."""
    rng = np.random.default_rng(SEED + int(month.replace("-", "")))
    start = pd.Timestamp(month + "-01")
    days = start.days_in_month
    rows = []
    for c in cust.itertuples():
        n = int(rng.poisson(8))
        amounts = c.spend_rate / 8 * np.exp(rng.normal(-0.18, 0.6, n))
        refund = rng.random(n) < 0.05
        for i in range(n):
            rows.append((c.customer_id,
                         (start + pd.Timedelta(days=int(rng.integers(0, days)))).strftime("%Y-%m-%d"),
                         round(float(-amounts[i] if refund[i] else amounts[i]), 2),
                         str(rng.choice(CATEGORIES, p=CATEGORY_P))))
    df = pd.DataFrame(rows, columns=["customer_id", "date", "amount", "merchant_category"])
    df = df.sort_values(["date", "customer_id"], kind="stable").reset_index(drop=True)
    df.insert(0, "transaction_id", [f"t-{month.replace('-', '')}-{i + 1:05d}" for i in range(len(df))])
    return df


def in_cents(tx: pd.DataFrame) -> pd.DataFrame:
    """The bug: the vendor's new export writes amounts as integer cents."""
    return tx.assign(amount=(tx["amount"] * 100).round().astype(int))


def market_conditions() -> pd.DataFrame:
    months = pd.period_range("2024-01", "2026-06", freq="M")
    t = np.arange(len(months))
    return pd.DataFrame({
        "month": months.astype(str),
        "base_rate": np.round(0.045 - 0.0004 * t + 0.002 * np.sin(t / 4), 4),
        "unemployment_rate": np.round(0.052 + 0.004 * np.cos(t / 5), 4),
        "consumer_confidence": np.round(96 + 4 * np.sin(t / 3), 1),
    })


def cost_risk() -> pd.DataFrame:
    return pd.DataFrame({
        "risk_band": ["E", "D", "C", "B", "A"],
        "min_score": [0.0, 0.5, 0.65, 0.8, 0.9],
        "max_score": [0.5, 0.65, 0.8, 0.9, 1.0],
        "expected_loss_rate": [0.12, 0.05, 0.025, 0.01, 0.005],
        "cost_of_funds": [0.021, 0.02, 0.019, 0.018, 0.018],
    })


def historic_outcomes(cust: pd.DataFrame) -> pd.DataFrame:
    """Historic data: past credit decisions (granted limit) and whether the customer defaulted."""
    rng = np.random.default_rng(SEED + 7)
    market = market_conditions().set_index("month")
    months = [m for m in market.index if "2024-01" <= m <= "2025-09"]
    granted = rng.choice(months, len(cust))
    base_rate = market.loc[granted, "base_rate"].to_numpy()
    debt_ratio = (cust["existing_debt"] / cust["income"]).to_numpy()
    log_spend = np.log(cust["spend_rate"].to_numpy() * 3)
    p_good = _sigmoid(2.2 + 0.9 * np.log(cust["income"] / 52000) - 4.0 * debt_ratio
                      + 0.4 * (log_spend - 7.4))
    defaulted = (rng.random(len(cust)) > p_good).astype(int)
    log_limit = (1.45 * log_spend + 0.35 * np.log(cust["income"] / 52000) - 1.5 * debt_ratio
                 + 1.2 * p_good - 12 * base_rate - 2.36 + rng.normal(0, 0.15, len(cust)))
    return pd.DataFrame({
        "customer_id": cust["customer_id"], "granted_month": granted,
        "credit_limit": np.round(np.exp(log_limit), -1).clip(300, 60000),
        "defaulted": defaulted,
    }).sort_values("customer_id")
