"""A seeded hiring-like dataset whose positive class is the favourable one (``hired = 1``).

Each candidate's true probability of ``hired = 1`` comes from a known logistic model of
the features; the intercept is solved (by bisection, on the drawn features) so that the
mean probability is exactly the requested base rate, and the label is one Bernoulli draw
of that probability.  Because the probabilities are known, a test can hold the pipeline's
decision rule to the Bayes-optimal one without fitting anything.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BASE_RATE = 0.3
EDUCATION = ("secondary", "bachelor", "master")


def _intercept_for(base_rate: float, score: np.ndarray) -> float:
    """The intercept ``a`` with ``mean(expit(a + score)) == base_rate`` (bisection, to float precision)."""
    low, high = -30.0, 30.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if np.mean(1.0 / (1.0 + np.exp(-(middle + score)))) < base_rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0


def hiring_frame(rows: int = 4000, seed: int = 20261207, base_rate: float = BASE_RATE) -> pd.DataFrame:
    """Candidates with features, ``gender``, the true probability ``p_hired`` and the label ``hired``.

    Parameters
    ----------
    rows : int
        Number of candidates.
    seed : int
        Seed of every draw.
    base_rate : float
        Mean true probability of ``hired = 1``.

    Returns
    -------
    pandas.DataFrame
        Columns ``years_experience``, ``skills_test``, ``interview_score``, ``education``,
        ``gender``, ``p_hired`` (the true probability, never a feature) and ``hired`` (0/1).
    """
    rng = np.random.default_rng(seed)
    gender = rng.choice(np.array(["female", "male"]), size=rows, p=[0.45, 0.55])
    education = rng.choice(np.array(EDUCATION), size=rows, p=[0.4, 0.4, 0.2])
    years = rng.gamma(shape=2.0, scale=3.0, size=rows)
    skills = np.clip(rng.normal(60.0, 15.0, size=rows), 0.0, 100.0)
    interview = np.clip(rng.normal(3.0, 0.8, size=rows), 1.0, 5.0)
    score = (
        0.08 * years
        + 0.06 * (skills - 60.0)
        + 1.1 * (interview - 3.0)
        + np.select([education == "bachelor", education == "master"], [0.4, 0.8], 0.0)
    )
    p_hired = 1.0 / (1.0 + np.exp(-(_intercept_for(base_rate, score) + score)))
    hired = (rng.random(rows) < p_hired).astype(np.int64)
    return pd.DataFrame(
        {
            "years_experience": years,
            "skills_test": skills,
            "interview_score": interview,
            "education": education,
            "gender": gender,
            "p_hired": p_hired,
            "hired": hired,
        }
    )
