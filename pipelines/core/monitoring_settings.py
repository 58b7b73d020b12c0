"""The ``monitoring`` section of ``fairgate.yaml``: what watching the champion measures and when it alerts.

Split from :mod:`pipelines.core.config`, which re-exports every name here.  One
class per horizon of the ``monitor`` DAG (docs/monitoring.md) and one for the
alerts and the automatic rollback.  Every limit comes as a pair: ``warn``
notifies, ``critical`` escalates (an ethical critical breach confident under its
interval rolls the champion back).  The section does not change what a
retraining run decides, so it is left out of the configuration hash.
"""

from __future__ import annotations

import math
from pathlib import PurePosixPath
from typing import Literal

from pydantic import Field, field_validator, model_validator

from pipelines.core.dataset_settings import Section


class AlertLimit(Section):
    """A warning and a critical limit on one monitored value, on the side ``direction`` names.

    ``direction: min`` breaches below the limits (a ratio, an AUC), ``max`` above
    them (a drift statistic, a disagreement rate).  ``critical`` lies beyond
    ``warn`` on that side.
    """

    direction: Literal["min", "max"]
    warn: float
    critical: float

    @model_validator(mode="after")
    def _critical_beyond_warn(self) -> AlertLimit:
        for value in (self.warn, self.critical):
            if not math.isfinite(value):
                raise ValueError("limits must be finite numbers")
        if self.direction == "min" and self.critical > self.warn:
            raise ValueError(f"critical ({self.critical}) must not be above warn ({self.warn}) for a minimum")
        if self.direction == "max" and self.critical < self.warn:
            raise ValueError(f"critical ({self.critical}) must not be below warn ({self.warn}) for a maximum")
        return self


class DecisionTimeMonitoring(Section):
    """Horizon 1, at decision time without labels: input drift, decisions per group, shadow disagreement.

    The drift limits apply to :mod:`pipelines.data.drift`'s statistics of the
    interval's applications against the champion's training data; a statistic
    counts only beyond what sampling noise alone reaches at
    ``audit.drift.significance`` (its limits are raised to that noise).  The
    ratio and the disagreement have bootstrap intervals (``evaluation.bootstrap``).
    """

    # Kolmogorov-Smirnov statistic of a numeric feature (largest gap between the two distribution functions)
    feature_ks: AlertLimit = AlertLimit(direction="max", warn=0.1, critical=0.2)
    # population stability index of a categorical feature (0.1 / 0.25: the conventional "watch" / "act" bands)
    feature_psi: AlertLimit = AlertLimit(direction="max", warn=0.1, critical=0.25)
    # absolute change of one sensitive group's share of the applications
    group_share_shift: AlertLimit = AlertLimit(direction="max", warn=0.05, critical=0.1)
    # lowest over highest approval rate of an attribute's groups, on the decisions made (four-fifths rule)
    demographic_parity_ratio: AlertLimit = AlertLimit(direction="min", warn=0.85, critical=0.8)
    # share of a group's applications a shadow (waiting candidate) decides differently from the champion
    shadow_disagreement: AlertLimit = AlertLimit(direction="max", warn=0.1, critical=0.2)


class EstimatedPerformanceMonitoring(Section):
    """Horizon 2, before labels mature: performance estimated from the champion's calibrated probabilities.

    The limits mirror the gate's absolute thresholds (``critical``) with one
    non-regression tolerance of margin (``warn``); docs/performance-estimation.md.
    ``equalized_odds_difference`` applies to every sensitive attribute.
    ``group_offset_precision`` is the precision of the zero-centred normal prior
    on each group's calibration offset (on the logit scale): a group with few
    reference rows keeps the pooled calibration, a large one gets its own.
    """

    roc_auc: AlertLimit = AlertLimit(direction="min", warn=0.72, critical=0.7)
    balanced_accuracy: AlertLimit = AlertLimit(direction="min", warn=0.62, critical=0.6)
    cost_saving_vs_best_constant: AlertLimit = AlertLimit(direction="min", warn=0.05, critical=0.0)
    equalized_odds_difference: AlertLimit = AlertLimit(direction="max", warn=0.08, critical=0.1)
    group_offset_precision: float = Field(default=1.0, gt=0, allow_inf_nan=False)


class RealisedMonitoring(Section):
    """Horizon 3, when labels mature: realised metrics per group of the decisions whose outcomes are known.

    Below ``min_label_share`` (the share of the interval's decisions whose
    outcome is known) the interval is reported "not mature" and no metric is
    measured.  The limits mirror the gate's absolute thresholds (``critical``)
    with one non-regression tolerance of margin (``warn``); the ethical ones
    apply to every sensitive attribute.
    """

    min_label_share: float = Field(default=0.9, gt=0, le=1, allow_inf_nan=False)
    roc_auc: AlertLimit = AlertLimit(direction="min", warn=0.72, critical=0.7)
    balanced_accuracy: AlertLimit = AlertLimit(direction="min", warn=0.62, critical=0.6)
    cost_saving_vs_best_constant: AlertLimit = AlertLimit(direction="min", warn=0.05, critical=0.0)
    demographic_parity_ratio: AlertLimit = AlertLimit(direction="min", warn=0.85, critical=0.8)
    demographic_parity_difference: AlertLimit = AlertLimit(direction="max", warn=0.08, critical=0.1)
    equalized_odds_difference: AlertLimit = AlertLimit(direction="max", warn=0.08, critical=0.1)


ERR_NOTIFICATION_FILE = "must be a relative path under var/ (e.g. var/alerts/notifications.jsonl), found {found!r}"


class AlertSettings(Section):
    """How breaches are acted on: notification, and the automatic rollback on a confident ethical breach.

    ``automatic_rollback``: a critical breach of an ethical value whose whole
    interval lies beyond the limit moves ``champion`` back to the last fair and
    stable version and freezes (false: it freezes and alerts, nothing moves).
    ``retrain_on_critical``: every critical breach opens the retrain path (the
    ``monitor`` DAG triggers ``retrain`` for the monitored interval).
    ``notification_file``: where the embedded notifier appends one JSON line per
    alert, relative to the project root, under ``var/``.
    """

    automatic_rollback: bool = True
    retrain_on_critical: bool = True
    notification_file: str = "var/alerts/notifications.jsonl"

    @field_validator("notification_file")
    @classmethod
    def _under_var(cls, value: str) -> str:
        parts = PurePosixPath(value).parts
        if not parts or parts[0] != "var" or len(parts) < 2 or ".." in parts or "\\" in value:
            raise ValueError(ERR_NOTIFICATION_FILE.format(found=value))
        return value


class MonitoringSettings(Section):
    """The whole ``monitoring`` section."""

    experiment: str = Field(default="fairgate-monitoring", min_length=1)
    decision_time: DecisionTimeMonitoring = DecisionTimeMonitoring()
    estimated: EstimatedPerformanceMonitoring = EstimatedPerformanceMonitoring()
    realised: RealisedMonitoring = RealisedMonitoring()
    alerts: AlertSettings = AlertSettings()
