"""``fairgate.yaml``: the one configuration file, parsed once into typed settings.

Every tunable (dataset, features, sensitive attributes, thresholds,
beta_factor, seeds, registry names) lives in the file; a bad value stops with
one line naming the key.  Manual-trigger overrides use the same dotted keys
(``training.beta_factor``) and go through the same validation.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pipelines.core.dataset_settings import (  # noqa: F401 (re-exported: import them from here)
    ENV_NAME_PATTERN,
    ERR_REVIEW_PLACEHOLDER,
    INTERVAL_PLACEHOLDER,
    REVIEW_MARKER,
    SQL_INTERVAL_PARAMETERS,
    DatasetSettings,
    GroupMerge,
    Reviewed,
    SmallGroupPolicy,
    SqlSourceSettings,
)
from pipelines.core.dataset_settings import Section as _Section
from pipelines.core.errors import BadInputError
from pipelines.core.monitoring_settings import MonitoringSettings

CONFIG_FILE_NAME = "fairgate.yaml"
HAZARDS = ("post_outcome_column", "label_copy", "duplicated_rows", "migration")
MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

ERR_CONFIG_MISSING = "configuration file not found: {path}"
ERR_CONFIG_YAML = "configuration file {path} is not valid YAML: {problem}"
ERR_CONFIG_NOT_MAPPING = "configuration file {path} must hold a mapping of sections, found {found}"
ERR_CONFIG_KEY = "fairgate.yaml: {key}: {problem}"
ERR_OVERRIDE_KEY = "override {key!r}: no such setting in fairgate.yaml"
ERR_OVERRIDE_RENAMED = "override {key!r}: {problem}"
ERR_DUPLICATE_KEY = "key {key!r} appears twice in one mapping (line {first} and line {second}); keep one"
ERR_YAML_ALIAS = "YAML anchors and aliases are refused (line {line}): write the value out"
ERR_GATE_EMPTY = (
    "the {family} gate needs at least one check ({why}); removing it is not a configuration choice"
)
ERR_GATE_UNKNOWN = "no such metric; known: {known}"
ERR_BOUND_RANGE = "{side} = {value!r} lies outside the metric's range [{low}, {high}], so the check could never {never}"
ERR_BOUND_ORDER = "min = {low!r} is above max = {high!r}: no value could pass"
ERR_TOLERANCE_RANGE = (
    "a tolerance of {tolerance!r} is wider than the metric's whole range [{low}, {high}]: no regression could fail it"
)
ERR_DECISION_RENAMED = (
    "renamed: write {new} ({meaning}); the costs are stated in favourable and unfavourable decisions "
    "so that they mean the same whichever class is positive"
)
ERR_DECISION_RATIO = (
    "the costs {favourable!r} (wrong favourable) and {unfavourable!r} (wrong unfavourable) are too far apart "
    "for a threshold strictly between 0 and 1"
)
ERR_DECISION_COSTS_UNSTATED = (
    "dataset.positive_is_favorable is true, so state this cost: the defaults (5 for a wrong favourable decision, "
    "1 for a wrong unfavourable one) are a lending cost matrix and would grant the favourable outcome only when "
    "its probability is at least 5/6"
)
# the cost keys before issue 15, refused with the name that replaced them
RENAMED_DECISION_KEYS = {
    "cost_false_approval": "cost_wrong_favorable",
    "cost_false_refusal": "cost_wrong_unfavorable",
}
DECISION_COSTS = {
    "cost_wrong_favorable": "the cost of granting the favourable outcome to someone whose true outcome is unfavourable",
    "cost_wrong_unfavorable": "the cost of refusing someone whose true outcome is favourable",
}
ERR_OVERRIDE_LOOSENS = (
    "override refused: {key} would go from {before} to {after}, which loosens the gate; "
    "a per-run override may only tighten it (loosening is a reviewed change to fairgate.yaml)"
)
ERR_OVERRIDE_GOVERNED = (
    "override refused: {key} is a governance setting ({section}) and cannot change for one run; "
    "change fairgate.yaml through review instead"
)
# what a run's overrides may never touch: the data contract, the checks, how the gate measures
# (switching the intersection off would drop ethical checks; another latency batch size measures
# another quantity) and the registry
GOVERNED_SECTIONS = ("dataset", "audit", "leakage", "evaluation", "registry", "audit_log")

_UNIT = (0.0, 1.0)
# Every metric a gate may name, per family, with the values it can take.  A bound outside the range can
# never fail (or never pass): it would remove the check while seeming to keep it.  The names are those of
# pipelines.model.metrics (tests/code/test_config.py holds the two together).
GATE_METRIC_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "technical": {
        "accuracy": _UNIT,
        "balanced_accuracy": _UNIT,
        "roc_auc": _UNIT,
        "f1": _UNIT,
        "log_loss": (0.0, math.inf),
        "brier": _UNIT,
        "latency_ms_p50": (0.0, math.inf),
        "latency_ms_p95": (0.0, math.inf),
    },
    "business": {
        "approval_rate": _UNIT,
        "expected_cost": (0.0, math.inf),
        "cost_saving_vs_best_constant": (-math.inf, 1.0),
    },
    "ethical": {
        "demographic_parity_difference": _UNIT,
        "demographic_parity_ratio": _UNIT,
        "equalized_odds_difference": _UNIT,
        "equal_opportunity_difference": _UNIT,
        "worst_group_accuracy": _UNIT,
    },
}




class Bound(_Section):
    """An absolute threshold on one metric: ``min`` and/or ``max``."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_side_at_least(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("a bound needs 'min' or 'max'")
        for side in (self.min, self.max):
            if side is not None and not math.isfinite(side):
                raise ValueError("bounds must be finite numbers")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(ERR_BOUND_ORDER.format(low=self.min, high=self.max))
        return self


