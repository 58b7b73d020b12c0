"""How the data audit writes values: JSON-ready scalars, percentages, numbers and a few examples.

Shared by the audit's entry point (:mod:`pipelines.data.audit`), its
expectation planners (:mod:`pipelines.data.audit_expectations`) and its
mixed-type check (:mod:`pipelines.data.audit_mixed_types`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

SHOWN_VALUES = 10


def native(value: Any) -> Any:
    """Return a JSON-ready Python value for a numpy or pandas scalar."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def json_ready(value: Any) -> Any:
    """Return ``value`` with numpy scalars made native and non-finite floats made ``None``."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    value = native(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def percent(share: float) -> str:
    """Return a share as a percentage with one decimal (``0.1234`` gives ``"12.3%"``)."""
    return f"{100 * share:.1f}%"


def number_text(value: float) -> str:
    """Return a number with six significant digits, as findings show it."""
    return f"{value:.6g}"


def shown_values(values: Sequence[Any]) -> list[Any]:
    """Return the first ``SHOWN_VALUES`` values, JSON-ready: the examples a finding names."""
    return [native(v) for v in list(values)[:SHOWN_VALUES]]
