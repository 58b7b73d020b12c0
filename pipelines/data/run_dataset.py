"""The run's dataset: ``data/`` read once per run, kept as one memory-mapped Arrow file until the split is made.

Before, ``retrain`` read every file of ``data/`` twice (the leakage checks,
then the split) and converted a million rows to pandas each time.  Now the
leakage stage, which reads them first, also writes the frame it read as one
uncompressed Arrow IPC file, named by the DVC hash of ``data/``
(``var/runs/<run>/dataset/<md5>.arrow``: run-scoped and content-addressed);
the split memory-maps it (no copy, no parse), computes the holdout on the
columns the rule needs, cuts both sides in Arrow and writes them as the
Parquet files the training and evaluation stages read (``pd.read_parquet``
gives exactly the frames the files ``DataFrame.to_parquet`` wrote before
gave: same rows, order, values and dtypes; the bytes may differ in where
Parquet's dictionary encoding of a high-cardinality column falls back).  The split then deletes the
Arrow file: nothing later reads it, and what lineage needs is the DVC
version of ``data/`` (in the DVC cache and remote, by its hash) and the
SHA-256 of each split's file (on the MLflow dataset inputs).
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipelines.core.errors import BadInputError

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger(__name__)

DATA_HASH_KEY = b"fairgate.data_hash"
FILES_KEY = b"fairgate.files"
ERR_NOT_DIRECTORY_HASH = (
    "the run dataset is named by the DVC hash of the data folder ('<md5>.dir'), found {data_hash!r}"
)
ERR_OTHER_VERSION = (
    "{path} holds data version {found!r}, not {expected!r}: the run dataset no longer matches data/ "
    "(delete the file and run the stage again)"
)
ERR_MASK = "the holdout mask has {found} value(s) for {rows} row(s) of the run dataset"


def run_dataset_path(run_dir: Path, data_hash: str) -> Path:
    """Where the run's dataset lives: ``<run_dir>/dataset/<md5>.arrow`` for the data hash ``<md5>.dir``."""
    if not data_hash.endswith(".dir") or len(data_hash) != 36:
        raise BadInputError(ERR_NOT_DIRECTORY_HASH.format(data_hash=data_hash))
    return run_dir / "dataset" / f"{data_hash.removesuffix('.dir')}.arrow"


def write_run_dataset(frame: pd.DataFrame, path: Path, data_hash: str, files: list[str]) -> Path:
    """Write ``frame`` (the dataset as :func:`~pipelines.data.dataset.load_dataset` read it) as the run dataset.

    The file is written whole through a temporary name and renamed into place;
    its schema metadata records the data hash and the files it was read from.
    """
    import pyarrow as pa
    import pyarrow.ipc as ipc

    table = pa.Table.from_pandas(frame, preserve_index=False)
    own = {DATA_HASH_KEY: data_hash.encode(), FILES_KEY: json.dumps(files).encode()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **own})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".arrow.tmp")
    with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    tmp.replace(path)
    logger.info("run dataset %s: %d rows, %d columns", path, table.num_rows, table.num_columns)
    return path


def open_run_dataset(path: Path, data_hash: str) -> pa.Table:
    """The run dataset, memory-mapped (its buffers are the file's pages, nothing is copied or parsed).

    Raises
    ------
    BadInputError
        The file records another data version than ``data_hash``.
    """
    import pyarrow as pa
    import pyarrow.ipc as ipc

    with pa.memory_map(str(path)) as source:
        table = ipc.open_file(source).read_all()
    found = (table.schema.metadata or {}).get(DATA_HASH_KEY, b"").decode()
    if found != data_hash:
        raise BadInputError(ERR_OTHER_VERSION.format(path=path, found=found, expected=data_hash))
    return table


def run_dataset_files(table: pa.Table) -> list[str]:
    """The files of ``data/`` the run dataset was read from (relative to the data folder)."""
    return list(json.loads((table.schema.metadata or {})[FILES_KEY]))


def _without_own_keys(table: pa.Table) -> pa.Table:
    """The table with the schema metadata pandas wrote (its dtypes), without fairgate's keys."""
    metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k not in (DATA_HASH_KEY, FILES_KEY)}
    return table.replace_schema_metadata(metadata)


def to_frame(table: pa.Table) -> pd.DataFrame:
    """The table as the DataFrame it was written from (its pandas metadata gives the dtypes)."""
    return _without_own_keys(table).to_pandas()


def write_split(table: pa.Table, is_holdout: np.ndarray, train_file: Path, holdout_file: Path) -> dict[str, pa.Table]:
    """Cut the run dataset into its training rows and holdout rows and write each as Parquet.

    Read back, the files give exactly the frames
    ``frame[~is_holdout].to_parquet(train_file, index=False)`` (and the
    holdout's) gave: the same rows in the same order, the same values, the
    same pandas metadata and dtypes.  Both sides are cut and written in
    two threads (Arrow releases the GIL).  Returns the two tables
    (``training``, ``holdout``) without fairgate's metadata keys.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if len(is_holdout) != table.num_rows:
        raise BadInputError(ERR_MASK.format(found=len(is_holdout), rows=table.num_rows))
    plain = _without_own_keys(table)

    def cut(keep: np.ndarray, path: Path) -> pa.Table:
        side = plain.filter(pa.array(keep))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(side, str(tmp))
        tmp.replace(path)
        return side

    mask = np.asarray(is_holdout, dtype=bool)
    with ThreadPoolExecutor(max_workers=2) as pool:
        training = pool.submit(cut, ~mask, train_file)
        holdout = pool.submit(cut, mask, holdout_file)
        return {"training": training.result(), "holdout": holdout.result()}


def remove_run_dataset(path: Path) -> None:
    """Delete the run dataset once the split is written (the folder too when it is left empty)."""
    path.unlink(missing_ok=True)
    if path.parent.is_dir() and not any(path.parent.iterdir()):
        path.parent.rmdir()
