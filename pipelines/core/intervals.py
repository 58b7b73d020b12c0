"""The names of a data interval: a month ``YYYY-MM`` or a one-off data version ``data-<12 hex>``.

Kept apart from the stages so that a command can refuse a bad interval
without importing them (pandas, MLflow, scikit-learn, Great Expectations).
"""

from __future__ import annotations

import re

from pipelines.core.config import MONTH_PATTERN
from pipelines.core.errors import BadInputError

ONE_OFF_PATTERN = re.compile(r"^data-[0-9a-f]{12}$")

ERR_INTERVAL = (
    "interval must be a month as YYYY-MM (or a one-off data version data-<12 hex digits>), found {value!r}"
)


def check_month(value: str) -> None:
    """Refuse an interval that is neither a month written YYYY-MM nor a one-off data version ``data-<hash>``."""
    if not MONTH_PATTERN.match(value) and not ONE_OFF_PATTERN.match(value):
        raise BadInputError(ERR_INTERVAL.format(value=value))