class GeneratorSettings(_Section):
    """The seeded loan-application generator used by default."""

    seed: int = 20240101
    rows_per_month: int = Field(default=1500, ge=50)
    history_start: str = "2024-01"
    history_months: int = Field(default=12, ge=1)
    label_lag_months: int = Field(default=12, ge=0)
    # measurement bias: women's recorded income is exp(-gap) of the income that drives their default
    recorded_income_gap: float = Field(default=0.3, ge=0, le=2)
    hazards: list[Literal["post_outcome_column", "label_copy", "duplicated_rows", "migration"]] = Field(
        default_factory=list
    )

    @field_validator("history_start")
    @classmethod
    def _month(cls, value: str) -> str:
        if not MONTH_PATTERN.match(value):
            raise ValueError(f"expected a month as YYYY-MM, found {value!r}")
        return value


class DriftSettings(_Section):
    """Drift of the audited data against its reference: a warning band and a blocking bound per statistic.

    A statistic counts only when it exceeds its bound *and* what sampling
    noise alone would reach at ``significance`` (so a small batch is not
    blocked for being small).
    """

    significance: float = Field(default=0.001, gt=0, lt=0.5)
    pseudo_count: float = Field(default=0.5, gt=0)
    psi_warn: float = Field(default=0.1, gt=0)
    psi_block: float = Field(default=0.25, gt=0)
    ks_warn: float = Field(default=0.1, gt=0, le=1)
    ks_block: float = Field(default=0.15, gt=0, le=1)
    label_rate_shift_warn: float = Field(default=0.05, gt=0, le=1)
    label_rate_shift_block: float = Field(default=0.1, gt=0, le=1)
    group_share_shift_warn: float = Field(default=0.05, gt=0, le=1)
    group_share_shift_block: float = Field(default=0.1, gt=0, le=1)

    @model_validator(mode="after")
    def _warn_below_block(self) -> DriftSettings:
        for name in ("psi", "ks", "label_rate_shift", "group_share_shift"):
            warn, block = getattr(self, f"{name}_warn"), getattr(self, f"{name}_block")
            if warn > block:
                raise ValueError(f"{name}_warn ({warn}) must not exceed {name}_block ({block})")
        return self


