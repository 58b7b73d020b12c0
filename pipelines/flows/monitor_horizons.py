"""The champion's data through lineage, and the two horizons that need outcomes: estimated and realised.

- :func:`champion_data`: the data version the champion was trained on (its
  ``fairgate.data_hash``, read from DVC as the audit reads its reference), cut
  into its training rows and its holdout with ``split`` of fairgate.yaml.
- :func:`estimated_horizon`: before the outcomes mature, the champion's
  performance estimated from its calibrated probabilities
  (:func:`pipelines.model.performance_estimation.estimate_performance`), the
  calibration fitted on the champion's own holdout scored by the champion.
- :func:`realised_horizon`: the interval's decisions against the outcomes
  known now (:func:`pipelines.model.realised_outcomes.realised_performance`).
  The outcomes are the target values present when the interval's rows are
  read again: a ``files`` or ``sql`` source updated with matured outcomes
  gives them as they arrive; the ``generator`` hands over each interval's
  applications once their outcomes matured (``generator.label_lag_months``),
  so its intervals are mature at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.config import FairgateConfig
from pipelines.core.errors import BadInputError
from pipelines.core.monitored_values import MonitoredValue
from pipelines.core.project import ProjectPaths
from pipelines.data.split import holdout_mask
from pipelines.governance import registry, tags
from pipelines.governance.lineage import ERR_NO_DATA_HASH, data_version_files
from pipelines.model.holdout import positive_column, predict_positive
from pipelines.model.performance_estimation import FAVORABLE, P_POSITIVE, estimate_performance
from pipelines.model.realised_outcomes import ROW_COLUMN, realised_performance

logger = logging.getLogger(__name__)

NOTE_GENERATOR_OUTCOMES = (
    "outcomes: the generator hands over an interval's applications once their outcomes matured "
    "(label_lag_months), so they are known at once"
)
NOTE_NO_TARGET = "outcomes: the interval's rows hold no {target!r} column: no outcome known yet"


@dataclass(frozen=True)
class ChampionData:
    """The champion's data version, as training rows and holdout, and what the notes say of it."""

    training: pd.DataFrame
    holdout: pd.DataFrame
    notes: list[str]


def champion_data(paths: ProjectPaths, config: FairgateConfig, version: str) -> ChampionData:
    """The champion's training rows and holdout: its data version (from DVC) cut as the retraining cut it.

    Raises
    ------
    BadInputError
        The lineage is broken: no data hash, or data neither the DVC cache nor the remote holds.
    """
    client = registry.connect(paths)
    name = config.registry.model_name
    data_hash = registry.get_version(client, name, version).tags.get(tags.DATA_HASH)
    if not data_hash:
        raise BadInputError(ERR_NO_DATA_HASH.format(version=version, model=name, tag=tags.DATA_HASH))
    files = data_version_files(paths, data_hash, version)
    names = sorted(name for name in files if name.endswith(".parquet"))
    frame = pd.concat([pd.read_parquet(files[name]) for name in names], ignore_index=True)
    is_holdout = holdout_mask(frame, config.dataset, config.split)
    training = frame[~is_holdout].reset_index(drop=True)
    note = (
        f"reference: the training rows of champion version {version} (data hash {data_hash}, "
        f"{len(names)} file(s), {len(training)} of {len(frame)} rows: the holdout left out)"
    )
    return ChampionData(training, frame[is_holdout].reset_index(drop=True), [note])


def _with_groups(decisions: pd.DataFrame, applications: pd.DataFrame, sensitive: list[str]) -> pd.DataFrame:
    """The scored decisions with the sensitive columns of the same rows (same order, checked by data hash)."""
    return decisions.reset_index(drop=True).assign(
        **{column: applications[column].reset_index(drop=True) for column in sensitive}
    )


def estimated_horizon(
    config: FairgateConfig,
    champion_model: Any,
    inputs: list[str],
    holdout: pd.DataFrame,
    decisions: pd.DataFrame,
    applications: pd.DataFrame,
) -> tuple[list[MonitoredValue], list[str]]:
    """The estimated horizon: CBPE calibrated on the champion's holdout, applied to the interval's decisions."""
    dataset = config.dataset
    column, labels = positive_column(champion_model, dataset.positive_label)
    reference = holdout[[dataset.target, *dataset.sensitive]].assign(
        **{P_POSITIVE: np.asarray(predict_positive(champion_model, holdout[inputs], column, labels), dtype=np.float64)}
    )
    scored = _with_groups(decisions[[P_POSITIVE, FAVORABLE]], applications, list(dataset.sensitive))
    estimate = estimate_performance(
        scored, reference, dataset, config.decision, config.evaluation, config.monitoring.estimated
    )
    notes = [f"estimated on the champion's holdout ({estimate.reference_rows} rows)", *estimate.notes]
    return estimate.values, notes


def realised_horizon(
    config: FairgateConfig, decisions: pd.DataFrame, applications: pd.DataFrame
) -> tuple[list[MonitoredValue], list[str]]:
    """The realised horizon: the interval's decisions against the outcomes present in its rows now."""
    dataset = config.dataset
    id_columns = list(dataset.id_columns) or [ROW_COLUMN]
    notes = [NOTE_GENERATOR_OUTCOMES] if dataset.source == "generator" else []
    frame = applications.reset_index(drop=True)
    if dataset.target in frame.columns:
        known = frame[dataset.target]
    else:
        notes.append(NOTE_NO_TARGET.format(target=dataset.target))
        known = pd.Series([None] * len(frame), dtype=object)
    outcomes = decisions[id_columns].reset_index(drop=True).assign(**{dataset.target: known})
    scored = _with_groups(decisions[[*id_columns, P_POSITIVE, FAVORABLE]], frame, list(dataset.sensitive))
    realised = realised_performance(
        scored, outcomes, dataset, config.decision, config.evaluation, config.monitoring.realised
    )
    notes += [f"label share {realised.label_share:.1%} ({realised.known} of {realised.rows})", *realised.notes]
    logger.info("realised horizon: mature=%s, %d values", realised.mature, len(realised.values))
    return realised.values, notes
