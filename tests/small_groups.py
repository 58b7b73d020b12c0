"""A seeded table whose sensitive attribute holds groups under 0.5% of rows (issue 15, item 4).

``race`` has two large groups and two small ones of exactly 18 and 32 rows in
10,000 (0.18% and 0.32%), placed at seeded random rows, as census-style public
data has them.  The outcome depends on the features only, never on the group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

SMALL_GROUPS = {"amer_indian": 18, "pacific": 32}
LARGE_GROUPS = ("white", "black")


def default_probability(debt_ratio: Any, income: Any, employment_years: Any) -> np.ndarray:
    """The probability of default behind the table: features only, never the group."""
    score = -3.0 + 10.0 * np.asarray(debt_ratio) - 2.0 * np.log(np.asarray(income) / 40_000)
    return np.asarray(1 / (1 + np.exp(-(score - 0.1 * np.asarray(employment_years)))), dtype=np.float64)


def small_group_table(rows: int = 10_000, seed: int = 20261207) -> pd.DataFrame:
    """Loan applications with ``race``: white / black (about 60 / 40%) and 18 amer_indian, 32 pacific rows."""
    rng = np.random.default_rng(seed)
    race = rng.choice(np.array(LARGE_GROUPS, dtype=object), rows, p=[0.6, 0.4])
    placed = rng.permutation(rows)
    start = 0
    for group, count in SMALL_GROUPS.items():
        race[placed[start : start + count]] = group
        start += count
    debt_ratio = rng.beta(2, 5, rows)
    income = np.round(rng.lognormal(10.6, 0.5, rows), 2)
    employment_years = np.round(rng.gamma(2.0, 3.0, rows), 1)
    default = (rng.random(rows) < default_probability(debt_ratio, income, employment_years)).astype(int)
    return pd.DataFrame(
        {
            "application_id": [f"S{i:07d}" for i in range(rows)],
            "race": pd.Series(race, dtype=object).astype(str),
            "debt_ratio": debt_ratio,
            "income": income,
            "employment_years": employment_years,
            "education": rng.choice(np.array(["primary", "secondary", "tertiary"]), rows),
            "default": default,
        }
    )
