"""A seeded fixture whose groups' base rates are three times apart.

Two groups of applicants, ``a`` (60% of rows) and ``b``; the adverse outcome
(``default = 1``) is three times as frequent in ``b`` (about 30%) as in ``a``
(about 10%).  Two informative features carry the risk; ``region`` tracks the
group (a proxy), so a model fitted as the data comes approves ``b`` less
often.  Monthly decisions over twelve months give an out-of-time holdout.
Nothing here is tuned to a mitigation: the rates and effects are round numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

MONTHS = 12


def base_rate_frame(rows: int = 20000, seed: int = 15) -> pd.DataFrame:
    """Applications with ``application_id``, ``decided_at``, ``group``, features and ``default``."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(rows) < 0.6, "a", "b")
    # intercepts that put the marginal default rates at 10% (a) and 30% (b) given the features below
    intercept = np.where(group == "a", -3.93, -1.60)
    income = rng.normal(0.0, 1.0, rows)
    history = rng.normal(0.0, 1.0, rows)
    risk = intercept - 2.0 * income - 1.5 * history
    default = (rng.random(rows) < expit(risk)).astype(np.int64)
    region = np.where(rng.random(rows) < np.where(group == "a", 0.8, 0.2), "north", "south")
    start = np.datetime64("2025-01-01")
    month = np.sort(rng.integers(0, MONTHS, rows))
    decided_at = pd.to_datetime(start) + pd.to_timedelta(month * 30 + rng.integers(0, 28, rows), unit="D")
    return pd.DataFrame(
        {
            "application_id": np.arange(rows),
            "decided_at": decided_at,
            "group": group,
            "income": income,
            "history": history,
            "region": region,
            "amount": rng.normal(0.0, 1.0, rows),
            "default": default,
        }
    )
