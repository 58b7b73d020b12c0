"""Gate-aware mitigation search: fit each listed option, keep the best one that passes the gate.

``training.mitigation.search`` lists options (no mitigation, reweighing, the
exponentiated-gradient reduction under a constraint at a bound, and, when the
sensitive attributes are model inputs, fairlearn's ThresholdOptimizer under a
constraint).  The search:

1. carves a **validation split** out of the training window with the
   holdout's own rule (:func:`pipelines.data.split.holdout_mask`): with a time
   column the latest ``validation_fraction`` of the window, every fitting row
   strictly earlier; without one a seeded split stratified on the target
   (seed ``split.seed``).  The holdout the gate uses is not an input here:
   the search only ever sees the training window.
2. fits every option on the rest of the window with the pipeline's own
   training code (:func:`pipelines.model.train.train_model`: same estimator,
   exact class weights, the reduction at the decision threshold);
3. scores each on the validation split with the evaluation the gate reads
   (:func:`pipelines.model.evaluate.evaluate_model`) and applies the gate's
   own :func:`pipelines.governance.gate.decide` with the **absolute**
   thresholds only.  Non-regression against the champion is left to the gate
   on the holdout: the champion was trained on earlier windows that overlap
   this one, so its score on these validation rows would flatter it;
4. keeps, among the options that pass every check there, the one with the
   lowest ``business.expected_cost``, then the highest ``technical.roc_auc``,
   then the first listed.  When none passes, it keeps the one that fails the
   fewest checks (same tie-breaks) so that the run still produces a candidate
   for the gate to judge and explain, and says which ethical checks no option
   met together (:func:`explain_conflict`).

The train stage then refits the chosen option on the whole training window
and it goes through evaluate and the gate on the holdout like any candidate.
Everything is seeded (split seed, estimator seed, bootstrap seed): the same
data and configuration give the same choice and the same metrics (latency
aside, which is measured).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.config import (
    FairgateConfig,
    MitigationOption,
    MitigationSettings,
    SplitSettings,
    TrainingSettings,
)
from pipelines.core.errors import BadInputError
from pipelines.core.small_groups import merge_small_groups
from pipelines.data.split import holdout_mask
from pipelines.governance.gate import decide
from pipelines.model.evaluate import evaluate_model
from pipelines.model.metrics import ETHICAL_METRICS
from pipelines.model.train import TrainedModel, train_model

logger = logging.getLogger(__name__)

ERR_NO_SEARCH = "training.mitigation.search is not set: there are no options to search"
ERR_VALIDATION_CLASSES = (
    "training.mitigation.search.validation_fraction: the validation split ({rows} rows) holds only "
    "{classes}: both classes are needed to score the options"
)
RANKING = "lowest business.expected_cost, then highest technical.roc_auc, then the first listed"
NOTE_NO_CHAMPION_CHECKS = (
    "absolute thresholds only: non-regression against the champion is checked by the gate on the holdout"
)


@dataclass
class OptionOutcome:
    """One option fitted on the fitting rows and judged on the validation split."""

    label: str
    option: dict[str, Any]
    passed: bool
    technical_passed: bool
    ethical_passed: bool
    failed_checks: list[str]
    passed_checks: list[str]
    reasons: list[str]
    metrics: dict[str, float | None]


@dataclass
class SearchResult:
    """Every option tried, the one kept, and the facts a reviewer needs to read the choice."""

    options: list[OptionOutcome]
    chosen: int
    any_passed: bool
    ranking: str
    validation: dict[str, Any]
    base_rates: dict[str, dict[str, dict[str, Any]]]
    base_rate_of: str = ""
    conflict: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    validation_positions: list[int] = field(default_factory=list)

    @property
    def chosen_option(self) -> OptionOutcome:
        """The option the train stage refits on the whole training window."""
        return self.options[self.chosen]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready result (the validation rows' positions are left out; ``validation`` counts them)."""
        data = asdict(self)
        del data["validation_positions"]
        data["chosen_label"] = self.chosen_option.label
        return data


def option_settings(option: MitigationOption, base: MitigationSettings) -> MitigationSettings:
    """The ``training.mitigation`` settings of one option (the base's ``max_iter``, no search)."""
    # only the option's own keys: threshold_optimizer has no bound and refuses one stated
    stated = option.model_dump(include={"method", "constraint", "difference_bound"} & option.model_fields_set)
    return MitigationSettings(**{**stated, "constraint": option.constraint}, max_iter=base.max_iter)


def validation_mask(train: pd.DataFrame, config: FairgateConfig) -> np.ndarray:
    """The validation rows of the training window: the holdout's rule at ``validation_fraction``."""
    search = config.training.mitigation.search
    if search is None:
        raise BadInputError(ERR_NO_SEARCH)
    split = SplitSettings(test_fraction=search.validation_fraction, seed=config.split.seed)
    return holdout_mask(train, config.dataset, split)