class AuditSettings(_Section):
    """Data audit thresholds (Great Expectations suite, type checks, freshness, drift)."""

    min_rows: int = Field(default=200, ge=1)
    min_group_rows: int = Field(default=30, ge=1)
    min_group_share: float = Field(default=0.05, ge=0, le=1)
    max_null_share: float = Field(default=0.05, ge=0, le=1)
    label_rate_min: float = Field(default=0.01, ge=0, le=1)
    label_rate_max: float = Field(default=0.99, ge=0, le=1)
    range_quantile: float = Field(default=0.001, ge=0, lt=0.5)
    range_margin: float = Field(default=0.5, ge=0)
    max_out_of_range_share: float = Field(default=0.01, ge=0, le=1)
    max_duplicate_share: float = Field(default=0.0, ge=0, le=1)
    max_stale_share: float = Field(default=0.0, ge=0, le=1)
    mixed_types_min_numeric_share: float = Field(default=0.5, gt=0, le=1)
    # identical rows and null shares against chance (pipelines/data/chance.py): block only beyond noise
    duplicate_rows_factor: float = Field(default=2.0, ge=1)
    noise_significance: float = Field(default=0.001, gt=0, lt=0.5)
    first_run_max_null_share: float = Field(default=0.2, ge=0, le=1)
    drift: DriftSettings = DriftSettings()


class LeakageSettings(_Section):
    """Leakage thresholds."""

    max_single_feature_auc: float = Field(default=0.95, gt=0.5, le=1)
    max_single_feature_nmi: float = Field(default=0.5, gt=0, le=1)
    nmi_bins: int = Field(default=20, ge=2)
    max_label_agreement: float = Field(default=0.98, gt=0.5, le=1)
    max_after_decision_share: float = Field(default=0.01, ge=0, le=1)
    null_pattern_gap: float = Field(default=0.5, gt=0, lt=1)
    proxy_auc: float = Field(default=0.7, gt=0.5, le=1)
    high_cardinality_share: float = Field(default=0.5, gt=0, le=1)
    # test rows identical to a training row: block only beyond this many times chance, beyond noise
    identical_rows_factor: float = Field(default=2.0, ge=1)
    identical_rows_significance: float = Field(default=0.001, gt=0, lt=0.5)


class SplitSettings(_Section):
    """How the holdout is cut: out-of-time when a time column exists."""

    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    seed: int = 7


MITIGATION_METHODS = ("none", "reweighing", "exponentiated_gradient", "threshold_optimizer")


ERR_THRESHOLD_OPTIMIZER = (
    "threshold_optimizer decides with the sensitive attribute at decision time (disparate treatment, which many "
    "lending and hiring rules forbid); allowed only with dataset.use_sensitive_as_feature: true, after that review "
    "(docs/mitigation.md, \"ThresholdOptimizer\")"
)
ERR_THRESHOLD_OPTIMIZER_BOUND = (
    "difference_bound does not apply to threshold_optimizer: it equalises the constraint exactly on the training rows"
)


def _no_bound_for_threshold_optimizer(method: str, fields_set: set[str]) -> None:
    """Refuse a ``difference_bound`` stated for ThresholdOptimizer (it would be silently ignored)."""
    if method == "threshold_optimizer" and "difference_bound" in fields_set:
        raise ValueError(ERR_THRESHOLD_OPTIMIZER_BOUND)


class MitigationOption(_Section):
    """One option of the mitigation search: a method and, for the reduction, its constraint and bound.

    ``threshold_optimizer`` takes a constraint and no bound; it is refused unless
    ``dataset.use_sensitive_as_feature`` is true (:func:`mitigation_problems`).
    """

    method: Literal["none", "reweighing", "exponentiated_gradient", "threshold_optimizer"]
    constraint: Literal["demographic_parity", "equalized_odds"] = "demographic_parity"
    difference_bound: float = Field(default=0.01, gt=0, lt=1)

    @model_validator(mode="after")
    def _bound_applies(self) -> MitigationOption:
        _no_bound_for_threshold_optimizer(self.method, self.model_fields_set)
        return self

    @property
    def label(self) -> str:
        """A short name for tables and plots, e.g. ``exponentiated_gradient(equalized_odds, 0.05)``."""
        if self.method == "threshold_optimizer":
            return f"{self.method}({self.constraint})"
        if self.method != "exponentiated_gradient":
            return self.method
        return f"{self.method}({self.constraint}, {self.difference_bound!r})"


