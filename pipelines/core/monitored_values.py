"""What the ``monitor`` DAG hands to the alerting: one measured value per check, with its interval and limits.

Each horizon (decision time, estimated, realised) produces a list of
:class:`MonitoredValue`; :mod:`pipelines.governance.alerts` classifies them into
breaches (warn / critical, confident or not) and decides what follows.  The
values are never rounded here: they are the ones measured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Horizon = Literal["decision_time", "estimated", "realised"]
# drift: inputs against the champion's training data; decisions: what was decided, per group;
# shadow: shadow versus champion; technical / business / ethical: the gate's metric families
MonitoredFamily = Literal["drift", "decisions", "shadow", "technical", "business", "ethical"]


@dataclass(frozen=True)
class MonitoredValue:
    """One measured value of one check of one interval, with its bootstrap interval and its limits.

    ``subject`` names what was measured: a feature, an attribute (``gender``), a
    group (``gender=F``) or ``overall``.  ``low``/``high`` bound the value at the
    gate's bootstrap confidence (``None`` when the value has no sampling error,
    e.g. a count).  ``direction`` says which side breaches: ``min`` below the
    limits, ``max`` above them.
    """

    horizon: Horizon
    family: MonitoredFamily
    metric: str
    subject: str
    value: float
    low: float | None
    high: float | None
    warn: float | None
    critical: float | None
    direction: Literal["min", "max"]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form recorded in the monitoring verdict and the audit log."""
        return asdict(self)