def base_rates(frame: pd.DataFrame, config: FairgateConfig) -> dict[str, dict[str, dict[str, Any]]]:
    """Per sensitive attribute and group: rows and the share of ``dataset.positive_label`` (full precision).

    Groups are those the gate measures: merged as ``dataset.small_groups`` declares.
    """
    dataset = config.dataset
    positive = (frame[dataset.target] == dataset.positive_label).to_numpy()
    sensitive = merge_small_groups(frame[dataset.sensitive], dataset.small_groups)
    rates: dict[str, dict[str, dict[str, Any]]] = {}
    for attribute in dataset.sensitive:
        groups = sensitive[attribute].astype(str).to_numpy()
        rates[attribute] = {
            str(group): {"rows": int((groups == group).sum()), "base_rate": float(positive[groups == group].mean())}
            for group in sorted(set(groups.tolist()))
        }
    return rates


def _overall_metrics(result: dict[str, Any]) -> dict[str, float | None]:
    """The model-level numbers of an evaluation result, dotted as the gate names them."""
    metrics: dict[str, float | None] = {}
    for name, value in result["technical"].items():
        metrics[f"technical.{name}"] = value
    for name, value in result["business"].items():
        if name != "by_group":
            metrics[f"business.{name}"] = value
    for attribute, section in result["ethical"].items():
        for name in ETHICAL_METRICS:
            metrics[f"ethical.{attribute}.{name}"] = section.get(name)
        for group, rates in section["by_group"].items():
            metrics[f"ethical.{attribute}.{group}.selection_rate"] = rates.get("selection_rate")
    return metrics


def _check_name(metric: str, bound: str, limit: float) -> str:
    """A check named by its metric and limit, e.g. ``ethical.sex.equalized_odds_difference <= 0.1``."""
    return f"{metric} {'>=' if bound == 'min' else '<='} {limit!r}"


def _rank(outcome: OptionOutcome, position: int) -> tuple[float, float, int]:
    """Sort key: lower expected cost, higher ROC AUC, earlier in the list (undefined values last)."""
    cost = outcome.metrics.get("business.expected_cost")
    auc = outcome.metrics.get("technical.roc_auc")
    return (
        float("inf") if cost is None else float(cost),
        float("inf") if auc is None else -float(auc),
        position,
    )


def choose(outcomes: list[OptionOutcome]) -> int:
    """The kept option: the best-ranked passing one, or (none passing) the one failing fewest checks."""
    passing = [i for i, outcome in enumerate(outcomes) if outcome.passed]
    if passing:
        return min(passing, key=lambda i: _rank(outcomes[i], i))
    return min(range(len(outcomes)), key=lambda i: (len(outcomes[i].failed_checks), *_rank(outcomes[i], i)))


def explain_conflict(outcomes: list[OptionOutcome]) -> dict[str, Any]:
    """Which ethical checks no option met together, from the options' own verdicts.

    Returns
    -------
    dict
        ``pairs``: ``[a, b, options meeting a, options meeting b]`` for every two
        ethical checks that some option meets separately and none together;
        ``never_met``: ethical checks no option meets; ``technical_only``:
        options that met every ethical check but failed a technical or business one;
        ``per_option``: each option's failed checks.
    """
    ethical = sorted(
        {name for outcome in outcomes for name in outcome.failed_checks + outcome.passed_checks
         if name.startswith("ethical.")}
    )
    meeting = {name: [o.label for o in outcomes if name in o.passed_checks] for name in ethical}
    pairs = []
    for i, first in enumerate(ethical):
        for second in ethical[i + 1 :]:
            if meeting[first] and meeting[second] and not set(meeting[first]) & set(meeting[second]):
                pairs.append([first, second, meeting[first], meeting[second]])
    return {
        "pairs": pairs,
        "never_met": [name for name in ethical if not meeting[name]],
        "technical_only": [o.label for o in outcomes if o.ethical_passed and not o.technical_passed],
        "per_option": {o.label: o.failed_checks for o in outcomes},
    }


