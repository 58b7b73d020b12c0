"""Fairness mitigation: fairlearn's exponentiated gradient and ThresholdOptimizer at the pipeline's threshold.

:class:`ExponentiatedGradientClassifier` is the last step of the trained
pipeline when ``training.mitigation.method`` is ``exponentiated_gradient``;
:class:`ThresholdOptimizerClassifier` is the whole model when it is
``threshold_optimizer`` (see its docstring: it decides with the sensitive
attribute, so it is only allowed when that attribute is a model input).

Why it is built this way:

* **The constraint holds where decisions are made.**  fairlearn's reduction
  constrains the hard decisions of its classifiers, which predict the
  positive class when their weighted probability reaches one half.  The
  pipeline decides at ``s`` instead (the threshold on the positive class's
  probability that the cost matrix gives, ``DecisionSettings.positive_threshold``).
  The objective is therefore the cost-weighted error
  ``ErrorRate(costs={"fn": w1 * (1 - s), "fp": w0 * s})``: a classifier of
  the reduction predicts positive exactly where the class-weighted
  probability reaches ``s``, so the constraint is enforced on the decisions
  the pipeline will take (w0, w1 are the exact class weights).
* **One deterministic score.**  The reduction returns a randomised mixture of
  classifiers.  The model's ``predict_proba`` is the mixture's weighted mean
  probability ``q``, moved back to the pipeline's scale by
  ``logit(p) = logit(q) + logit(s)``; ``p >= s`` exactly when ``q >= 1/2``.
  ROC AUC, log loss and the Brier score are computed on ``p``; the same input
  always gets the same score and the same decision.
* **Class weights are checked like everywhere else.**  ``fit`` receives the
  per-row ``sample_weight`` of :mod:`pipelines.model.weights` (recorded and compared
  with the 50-digit reference by the train stage) and takes each class's
  weight from it; weights that differ within a class are refused.
* **Self-contained at prediction time.**  The fitted object keeps only the
  mixture's scikit-learn classifiers and weights; ``predict_proba`` needs
  numpy, scipy and scikit-learn, never fairlearn, never a sensitive column,
  and this module imports nothing from fairgate, so the logged model carries
  the class by value (see ``pipelines.flows.retrain.logged_model.log_sklearn_model``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin, clone

CONSTRAINTS = ("demographic_parity", "equalized_odds")


class ExponentiatedGradientClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """fairlearn's ``ExponentiatedGradient`` as a deterministic scikit-learn classifier.

    Parameters
    ----------
    estimator : scikit-learn classifier
        The base classifier; it must accept ``sample_weight`` in ``fit``.
    constraint : {"demographic_parity", "equalized_odds"}
        The fairness constraint of the reduction.
    difference_bound : float
        The constraint's bound, also the reduction's allowed violation ``eps``.
    max_iter : int
        Iterations of the reduction.
    positive_threshold : float
        ``s``: the pipeline decides for the positive class when its probability reaches it.
    positive_label : object
        The label of the positive class.
    """

    def __init__(
        self,
        estimator: Any = None,
        constraint: str = "demographic_parity",
        difference_bound: float = 0.01,
        max_iter: int = 50,
        positive_threshold: float = 0.5,
        positive_label: Any = 1,
    ) -> None:
        self.estimator = estimator
        self.constraint = constraint
        self.difference_bound = difference_bound
        self.max_iter = max_iter
        self.positive_threshold = positive_threshold
        self.positive_label = positive_label

    def fit(
        self, X: Any, y: Any, sample_weight: Any = None, sensitive_features: Any = None
    ) -> ExponentiatedGradientClassifier:
        """Run the reduction on ``X`` with the sensitive columns; keep its mixture.

        Raises
        ------
        ValueError
            Not two classes, the positive label absent, no sensitive features,
            weights that differ within a class, an unknown constraint or a
            threshold outside (0, 1).
        """
        # lazy: fitting needs fairlearn; the fitted model, pickled by value, must load and predict without it
        from fairlearn.reductions import DemographicParity, EqualizedOdds, ErrorRate, ExponentiatedGradient

        if sensitive_features is None:
            raise ValueError("exponentiated gradient needs the sensitive columns to fit")
        self.classes_, self.class_weights_, self.costs_, _ = _decision_costs(
            "exponentiated gradient", self.constraint, self.positive_threshold, self.positive_label, y, sample_weight
        )
        is_positive = np.asarray(y) == self.positive_label
        moment = DemographicParity if self.constraint == "demographic_parity" else EqualizedOdds
        reduction = ExponentiatedGradient(
            clone(self.estimator),
            moment(difference_bound=self.difference_bound),
            objective=ErrorRate(costs=self.costs_),
            eps=self.difference_bound,
            max_iter=self.max_iter,
        )
        reduction.fit(X, is_positive.astype(np.int64), sensitive_features=sensitive_features)
        mixture = zip(np.asarray(reduction.weights_, dtype=np.float64), list(reduction.predictors_), strict=True)
        kept = [(w, p) for w, p in mixture if w > 0]
        self.mixture_weights_ = np.array([w for w, _ in kept], dtype=np.float64)
        self.predictors_ = [p for _, p in kept]
        self.iterations_ = int(reduction.n_oracle_calls_)
        self.n_features_in_ = int(np.shape(X)[1])
        return self

    def mixture_probability(self, X: Any) -> np.ndarray:
        """``q``: the mixture's weighted mean probability of the positive class (1/2 is its decision point)."""
        q = np.zeros(np.shape(X)[0], dtype=np.float64)
        for weight, predictor in zip(self.mixture_weights_, self.predictors_, strict=True):
            known = list(predictor.classes_)
            # the reduction uses a constant classifier when its relabelled rows hold a single class
            if 1 in known:
                q += weight * predictor.predict_proba(X)[:, known.index(1)]
        return np.clip(q, 0.0, 1.0)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Columns in ``classes_`` order; the positive one is ``expit(logit(q) + logit(s))``."""
        with np.errstate(divide="ignore"):
            p = expit(logit(self.mixture_probability(X)) + logit(float(self.positive_threshold)))
        positive_column = list(self.classes_).index(self.positive_label)
        proba = np.empty((len(p), 2), dtype=np.float64)
        proba[:, positive_column] = p
        proba[:, 1 - positive_column] = 1.0 - p
        return proba

    def predict(self, X: Any) -> np.ndarray:
        """The positive class where the probability reaches ``positive_threshold``, else the other."""
        p = self.predict_proba(X)[:, list(self.classes_).index(self.positive_label)]
        negative = self.classes_[self.classes_ != self.positive_label][0]
        return np.where(p >= float(self.positive_threshold), self.positive_label, negative)


def _one_weight(weights: np.ndarray, which: str, method: str) -> float:
    """The single weight of one class's rows (weights that vary within a class cannot be costs)."""
    distinct = np.unique(weights)
    if len(distinct) != 1:
        raise ValueError(
            f"{method} takes one weight per class: the {which} class has {len(distinct)} "
            f"different row weights (reweighing and {method} do not combine)"
        )
    return float(distinct[0])