class MitigationSearchSettings(_Section):
    """Gate-aware mitigation search (see :mod:`pipelines.governance.mitigation_search`).

    Each option is fitted on the training window less a validation split
    (``validation_fraction`` of it: the latest part with a time column, a
    seeded stratified part without), scored there against the gate's absolute
    thresholds, and the best passing option is refitted on the whole window.
    """

    options: list[MitigationOption] = Field(min_length=2)
    validation_fraction: float = Field(default=0.25, gt=0, lt=1)

    @model_validator(mode="after")
    def _distinct(self) -> MitigationSearchSettings:
        labels = [option.label for option in self.options]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"options listed more than once: {', '.join(repeated)}")
        return self


class MitigationSettings(_Section):
    """How training corrects unfairness (see :mod:`pipelines.model.mitigation`).

    ``reweighing`` is Kamiran-Calders: each (group, label) cell weighted by
    P(g)P(y)/P(g,y), times the class weight.  ``exponentiated_gradient`` is
    fairlearn's reduction under a ``demographic_parity`` or ``equalized_odds``
    constraint at the pipeline's own decision threshold; the sensitive columns
    are used to fit it, never to predict.
    """

    method: Literal["none", "reweighing", "exponentiated_gradient", "threshold_optimizer"] = "none"
    constraint: Literal["demographic_parity", "equalized_odds"] = "demographic_parity"
    difference_bound: float = Field(default=0.01, gt=0, lt=1)
    max_iter: int = Field(default=50, ge=1)
    search: MitigationSearchSettings | None = None

    @model_validator(mode="after")
    def _bound_applies(self) -> MitigationSettings:
        _no_bound_for_threshold_optimizer(self.method, self.model_fields_set)
        return self


class TrainingSettings(_Section):
    """The estimator, the class re-balancing and the fairness mitigation."""

    estimator: Literal["logistic_regression", "hist_gradient_boosting"] = "logistic_regression"
    params: dict[str, Any] = Field(default_factory=dict)
    beta_factor: float = 0.999
    mitigation: MitigationSettings = MitigationSettings()
    seed: int = 42

    @property
    def reweigh_sensitive(self) -> bool:
        """True when the sample weights reweigh sensitive groups (Kamiran-Calders)."""
        return self.mitigation.method == "reweighing"

    @field_validator("beta_factor")
    @classmethod
    def _beta_in_unit_interval(cls, value: float) -> float:
        if math.isnan(value) or not 0.0 <= value <= 1.0:
            raise ValueError(f"expected a number in [0, 1], found {value!r}")
        return value


