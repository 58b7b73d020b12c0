"""The MLflow dataset inputs of a run, described from fairgate's own digests, without a walk over every value.

MLflow's ``from_pandas`` describes a DataFrame by looking at it value by value:
its digest maps ``type`` over every cell of the frame, and its schema asks of
every value of every column whether it is missing, and converts each string
column to a Python list to type it (about 31 µs per row on the generator's
data: 40 s for a million rows).  The run's dataset panel in the MLflow UI
shows the same five things built here instead, each from what fairgate
already knows:

- **name** and **context**: ``training`` or ``holdout``;
- **digest**: the first :data:`DIGEST_CHARS` hex digits of the SHA-256 of the
  split's Parquet file (the whole hash is the input's ``fairgate.file_sha256``
  tag); MLflow's own digest hashes only the first 10 000 rows, so two splits
  differing after that row got the same one;
- **source**: the DVC version of ``data/`` the rows came from
  (:func:`pipelines.governance.lineage.dvc_dataset_source`);
- **schema**: every column with MLflow's type for it, computed by MLflow's
  own inference from the column's dtype wherever the dtype decides the type
  (numbers, booleans, times, pandas strings), and ``required`` from a
  vectorised missing-value check; a column whose dtype does not decide its
  type (``object``, ``category``) is typed by MLflow's inference over its
  values, exactly as before;
- **profile**: ``num_rows`` and ``num_elements``, as ``from_pandas`` gives them.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pandas as pd
from mlflow.data.dataset import Dataset
from mlflow.data.dataset_source import DatasetSource
from mlflow.entities import Dataset as DatasetEntity
from mlflow.entities import DatasetInput, InputTag
from mlflow.exceptions import MlflowException
from mlflow.types import ColSpec, Schema, TensorSpec
from mlflow.types.utils import _infer_schema
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

logger = logging.getLogger(__name__)

DIGEST_CHARS = 16  # MLflow's dataset digest column holds at most 36 characters
ERR_BAD_SHA256 = "a dataset digest needs the SHA-256 of the split's file (64 hex digits), found {value!r}"
NOTE_VALUE_TYPED = "dataset %s: column %r (dtype %s) typed by MLflow's inference over its %d values"
NOTE_NO_SCHEMA = "dataset %s: MLflow cannot type column %r (dtype %s): the input is logged without a schema (%s)"


def split_digest(file_sha256: str) -> str:
    """The dataset digest of a split: the first :data:`DIGEST_CHARS` hex digits of its file's SHA-256."""
    if len(file_sha256) != 64 or any(c not in "0123456789abcdef" for c in file_sha256):
        raise ValueError(ERR_BAD_SHA256.format(value=file_sha256))
    return file_sha256[:DIGEST_CHARS]


def _typed_by_dtype(dtype: Any) -> bool:
    """True when MLflow's inference types a column from its dtype alone (it never looks at the values)."""
    return isinstance(dtype, pd.StringDtype) or dtype.kind != "O"


def frame_schema(frame: pd.DataFrame, name: str = "dataset") -> Schema | None:
    """The schema ``from_pandas`` would infer for ``frame``, without its walk over every value.

    Column types come from MLflow's own inference run on the columns' dtypes
    (on zero rows); ``required`` is ``not column.isna().any()``.  Columns
    whose dtype does not decide their type go through MLflow's inference on
    their values.  None (and a warning) when MLflow cannot type a column,
    as ``from_pandas`` logs no schema then.
    """
    by_dtype = [column for column in frame.columns if _typed_by_dtype(frame[column].dtype)]
    typed = _infer_schema(frame[by_dtype].head(0)).inputs if by_dtype else []
    types = {spec.name: spec.type for spec in typed if isinstance(spec, ColSpec)}
    specs: list[ColSpec | TensorSpec] = []
    for column in frame.columns:
        values = frame[column]
        if column in types:
            specs.append(ColSpec(type=types[column], name=column, required=not bool(values.isna().any())))
            continue
        logger.info(NOTE_VALUE_TYPED, name, column, values.dtype, len(values))
        try:
            specs.extend(_infer_schema(frame[[column]]).inputs)
        except MlflowException as e:
            logger.warning(NOTE_NO_SCHEMA, name, column, values.dtype, str(e).splitlines()[0])
            return None
    return Schema(specs)


class SplitDataset(Dataset):
    """A training set or holdout as an MLflow dataset: a digest, a source, a schema and a row count.

    It holds no rows: it is what the run's dataset panel shows, built from
    what fairgate computed (see the module's docstring).
    """

    def __init__(
        self, source: DatasetSource, name: str, digest: str, schema: Schema | None, rows: int, columns: int
    ) -> None:
        self._schema, self._rows, self._columns = schema, rows, columns
        super().__init__(source=source, name=name, digest=digest)

    def _compute_digest(self) -> str:
        raise ValueError("a split's digest is given (split_digest), never computed from rows")

    @property
    def profile(self) -> dict[str, int]:
        """What ``from_pandas`` profiles: the rows and the cells."""
        return {"num_rows": self._rows, "num_elements": self._rows * self._columns}

    @property
    def schema(self) -> Schema | None:
        """The columns and their MLflow types (None when MLflow could not type one)."""
        return self._schema

    def to_dict(self) -> dict[str, str]:
        """Name, digest, source, source type, schema and profile, as ``PandasDataset.to_dict`` gives them."""
        config = super().to_dict()
        config["schema"] = json.dumps({"mlflow_colspec": self._schema.to_dict()}) if self._schema else None  # type: ignore[assignment]
        config["profile"] = json.dumps(self.profile)
        return config


def split_dataset(frame: pd.DataFrame, source: DatasetSource, name: str, file_sha256: str) -> SplitDataset:
    """Describe one split of the run for MLflow from its rows' dtypes and its file's SHA-256."""
    rows, columns = frame.shape
    return SplitDataset(source, name, split_digest(file_sha256), frame_schema(frame, name), rows, columns)


def dataset_input(dataset: Dataset, context: str, input_tags: dict[str, str]) -> DatasetInput:
    """The dataset input ``mlflow.log_input(dataset, context=..., tags=...)`` logs, for ``log_inputs``."""
    entry = dataset.to_dict()
    entity = DatasetEntity(
        name=entry["name"],
        digest=entry["digest"],
        source_type=entry["source_type"],
        source=entry["source"],
        schema=entry.get("schema"),
        profile=entry.get("profile"),
    )
    tags = [InputTag(key=key, value=value) for key, value in input_tags.items()]
    return DatasetInput(dataset=entity, tags=[*tags, InputTag(key=MLFLOW_DATASET_CONTEXT, value=context)])
