"""The versioned dataset: which files make it up, and loading them.

With the generator as source the dataset is one Parquet file per month in
``data/batches/``; with a ``files`` or ``sql`` source, one per interval in
``dataset/batches/``; with a ``file`` source it is ``dataset/dataset.parquet``
(see :func:`pipelines.core.project.data_folder_for`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.core.config import FairgateConfig
from pipelines.core.errors import BadInputError
from pipelines.core.project import ProjectPaths

ERR_NO_DATA = "no data to train on in {folder}"
ERR_MISSING_COLUMNS = "dataset is missing configured column(s): {columns}"


def dataset_files(paths: ProjectPaths, config: FairgateConfig) -> list[Path]:
    """The files that make up the versioned dataset, in time order."""
    if config.dataset.source in ("generator", "files", "sql"):
        return sorted(paths.batches_dir.glob("*.parquet"))
    single = paths.data_dir / "dataset.parquet"
    return [single] if single.is_file() else []


def load_dataset(paths: ProjectPaths, config: FairgateConfig, files: list[Path] | None = None) -> pd.DataFrame:
    """Concatenate the dataset's files and check the configured columns exist."""
    files = dataset_files(paths, config) if files is None else files
    if not files:
        raise BadInputError(ERR_NO_DATA.format(folder=paths.data_dir))
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    require_columns(frame, config)
    return frame


def require_columns(frame: pd.DataFrame, config: FairgateConfig) -> None:
    """Every configured column must exist in the data."""
    dataset = config.dataset
    wanted = [dataset.target, *dataset.sensitive, *dataset.id_columns]
    if dataset.time_column:
        wanted.append(dataset.time_column)
    wanted += list(dataset.features or [])
    missing = [c for c in dict.fromkeys(wanted) if c not in frame.columns]
    if missing:
        raise BadInputError(ERR_MISSING_COLUMNS.format(columns=", ".join(missing)))