class DecisionSettings(_Section):
    """The cost matrix, in favourable and unfavourable decisions, and the decision threshold derived from it.

    A *favourable* decision grants the outcome the person wants (a loan, a job offer);
    ``dataset.positive_is_favorable`` says whether that outcome is the model's positive class.
    ``cost_wrong_favorable`` is the cost of granting it to someone whose true outcome is
    unfavourable (lending: approving an applicant who defaults; hiring: hiring a candidate who
    does not succeed); ``cost_wrong_unfavorable`` the cost of refusing someone whose true outcome
    is favourable.  Both are finite and positive; only their ratio sets the threshold, and
    ``expected_cost`` is in their unit.
    """

    cost_wrong_favorable: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    cost_wrong_unfavorable: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    threshold: float | None = Field(default=None, gt=0, lt=1)

    @model_validator(mode="after")
    def _thresholds_inside_unit_interval(self) -> DecisionSettings:
        total = self.cost_wrong_favorable + self.cost_wrong_unfavorable
        for threshold in (self.cost_wrong_favorable / total, self.cost_wrong_unfavorable / total):
            if not 0.0 < threshold < 1.0:  # a ratio beyond float precision: one decision for every probability
                raise ValueError(
                    ERR_DECISION_RATIO.format(
                        favourable=self.cost_wrong_favorable, unfavourable=self.cost_wrong_unfavorable
                    )
                )
        return self

    @property
    def refusal_threshold(self) -> float:
        """Probability of the *unfavourable* outcome above which the unfavourable decision is taken.

        ``decision.threshold`` when set; otherwise the Bayes-optimal threshold for the costs:
        refuse when ``q * cost_wrong_favorable > (1 - q) * cost_wrong_unfavorable``, ``q`` the
        probability of the unfavourable outcome, i.e. when
        ``q > cost_wrong_unfavorable / (cost_wrong_favorable + cost_wrong_unfavorable)``.
        """
        if self.threshold is not None:
            return self.threshold
        return self.cost_wrong_unfavorable / (self.cost_wrong_favorable + self.cost_wrong_unfavorable)

    def positive_threshold(self, positive_is_favorable: bool) -> float:
        """``s``: the threshold on the probability of the model's positive class (``dataset.positive_label``).

        The favourable decision is taken when ``p_positive >= s`` if the positive class is
        the favourable outcome, and when ``p_positive <= s`` if it is the unfavourable one
        (a probability exactly at ``s`` costs the same either way and gets the favourable
        decision).  From the costs, each orientation's ``s`` is computed directly, with one
        rounding, from the Bayes rule on the positive class:

        - positive favourable: ``s = cost_wrong_favorable / (cost_wrong_favorable + cost_wrong_unfavorable)``
          (grant when ``p * cost_wrong_unfavorable >= (1 - p) * cost_wrong_favorable``);
        - positive unfavourable: ``s = cost_wrong_unfavorable / (cost_wrong_favorable + cost_wrong_unfavorable)``,
          which is :attr:`refusal_threshold`.

        An explicit ``decision.threshold`` is a threshold on the unfavourable outcome's
        probability, so ``s`` is ``1 - threshold`` when the positive class is favourable.
        """
        if not positive_is_favorable:
            return self.refusal_threshold
        if self.threshold is not None:
            return 1.0 - self.threshold
        return self.cost_wrong_favorable / (self.cost_wrong_favorable + self.cost_wrong_unfavorable)


class BootstrapSettings(_Section):
    """The seeded, paired bootstrap behind every confidence interval (see ``pipelines.model.bootstrap``).

    ``resamples`` Poisson-bootstrap resamples give each metric, and each
    candidate-minus-champion difference, a two-sided percentile interval at
    ``confidence``.  ``workers`` threads share the row-level resamples; the
    intervals do not depend on it.  The gate's verdicts never depend on these
    settings (the point estimates decide; the intervals say how sure that is).
    """

    resamples: int = Field(default=1000, ge=100)
    seed: int = 20240607
    confidence: float = Field(default=0.95, ge=0.5, lt=1)
    workers: int = Field(default=2, ge=1, le=64)


class EvaluationSettings(_Section):
    """How the evaluate stage measures: bootstrap, latency timing, intersectional groups."""

    bootstrap: BootstrapSettings = BootstrapSettings()
    latency_batch_rows: int = Field(default=1000, ge=1)
    latency_batches: int = Field(default=100, ge=1)
    latency_repeats: int = Field(default=3, ge=1)
    intersection: bool = False


class GateSettings(_Section):
    """Absolute thresholds per family and non-regression tolerances."""

    technical: dict[str, Bound] = Field(default_factory=dict)
    business: dict[str, Bound] = Field(default_factory=dict)
    ethical: dict[str, Bound] = Field(default_factory=dict)
    non_regression: dict[str, float] = Field(default_factory=dict)

    @field_validator("non_regression")
    @classmethod
    def _tolerances_non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for key, tolerance in value.items():
            if not math.isfinite(tolerance) or tolerance < 0:
                raise ValueError(f"tolerance of {key} must be a finite number >= 0, found {tolerance!r}")
        return value


class RegistrySettings(_Section):
    """MLflow experiment and registered model names."""

    model_name: str = Field(min_length=1)
    experiment: str = Field(min_length=1)
    champion_alias: str = "champion"


AUDIT_LOG_URL_PATTERN = re.compile(r"^(sqlite|postgresql)(\+\w+)?://")
URL_WITH_PASSWORD_PATTERN = re.compile(r"^[^:/]+://[^/@]*:[^/@]*@")


