"""Census-style applications: many columns of few values each, dependent through hidden profiles.

Different people share every value here by chance (about 0.1-0.5% of rows
are identical to another row), as in public census data; the columns depend
on each other (education and its number are one fact, marital status,
relationship and sex go together), so independence would understate chance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# column: number of values
_CATEGORICALS = {
    "age_band": 7,
    "workclass": 5,
    "education": 8,
    "marital_status": 5,
    "occupation": 10,
    "relationship": 5,
    "race": 4,
    "hours_band": 5,
    "native_region": 4,
    "capital_gain": 3,
}
_PROFILES = 8


def census_like(rows: int, seed: int, first_id: int = 0, start: str = "2023-01-01", days: int = 365) -> pd.DataFrame:
    """Seeded census-style rows with ids, a decision date, a sensitive ``sex`` and a binary ``income`` label.

    Parameters
    ----------
    rows : int
        Rows drawn.
    seed : int
        Seed of every draw (the profiles' shapes use a fixed seed, so two
        calls differ only in their rows).
    first_id : int
        First ``person_id``.
    start, days : str, int
        Decision dates are uniform over ``days`` days from ``start``.
    """
    shapes = np.random.default_rng(1234)
    profile_share = shapes.dirichlet(np.full(_PROFILES, 2.0))
    tables = {name: shapes.dirichlet(np.full(size, 1.0), size=_PROFILES) for name, size in _CATEGORICALS.items()}
    sex_given_profile = shapes.uniform(0.1, 0.9, _PROFILES)
    rng = np.random.default_rng(seed)
    profile = rng.choice(_PROFILES, size=rows, p=profile_share)
    data: dict[str, object] = {"person_id": np.arange(first_id, first_id + rows)}
    data["decision_date"] = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, days, rows), unit="D")
    for name, table in tables.items():
        cumulative = table.cumsum(axis=1)[profile]
        values = (rng.random(rows)[:, None] > cumulative).sum(axis=1)
        data[name] = np.array([f"{name[:3]}{v}" for v in range(table.shape[1])])[np.minimum(values, table.shape[1] - 1)]
    frame = pd.DataFrame(data)
    frame["education_num"] = frame["education"].str[3:].astype(int) + 1  # the same fact as education
    frame["sex"] = np.where(rng.random(rows) < sex_given_profile[profile], "female", "male")
    frame["income"] = (rng.random(rows) < 0.1 + 0.04 * profile).astype(int)
    return frame
