"""Fairness mitigation in training: fairlearn's exponentiated gradient at the pipeline's own threshold.

:class:`ExponentiatedGradientClassifier` is the last step of the trained
pipeline when ``training.mitigation.method`` is ``exponentiated_gradient``.

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
  the class by value (see ``pipelines.flows.retrain.model_stages._log_sklearn_model``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
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

        if self.constraint not in CONSTRAINTS:
            raise ValueError(f"unknown constraint {self.constraint!r}: expected one of {CONSTRAINTS}")
        s = float(self.positive_threshold)
        if not 0.0 < s < 1.0:
            raise ValueError(f"positive_threshold must be in (0, 1), found {s!r}")
        if sensitive_features is None:
            raise ValueError("exponentiated gradient needs the sensitive columns to fit")
        labels = np.asarray(y)
        self.classes_ = np.unique(labels)
        if len(self.classes_) != 2 or self.positive_label not in set(self.classes_.tolist()):
            raise ValueError(
                f"exponentiated gradient needs two classes including {self.positive_label!r}, "
                f"found {self.classes_.tolist()}"
            )
        is_positive = labels == self.positive_label
        weights = np.ones(len(labels)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        self.class_weights_ = {
            "positive": _one_weight(weights[is_positive], "positive"),
            "negative": _one_weight(weights[~is_positive], "negative"),
        }
        self.costs_ = {
            "fn": self.class_weights_["positive"] * (1.0 - s),
            "fp": self.class_weights_["negative"] * s,
        }
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


def _one_weight(weights: np.ndarray, which: str) -> float:
    """The single weight of one class's rows (weights that vary within a class cannot be costs)."""
    distinct = np.unique(weights)
    if len(distinct) != 1:
        raise ValueError(
            f"exponentiated gradient takes one weight per class: the {which} class has {len(distinct)} "
            "different row weights (reweighing and exponentiated gradient do not combine)"
        )
    return float(distinct[0])
