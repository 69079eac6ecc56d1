"""Generate the capstone starter's synthetic churn data (fixed seed; no real customers).

Writes ``data/customers.csv`` (2,000 development rows) and ``data/holdout.csv`` (500 rows kept
for the final evaluation). Churn follows a logistic model with a few thresholds and one
interaction, so a flexible model can beat a linear one, and about a quarter of customers churn.
Run: ``.venv/bin/python curriculum/labs/capstone-starter/make_data.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 10
N_DEV, N_HOLDOUT = 2000, 500
OUT = Path(__file__).resolve().parent / "data"


def make(n: int, rng: np.random.Generator) -> pd.DataFrame:
    contract = rng.choice(["month-to-month", "one-year", "two-year"], n, p=[0.55, 0.25, 0.20])
    internet = rng.choice(["fiber", "dsl", "none"], n, p=[0.4, 0.4, 0.2])
    payment = rng.choice(["card", "bank", "electronic-cheque"], n, p=[0.35, 0.35, 0.30])
    tenure = np.clip(rng.exponential(24, n).round().astype(int) + 1, 1, 72)
    base = np.select([internet == "fiber", internet == "dsl"], [85.0, 60.0], 30.0)
    charges = np.clip(base + rng.normal(0, 12, n), 18, 125).round(2)
    calls = rng.poisson(1.2, n)
    login = rng.exponential(10, n).round(1)
    age = rng.integers(18, 81, n)
    logit = (
        -3.0
        + 1.6 * (contract == "month-to-month")
        - 0.8 * (contract == "two-year")
        - 0.02 * tenure
        + 1.8 * (tenure <= 6)
        + 0.01 * (charges - 70)
        + 2.0 * ((internet == "fiber") & (charges > 95))
        + 2.2 * (calls >= 4)
        + 0.6 * (payment == "electronic-cheque")
        + 0.06 * np.minimum(login, 30)
    )
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    login_obs = login.astype(float)
    login_obs[rng.random(n) < 0.08] = np.nan  # not every customer's last login was recorded
    return pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": charges,
            "contract": contract,
            "internet": internet,
            "payment_method": payment,
            "support_calls": calls,
            "days_since_login": login_obs,
            "age": age,
            "churned": churned,
        }
    )


def main(out: Path = OUT) -> None:
    rng = np.random.default_rng(SEED)
    df = make(N_DEV + N_HOLDOUT, rng)
    df.insert(0, "customer_id", [f"C{i:05d}" for i in rng.permutation(len(df)) + 10001])
    out.mkdir(exist_ok=True)
    df.iloc[:N_DEV].to_csv(out / "customers.csv", index=False)
    df.iloc[N_DEV:].to_csv(out / "holdout.csv", index=False)
    print(f"churn rate {df.churned.mean():.3f}; wrote {out / 'customers.csv'} and {out / 'holdout.csv'}")


if __name__ == "__main__":
    main()