def search_mitigation(
    train: pd.DataFrame, features: list[str], config: FairgateConfig, classes: list[Any] | None = None
) -> SearchResult:
    """Fit every option of ``training.mitigation.search`` and keep the best one the gate passes.

    Parameters
    ----------
    train : pandas.DataFrame
        The training window (never the holdout): the validation split is carved from it.
    features : list of str
        The model's feature columns.
    config : FairgateConfig
        Its ``training.mitigation.search`` lists the options; dataset, decision,
        evaluation and gate settings are those of the run.
    classes : list, optional
        The classes every option must learn (as in :func:`pipelines.model.train.train_model`).

    Returns
    -------
    SearchResult
        Every option with its validation metrics and gate verdict, the kept one,
        the split, each group's base rate and, when none passed, the conflict.

    Raises
    ------
    BadInputError
        No search configured, a validation split with a single class, or an
        option the training code refuses (its message names the method).
    """
    search = config.training.mitigation.search
    if search is None:
        raise BadInputError(ERR_NO_SEARCH)
    dataset = config.dataset
    frame = train.reset_index(drop=True)
    mask = validation_mask(frame, config)
    fitting, validation = frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)
    labels = sorted(set(validation[dataset.target].dropna().tolist()), key=str)
    if len(labels) < 2:
        raise BadInputError(ERR_VALIDATION_CLASSES.format(rows=len(validation), classes=labels))
    outcomes: list[OptionOutcome] = []
    for option in search.options:
        training = config.training.model_copy(
            update={"mitigation": option_settings(option, config.training.mitigation)}
        )
        trained = train_model(fitting, features, dataset, training, classes, config.decision, with_unmitigated=False)
        result = evaluate_model(
            trained.model,
            validation[features],
            validation[dataset.target],
            validation[dataset.sensitive],
            dataset,
            config.decision,
            config.evaluation,
        )
        decision = decide(result, None, config.gate)
        outcome = OptionOutcome(
            label=option.label,
            option=option.model_dump(mode="json"),
            passed=decision.passed,
            technical_passed=decision.technical_passed,
            ethical_passed=decision.ethical_passed,
            failed_checks=[_check_name(c.metric, c.bound, c.limit) for c in decision.checks if not c.passed],
            passed_checks=[_check_name(c.metric, c.bound, c.limit) for c in decision.checks if c.passed],
            reasons=decision.reasons(),
            metrics=_overall_metrics(result),
        )
        logger.info(
            "mitigation search: %s %s on %d validation rows", outcome.label,
            "passed" if outcome.passed else f"failed {len(outcome.failed_checks)} check(s)", len(validation),
        )
        outcomes.append(outcome)
    chosen = choose(outcomes)
    any_passed = any(outcome.passed for outcome in outcomes)
    how = (
        f"out-of-time on {dataset.time_column!r}: the latest {search.validation_fraction!r} of the training window"
        if dataset.time_column is not None
        else f"seeded ({config.split.seed}) split stratified on {dataset.target!r}: "
        f"{search.validation_fraction!r} of the training window"
    )
    validation_facts: dict[str, Any] = {"rows": int(mask.sum()), "fitting_rows": int((~mask).sum()), "how": how}
    if dataset.time_column is not None:
        times = pd.to_datetime(frame[dataset.time_column])
        validation_facts["fitting_until"] = str(times[~mask].max())
        validation_facts["validation_from"] = str(times[mask].min())
    return SearchResult(
        options=outcomes,
        chosen=chosen,
        any_passed=any_passed,
        ranking=RANKING,
        validation=validation_facts,
        base_rates=base_rates(frame, config),
        base_rate_of=f"{dataset.target} = {dataset.positive_label!r}",
        conflict=None if any_passed else explain_conflict(outcomes),
        notes=[NOTE_NO_CHAMPION_CHECKS],
        validation_positions=np.flatnonzero(mask).tolist(),
    )


def train_with_search(
    train: pd.DataFrame, features: list[str], config: FairgateConfig, classes: list[Any] | None = None
) -> tuple[TrainedModel, TrainingSettings, SearchResult | None]:
    """Train the candidate on the whole training window, with the search's kept option when there is a search.

    Without ``training.mitigation.search`` this is exactly
    :func:`pipelines.model.train.train_model` with ``training.mitigation``.  With
    it, :func:`search_mitigation` chooses on a validation split and the chosen
    option is refitted on every row of ``train`` (the validation rows included).

    Returns
    -------
    tuple
        The trained model, the training settings it was fitted with, and the search (or None).
    """
    training = config.training
    searched = None
    if training.mitigation.search is not None:
        searched = search_mitigation(train, features, config, classes)
        chosen = training.mitigation.search.options[searched.chosen]
        training = training.model_copy(update={"mitigation": option_settings(chosen, training.mitigation)})
    trained = train_model(train, features, config.dataset, training, classes, config.decision)
    if searched is not None:
        trained.fingerprint["mitigation"]["search"] = {
            "kept": searched.chosen_option.label,
            "passed_on_validation": searched.chosen_option.passed,
            "options": len(searched.options),
            "validation_rows": searched.validation["rows"],
        }
    return trained, training, searched