def _decision_costs(
    method: str, constraint: str, positive_threshold: float, positive_label: Any, y: Any, sample_weight: Any
) -> tuple[np.ndarray, dict[str, float], dict[str, float], np.ndarray]:
    """Validate a mitigation's inputs; return its classes, class weights, error costs and row weights.

    A false negative costs the positive class's weight times ``1 - s``, a false
    positive the negative class's weight times ``s`` (``s`` the threshold on the
    positive class's probability): minimising that cost decides at ``s`` on the
    class-weighted data, as the unmitigated pipeline does.
    """
    if constraint not in CONSTRAINTS:
        raise ValueError(f"unknown constraint {constraint!r}: expected one of {CONSTRAINTS}")
    s = float(positive_threshold)
    if not 0.0 < s < 1.0:
        raise ValueError(f"positive_threshold must be in (0, 1), found {s!r}")
    labels = np.asarray(y)
    classes = np.unique(labels)
    if len(classes) != 2 or positive_label not in set(classes.tolist()):
        raise ValueError(f"{method} needs two classes including {positive_label!r}, found {classes.tolist()}")
    is_positive = labels == positive_label
    weights = np.ones(len(labels)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    class_weights = {
        "positive": _one_weight(weights[is_positive], "positive", method),
        "negative": _one_weight(weights[~is_positive], "negative", method),
    }
    costs = {"fn": class_weights["positive"] * (1.0 - s), "fp": class_weights["negative"] * s}
    return classes, class_weights, costs, weights



# --------------------------------------------------------------------------- ThresholdOptimizer

COST_OBJECTIVE = "fairgate_cost_weighted_error"
"""The objective registered with fairlearn while a :class:`ThresholdOptimizerClassifier` fits."""

ERR_SENSITIVE_NOT_INPUT = (
    "threshold_optimizer decides with the sensitive column(s) {missing}, which are not among the model's "
    "input columns (set dataset.use_sensitive_as_feature: true and keep them in dataset.features)"
)
ERR_UNKNOWN_GROUP = "threshold_optimizer has no threshold for the group(s) {groups} of {columns}: not seen in training"
_DRAW_BITS = 53  # a float64 in (0, 1) from the top 53 bits of a 64-bit hash


@contextmanager
def _cost_objective(costs: dict[str, float]) -> Iterator[str]:
    """Let fairlearn's ThresholdOptimizer maximise ``(costs["fn"]·TP − costs["fp"]·FP) / n`` while fitting.

    fairlearn offers accuracy-like objectives on unweighted counts only.  The
    cost-weighted error ``costs["fn"]·FN + costs["fp"]·FP`` is minimised where
    ``costs["fn"]·TP − costs["fp"]·FP`` is maximised (FN = positives − TP):
    a function of the confusion counts, increasing in TP at fixed FP, so it
    meets fairlearn's conditions for every constraint, equalized odds included.
    It is registered in fairlearn's metric table for the duration of the fit
    only (fairlearn's private table, pinned by the lock file; the tests compare
    it with ``accuracy_score`` at equal costs).
    """
    from fairlearn.postprocessing import _threshold_optimizer as optimizer_module
    from fairlearn.postprocessing import _tradeoff_curve_utilities as curves

    def objective(counts: Any) -> Any:
        return (costs["fn"] * counts.true_positives - costs["fp"] * counts.false_positives) / counts.n

    curves.METRIC_DICT[COST_OBJECTIVE] = objective
    optimizer_module.OBJECTIVES_FOR_SIMPLE_CONSTRAINTS.add(COST_OBJECTIVE)
    optimizer_module.OBJECTIVES_FOR_EQUALIZED_ODDS.add(COST_OBJECTIVE)
    try:
        yield COST_OBJECTIVE
    finally:
        del curves.METRIC_DICT[COST_OBJECTIVE]
        optimizer_module.OBJECTIVES_FOR_SIMPLE_CONSTRAINTS.discard(COST_OBJECTIVE)
        optimizer_module.OBJECTIVES_FOR_EQUALIZED_ODDS.discard(COST_OBJECTIVE)


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser: spreads every bit of a uint64 over all 64 (wrapping arithmetic)."""
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


class ThresholdOptimizerClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """fairlearn's ``ThresholdOptimizer`` on the pipeline's own estimator, served as a seeded scikit-learn classifier.

    It takes the raw input rows (the sensitive columns among them) and decides
    per group, so it exists only where the sensitive attribute is a model input
    (``dataset.use_sensitive_as_feature``; the configuration refuses it otherwise).

    * **Fitting.**  ``ThresholdOptimizer(prefit=False, predict_method="predict_proba", flip=False)``
      fits a clone of ``estimator`` (preprocessing and the class-weighted
      classifier) with the pipeline's ``sample_weight``, then chooses per-group
      thresholds on its probability ``q`` that maximise the cost-weighted
      objective of :func:`_cost_objective` with the costs
      ``fn = w1·(1 − s)``, ``fp = w0·s`` (the exact class weights, ``s`` the
      decision threshold): the same objective as the exponentiated gradient's,
      whose unconstrained optimum is the pipeline's own decision ``q >= s``.
      ``flip=False`` keeps every group's decision increasing in ``q``.
    * **Seeded decisions.**  fairlearn's thresholder is randomised: row ``i``
      is positive with probability ``π_i`` (fairlearn's ``_pmf_predict``).
      The draw here is ``u_i``, a uniform number from a hash of the row's
      values and ``seed``; the decision is ``π_i >= u_i`` (fairlearn's own
      rule).  The same application gets the same decision in any batch, and
      the decisions are distributed as ``ThresholdOptimizer.predict``'s.
    * **Served through ``predict_proba``.**  The positive column is ``q``,
      moved to just past ``s`` on the decided side where the group threshold
      overrides the plain decision, so ``p >= s`` (and ``p > s``) exactly
      where the decision is positive: ``approve_decisions`` reproduces it.
    * **Self-contained at prediction time.**  The fitted object keeps the
      fitted estimator and each group's thresholds as plain numbers; it needs
      numpy, pandas and scikit-learn to predict, never fairlearn.

    Parameters
    ----------
    estimator : scikit-learn pipeline
        Preprocessing and classifier; ``fit`` must take ``estimator__sample_weight``.
    constraint : {"demographic_parity", "equalized_odds"}
        fairlearn's constraint.
    sensitive_columns : list of str
        The input columns whose values (joined) make the groups.
    merged_groups : dict, optional
        ``{column: {group: merged into}}``: the small groups ``dataset.small_groups``
        merges, by name (``str`` of the value), as everywhere groups are formed.
    positive_threshold : float
        ``s``: the pipeline decides for the positive class when its probability reaches it.
    positive_label : object
        The label of the positive class.
    seed : int
        Seed of the per-row draws.
    """

    def __init__(
        self,
        estimator: Any = None,
        constraint: str = "demographic_parity",
        sensitive_columns: list[str] | None = None,
        positive_threshold: float = 0.5,
        positive_label: Any = 1,
        seed: int = 0,
        merged_groups: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.estimator = estimator
        self.constraint = constraint
        self.sensitive_columns = sensitive_columns
        self.merged_groups = merged_groups
        self.positive_threshold = positive_threshold
        self.positive_label = positive_label
        self.seed = seed

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> ThresholdOptimizerClassifier:
        """Fit the estimator and choose each group's thresholds; keep them as plain numbers.

        Raises
        ------
        ValueError
            Not two classes, the positive label absent, sensitive columns not in
            ``X``, weights that differ within a class, an unknown constraint or a
            threshold outside (0, 1).
        """
        # lazy: fitting needs fairlearn; the fitted model, pickled by value, must load and predict without it
        from fairlearn.postprocessing import ThresholdOptimizer

        self.classes_, self.class_weights_, self.costs_, weights = _decision_costs(
            "threshold_optimizer", self.constraint, self.positive_threshold, self.positive_label, y, sample_weight
        )
        is_positive = np.asarray(y) == self.positive_label
        groups = self.groups(X)
        fit_params = {} if sample_weight is None else {"estimator__sample_weight": weights}
        with _cost_objective(self.costs_) as objective:
            optimizer = ThresholdOptimizer(
                estimator=clone(self.estimator),
                constraints=self.constraint,
                objective=objective,
                flip=False,
                prefit=False,
                predict_method="predict_proba",
            )
            optimizer.fit(X, is_positive.astype(np.int64), sensitive_features=groups, **fit_params)
        self.estimator_ = optimizer.estimator_
        rules = optimizer.interpolated_thresholder_.interpolation_dict
        self.group_rules_ = {str(group): _plain_rule(rule) for group, rule in rules.items()}
        self.columns_ = list(X.columns)
        self.n_features_in_ = len(self.columns_)
        return self

    def groups(self, X: Any) -> pd.Series:
        """Each row's group: the sensitive columns' values as text (small groups merged), joined by ``" | "``."""
        columns = list(self.sensitive_columns or [])
        present = set(X.columns) if isinstance(X, pd.DataFrame) else set()
        missing = [c for c in columns if c not in present]
        if not columns or missing:
            raise ValueError(ERR_SENSITIVE_NOT_INPUT.format(missing=missing or columns))
        text = X[columns].astype(str)
        for column, into in (self.merged_groups or {}).items():
            if column in columns:
                text[column] = text[column].map(lambda name, into=into: into.get(name, name))
        joined = text[columns[0]] if len(columns) == 1 else text.agg(" | ".join, axis=1)
        return joined.reset_index(drop=True).rename("group")

    def estimator_probability(self, X: Any) -> np.ndarray:
        """``q``: the fitted estimator's probability of the positive class."""
        known = list(self.estimator_.classes_)
        return np.asarray(self.estimator_.predict_proba(X)[:, known.index(1)], dtype=np.float64)

    def positive_decision_probability(self, X: Any) -> np.ndarray:
        """``π``: each row's probability of a positive decision under its group's thresholds (fairlearn's pmf)."""
        q = self.estimator_probability(X)
        groups = self.groups(X).to_numpy()
        unknown = sorted(set(groups.tolist()) - set(self.group_rules_))
        if unknown:
            raise ValueError(ERR_UNKNOWN_GROUP.format(groups=unknown, columns=self.sensitive_columns))
        pi = np.zeros(len(q), dtype=np.float64)
        for group, rule in self.group_rules_.items():
            rows = groups == group
            first = rule["p0"] * _threshold(q[rows], rule["operator0"], rule["threshold0"])
            chance = first + rule["p1"] * _threshold(q[rows], rule["operator1"], rule["threshold1"])
            if rule["p_ignore"] is not None:
                chance = rule["p_ignore"] * rule["prediction_constant"] + (1.0 - rule["p_ignore"]) * chance
            pi[rows] = chance
        return pi

    def draws(self, X: Any) -> np.ndarray:
        """``u``: one uniform number in (0, 1) per row, from the row's values and ``seed`` only."""
        hashed = pd.util.hash_pandas_object(X[self.columns_], index=False).to_numpy(dtype=np.uint64)
        seed_hash = int.from_bytes(hashlib.sha256(f"threshold_optimizer:{self.seed}".encode()).digest()[:8], "big")
        mixed = _splitmix64(hashed ^ np.uint64(seed_hash))
        return ((mixed >> np.uint64(64 - _DRAW_BITS)).astype(np.float64) + 0.5) / float(2**_DRAW_BITS)

    def decide_positive(self, X: Any) -> np.ndarray:
        """The seeded decisions: True where ``π >= u`` (fairlearn's rule with a per-row draw)."""
        return np.asarray(self.positive_decision_probability(X) >= self.draws(X), dtype=bool)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Columns in ``classes_`` order; positive: ``q``, moved past ``s`` where the group's rule decides otherwise."""
        s = float(self.positive_threshold)
        q = self.estimator_probability(X)
        positive = self.decide_positive(X)
        p = np.where(positive, np.maximum(q, np.nextafter(s, 1.0)), np.minimum(q, np.nextafter(s, 0.0)))
        positive_column = list(self.classes_).index(self.positive_label)
        proba = np.empty((len(p), 2), dtype=np.float64)
        proba[:, positive_column] = p
        proba[:, 1 - positive_column] = 1.0 - p
        return proba

    def predict(self, X: Any) -> np.ndarray:
        """The positive class where the seeded decision is positive, else the other."""
        negative = self.classes_[self.classes_ != self.positive_label][0]
        return np.where(self.decide_positive(X), self.positive_label, negative)


def _threshold(q: np.ndarray, operator: str, threshold: float) -> np.ndarray:
    """The rule of fairlearn's ``ThresholdOperation``: ``q > t`` or ``q < t``, as 0/1."""
    return np.asarray(q > threshold if operator == ">" else q < threshold, dtype=np.float64)


def _plain_rule(rule: Any) -> dict[str, Any]:
    """One group's interpolation as plain numbers (no fairlearn object in the fitted model)."""
    return {
        "p0": float(rule.p0),
        "operator0": str(rule.operation0.operator),
        "threshold0": float(rule.operation0.threshold),
        "p1": float(rule.p1),
        "operator1": str(rule.operation1.operator),
        "threshold1": float(rule.operation1.threshold),
        "p_ignore": float(rule.p_ignore) if "p_ignore" in rule else None,
        "prediction_constant": float(rule.prediction_constant) if "prediction_constant" in rule else None,
    }