class AuditLogSettings(_Section):
    """Where the tamper-evident audit log is stored (see ``pipelines.governance.audit_log``).

    ``url`` is a SQLAlchemy URL, ``sqlite:///...`` or ``postgresql://...``;
    null means the embedded default ``sqlite:///<project root>/var/audit/audit.db``,
    and a relative SQLite path is relative to the project root.  The
    environment variable ``FAIRGATE_AUDIT_LOG_URL`` overrides it: production
    sets it to the Postgres URL, so the password lives in the environment and
    never in this file (a URL holding a password is refused here).  The
    section is left out of ``config_hash``: where events are recorded does not
    change what a run decides.
    """

    url: str | None = None

    @field_validator("url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not AUDIT_LOG_URL_PATTERN.match(value):
            raise ValueError("expected null or a SQLAlchemy URL starting with sqlite:// or postgresql://")
        if URL_WITH_PASSWORD_PATTERN.match(value):
            raise ValueError("a password does not belong in fairgate.yaml: use FAIRGATE_AUDIT_LOG_URL")
        return value


class FairgateConfig(_Section):
    """The whole of ``fairgate.yaml``."""

    use_case: str = Field(min_length=1)
    dataset: DatasetSettings
    generator: GeneratorSettings = GeneratorSettings()
    audit: AuditSettings = AuditSettings()
    leakage: LeakageSettings = LeakageSettings()
    split: SplitSettings = SplitSettings()
    training: TrainingSettings = TrainingSettings()
    decision: DecisionSettings = DecisionSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    gate: GateSettings = GateSettings()
    registry: RegistrySettings
    audit_log: AuditLogSettings = AuditLogSettings()
    monitoring: MonitoringSettings = MonitoringSettings()

    def as_dict(self) -> dict[str, Any]:
        """Return the validated configuration as plain JSON-ready data."""
        return self.model_dump(mode="json")

    @property
    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of the validated configuration, without ``audit_log``.

        Where events are recorded, and how the champion is watched once it
        serves (``monitoring``), do not change what a run decides, and
        configurations written before those sections existed keep their hash.
        """
        settings = self.as_dict()
        settings.pop("audit_log", None)
        settings.pop("monitoring", None)
        canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _first_error_line(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"]
    if first["type"] == "missing":
        message = "required key is missing"
    elif first["type"] == "extra_forbidden":
        message = "unknown key"
    return ERR_CONFIG_KEY.format(key=key, problem=message)


def parse_config(raw: dict[str, Any]) -> FairgateConfig:
    """Validate a configuration mapping; raise ``BadInputError`` naming the key.

    Beyond each value's type and range, the gate keeps its protections: see
    :func:`gate_protection_problems`.
    """
    decision = raw.get("decision")
    for old_key, new_key in RENAMED_DECISION_KEYS.items():
        if isinstance(decision, dict) and old_key in decision:
            problem = ERR_DECISION_RENAMED.format(new=f"decision.{new_key}", meaning=DECISION_COSTS[new_key])
            raise BadInputError(ERR_CONFIG_KEY.format(key=f"decision.{old_key}", problem=problem))
    try:
        config = FairgateConfig.model_validate(raw)
    except ValidationError as e:
        raise BadInputError(_first_error_line(e)) from e
    problems = gate_protection_problems(config.gate) + decision_problems(config) + mitigation_problems(config)
    if problems:
        key, problem = problems[0]
        raise BadInputError(ERR_CONFIG_KEY.format(key=key, problem=problem))
    return config


def mitigation_problems(config: FairgateConfig) -> list[tuple[str, str]]:
    """ThresholdOptimizer configured while the sensitive attributes are not model inputs, as ``(key, problem)``.

    fairlearn's ThresholdOptimizer applies a threshold per group, so the served
    model decides with the sensitive attribute: allowed only when the
    configuration says the attribute is an input (``dataset.use_sensitive_as_feature``).
    """
    if config.dataset.use_sensitive_as_feature:
        return []
    mitigation = config.training.mitigation
    problems = []
    if mitigation.method == "threshold_optimizer":
        problems.append(("training.mitigation.method", ERR_THRESHOLD_OPTIMIZER))
    for position, option in enumerate(mitigation.search.options if mitigation.search is not None else []):
        if option.method == "threshold_optimizer":
            problems.append((f"training.mitigation.search.options.{position}.method", ERR_THRESHOLD_OPTIMIZER))
    return problems


def decision_problems(config: FairgateConfig) -> list[tuple[str, str]]:
    """Costs left at the lending defaults while the positive class is the favourable one, as ``(key, problem)``.

    The default cost matrix (5:1) is lending's.  With ``dataset.positive_is_favorable``
    true it would silently mean "grant the favourable outcome only when its probability
    is at least 5/6", so both costs must then be stated in the file.
    """
    if not config.dataset.positive_is_favorable:
        return []
    stated = config.decision.model_fields_set
    return [(f"decision.{key}", ERR_DECISION_COSTS_UNSTATED) for key in DECISION_COSTS if key not in stated]


def gate_protection_problems(gate: GateSettings) -> list[tuple[str, str]]:
    """What in a gate would remove a protection, as ``(dotted key, problem)``, in file order.

    The technical gate and the ethical gate each hold at least one check (an
    ethical bound applies to every sensitive attribute, so each attribute
    keeps one); every key names a gateable metric of its family; every bound
    lies in its metric's range; a non-regression tolerance is no wider than
    its metric's range.  ``min <= max`` is checked with the bound itself.
    """
    problems: list[tuple[str, str]] = []
    why = {
        "technical": "technical or business quality is never left unchecked",
        "ethical": "every sensitive attribute keeps at least one ethical check",
    }
    for family in ("technical", "ethical"):
        if not getattr(gate, family):
            problems.append((f"gate.{family}", ERR_GATE_EMPTY.format(family=family, why=why[family])))
    for family, known in GATE_METRIC_RANGES.items():
        bounds: dict[str, Bound] = getattr(gate, family)
        for name, bound in bounds.items():
            key = f"gate.{family}.{name}"
            if name not in known:
                problems.append((key, ERR_GATE_UNKNOWN.format(known=", ".join(sorted(known)))))
                continue
            low, high = known[name]
            for side, value in (("min", bound.min), ("max", bound.max)):
                if value is None or low <= value <= high:
                    continue
                # a min under the range (a max over it) never fails; a min over it (a max under it) never passes
                never = "fail" if (value < low) == (side == "min") else "pass"
                problem = ERR_BOUND_RANGE.format(side=side, value=value, low=low, high=high, never=never)
                problems.append((f"{key}.{side}", problem))
    qualified = {
        f"{family}.{name}": span for family, names in GATE_METRIC_RANGES.items() for name, span in names.items()
    }
    for metric, tolerance in gate.non_regression.items():
        key = f"gate.non_regression.{metric}"
        if metric not in qualified:
            problems.append((key, ERR_GATE_UNKNOWN.format(known=", ".join(sorted(qualified)))))
            continue
        low, high = qualified[metric]
        if tolerance > high - low:
            problems.append((key, ERR_TOLERANCE_RANGE.format(tolerance=tolerance, low=low, high=high)))
    return problems


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a key given twice in one mapping and every anchor or alias.

    PyYAML keeps the last of two equal keys without a word (a threshold written
    twice silently becomes the second), and aliases let a small file expand
    into a huge one.
    """

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.MarkedYAMLError(problem=ERR_YAML_ALIAS.format(line=event.start_mark.line + 1))
        return super().compose_node(parent, index)

    def compose_mapping_node(self, anchor: str | None) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise yaml.MarkedYAMLError(
                    problem=ERR_DUPLICATE_KEY.format(key=key, first=first_line[key], second=line)
                )
            first_line[key] = line
        return node


# Validated configurations by the SHA-256 of the text they were parsed from.  ``airflow dags test`` runs
# every task of a run in one process and each stage opens the project (about 18 times a run); parsing
# and validating costs about 28 ms a time, a deep copy of the result well under 1 ms.  The file is
# read every time, so an edited file is parsed (and validated) again; a file that fails is never kept.
_PARSED: dict[bytes, FairgateConfig] = {}
_PARSED_KEPT = 8


def load_config(path: Path) -> FairgateConfig:
    """Read and validate ``fairgate.yaml`` (each call returns its own copy)."""
    if not path.is_file():
        raise BadInputError(ERR_CONFIG_MISSING.format(path=path))
    text = path.read_text(encoding="utf-8")
    key = hashlib.sha256(text.encode("utf-8")).digest()
    parsed = _PARSED.get(key)
    if parsed is None:
        parsed = _parse_config_text(text, path)
        while len(_PARSED) >= _PARSED_KEPT:
            del _PARSED[next(iter(_PARSED))]
        _PARSED[key] = parsed
    return parsed.model_copy(deep=True)


def _parse_config_text(text: str, path: Path) -> FairgateConfig:
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as e:
        problem = str(e).strip().splitlines()[0]
        raise BadInputError(ERR_CONFIG_YAML.format(path=path, problem=problem)) from e
    if not isinstance(raw, dict):
        raise BadInputError(ERR_CONFIG_NOT_MAPPING.format(path=path, found=type(raw).__name__))
    return parse_config(raw)


def override_refusals(base: FairgateConfig, overrides: dict[str, Any]) -> list[str]:
    """Why these per-run overrides may not be applied (empty when they may).

    The C07 incident shipped a model by overriding red alerts.  So a run's
    overrides may tighten the gate but never loosen it (a lower ``min``, a
    higher ``max``, a larger non-regression tolerance), and may not touch the
    data contract, the audit, the leakage checks or the registry at all.
    """
    refusals = [
        ERR_OVERRIDE_GOVERNED.format(key=key, section=key.split(".")[0])
        for key in overrides
        if key.split(".")[0] in GOVERNED_SECTIONS
    ]
    effective = apply_overrides(base, overrides)
    refusals += [
        ERR_OVERRIDE_LOOSENS.format(key=key, before=before, after=after)
        for key, before, after in loosened_thresholds(base.gate, effective.gate)
    ]
    return refusals


def loosened_thresholds(before: GateSettings, after: GateSettings) -> list[tuple[str, float, float | None]]:
    """Every threshold of ``before`` that ``after`` loosens: ``(dotted key, before, after)``, None when removed.

    Looser is a lower ``min``, a higher ``max``, a larger non-regression
    tolerance, or a bound or tolerance that is gone.  A new or tighter check is
    not listed.
    """
    loosened: list[tuple[str, float, float | None]] = []
    for family in ("technical", "business", "ethical"):
        before_bounds: dict[str, Bound] = getattr(before, family)
        after_bounds: dict[str, Bound] = getattr(after, family)
        for metric, old_bound in before_bounds.items():
            new_bound = after_bounds.get(metric)
            for side, looser in (("min", lambda a, b: a < b), ("max", lambda a, b: a > b)):
                old, new = getattr(old_bound, side), None if new_bound is None else getattr(new_bound, side)
                if old is not None and (new is None or looser(new, old)):
                    loosened.append((f"gate.{family}.{metric}.{side}", old, new))
    for metric, old_tolerance in before.non_regression.items():
        new_tolerance = after.non_regression.get(metric)
        if new_tolerance is None or new_tolerance > old_tolerance:
            loosened.append((f"gate.non_regression.{metric}", old_tolerance, new_tolerance))
    return loosened


def apply_overrides(config: FairgateConfig, overrides: dict[str, Any]) -> FairgateConfig:
    """Return a new configuration with dotted-key overrides applied and validated."""
    raw = copy.deepcopy(config.as_dict())
    for dotted_key, value in overrides.items():
        section_name, _, key = dotted_key.partition(".")
        renamed = RENAMED_DECISION_KEYS.get(key) if section_name == "decision" else None
        if renamed is not None:
            problem = ERR_DECISION_RENAMED.format(new=f"decision.{renamed}", meaning=DECISION_COSTS[renamed])
            raise BadInputError(ERR_OVERRIDE_RENAMED.format(key=dotted_key, problem=problem))
        section: Any = raw
        parts = dotted_key.split(".")
        for part in parts[:-1]:
            if not isinstance(section, dict) or part not in section:
                raise BadInputError(ERR_OVERRIDE_KEY.format(key=dotted_key))
            section = section[part]
        if not isinstance(section, dict) or parts[-1] not in section:
            raise BadInputError(ERR_OVERRIDE_KEY.format(key=dotted_key))
        section[parts[-1]] = value
    return parse_config(raw)
