"""The reference of the audit in ``retrain``: the training data of the current champion, found by lineage.

The drift that matters is drift away from what the serving model learnt.  So
the audit's reference is the champion's own training data, followed through
its lineage: the ``champion`` alias gives a model version, its
``fairgate.data_hash`` tag gives the DVC hash of the ``data/`` folder it was
trained on (a ``.dir`` manifest listing every file by hash), and the files
are read straight from the DVC cache (pulled from the DVC remote when the
cache lacks them).  The data is never looked up any other way:

- no champion yet: the reference is the data in ``data/`` before this batch,
  and the notes say so (an explicit fallback, recorded on the run);
- a champion whose lineage is broken (no data hash, or a data version that
  neither the cache nor the remote holds): an error, never another reference.

The batch relates to that data in one of two ways.  With the generator, each
month is one file: the champion's months are *earlier* data (and a month the
batch re-ingests is left out of the reference, since the batch replaces it).
With a file source, the whole dataset is one file that each run replaces:
the champion's copy is the *previous version* of the dataset, so checks that
presume earlier data (ids already seen, freshness) do not apply to it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import mlflow
import pandas as pd
from mlflow.data.dataset_source import DatasetSource

from pipelines.core.errors import BadInputError
from pipelines.core.project import ProjectPaths
from pipelines.governance import registry, tags
from pipelines.governance.dataset_inputs import dataset_input, split_dataset

logger = logging.getLogger(__name__)


ERR_NO_DATA_HASH = (
    "champion version {version} of {model!r} has no {tag} tag: the data it was trained on cannot be found "
    "(broken lineage), so the audit has no reference it may use"
)
ERR_NOT_DIRECTORY_HASH = (
    "champion version {version}: {tag} {data_hash!r} is not the DVC hash of a folder (expected '<md5>.dir')"
)
ERR_DATA_VERSION_MISSING = (
    "the training data of champion version {version} ({data_hash}) is in neither the DVC cache nor the "
    "DVC remote: {problem}"
)
NOTE_CHAMPION = (
    "reference: the training data of champion version {version} (data hash {data_hash}), read from the DVC "
    "cache: {files} file(s), {rows} rows"
)
NOTE_REPLACED = "reference: {relpath} of the champion's data left out: this batch replaces it"
NOTE_NOT_PARQUET = "reference: {files} of the champion's data are not Parquet files: not read"
NOTE_PREVIOUS_VERSION = (
    "reference: the champion's copy of the whole dataset is its previous version, not earlier data: "
    "ids already seen and freshness do not apply to it"
)
NOTE_CHAMPION_EMPTY = "reference: the champion's data holds no file but the one this batch replaces: no reference"
NOTE_NO_CHAMPION = (
    "no champion of {model!r} yet, so no champion training data to compare with: the reference is, "
    "explicitly, the data in data/ before this batch: {files} file(s), {rows} rows"
)
ERR_NO_TARGET = "split {name!r} has no target column {target!r}: it cannot be logged as a training dataset"
NOTE_FIRST_RUN = "no champion of {model!r} yet and no data in data/ before this batch: no reference (a first run)"


@dataclass(frozen=True)
class ChampionLineage:
    """The champion version and the data hash it was trained on (None when the tag is missing)."""

    version: str
    data_hash: str | None


@dataclass
class AuditReference:
    """The data the audit compares a batch with, and where it came from.

    Attributes
    ----------
    frame : pandas.DataFrame or None
        The reference rows; None when there is nothing to compare with.
    source : str
        ``champion``, ``data_before_batch`` or ``none``.
    earlier : bool
        True when the reference is earlier data the batch extends; False when
        it is the previous version of a dataset the batch replaces.
    notes : list of str
        What the reference is, said in the report.
    files : list of str
        The files read, relative to ``data/``.
    """

    frame: pd.DataFrame | None
    source: Literal["champion", "data_before_batch", "none"]
    earlier: bool = True
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def champion_lineage(client: Any, model_name: str, alias: str) -> ChampionLineage | None:
    """Return the champion's version and the data hash it was trained on, or None without a champion.

    Parameters
    ----------
    client : mlflow.tracking.MlflowClient
        A client on the project's registry.
    model_name, alias : str
        The registered model and the champion alias.

    Returns
    -------
    ChampionLineage or None
        None when the model or its alias does not exist yet.
    """
    current = registry.champion(client, model_name, alias)
    if current is None:
        return None
    return ChampionLineage(version=str(current.version), data_hash=current.tags.get(tags.DATA_HASH) or None)


def data_version_files(paths: ProjectPaths, data_hash: str, version: str) -> dict[str, Path]:
    """Map each file of a DVC folder version to its file in the DVC cache (pulled if missing).

    Parameters
    ----------
    paths : ProjectPaths
        The project (a DVC repository).
    data_hash : str
        The DVC hash of ``data/`` (``<md5>.dir``).
    version : str
        The model version whose data this is (for messages).

    Returns
    -------
    dict of str to pathlib.Path
        Path relative to ``data/`` (POSIX) to the cache file holding it.

    Raises
    ------
    BadInputError
        The manifest or a file is in neither the cache nor the remote.
    """
    # lazy: DVC takes about a second to import, and only this lookup of a data version needs it
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.tree import Tree

    if not data_hash.endswith(".dir"):
        raise BadInputError(ERR_NOT_DIRECTORY_HASH.format(version=version, tag=tags.DATA_HASH, data_hash=data_hash))
    manifest = HashInfo("md5", data_hash)
    with Repo(str(paths.root)) as repo:
        cache = repo.cache.local
        try:
            if not cache.exists(data_hash):
                logger.info("champion data %s not in the DVC cache: pulling it from the remote", data_hash)
                repo.cloud.pull([manifest])
            if not cache.exists(data_hash):
                raise BadInputError(
                    ERR_DATA_VERSION_MISSING.format(
                        version=version, data_hash=data_hash, problem="its manifest could not be fetched"
                    )
                )
            tree = Tree.load(cache, manifest)
            entries = [(key, info) for key, _, info in tree]
            missing = [info for _, info in entries if not cache.exists(info.value)]
            if missing:
                logger.info("%d file(s) of %s not in the DVC cache: pulling them", len(missing), data_hash)
                repo.cloud.pull(missing)
        except DvcException as e:
            problem = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise BadInputError(
                ERR_DATA_VERSION_MISSING.format(version=version, data_hash=data_hash, problem=problem)
            ) from e
        still_missing = ["/".join(key) for key, info in entries if not cache.exists(info.value)]
        if still_missing:
            raise BadInputError(
                ERR_DATA_VERSION_MISSING.format(
                    version=version, data_hash=data_hash, problem=f"files {still_missing[:5]} could not be fetched"
                )
            )
        return {"/".join(key): Path(cache.oid_to_path(info.value)) for key, info in entries}


def _read(files: list[Path]) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def audit_reference(
    paths: ProjectPaths,
    source: Literal["generator", "file", "files", "sql"],
    model_name: str,
    champion: ChampionLineage | None,
    batch_file: Path,
    files_before: list[Path],
) -> AuditReference:
    """Find the audit's reference: the champion's training data, or explicitly the data before the batch.

    Parameters
    ----------
    paths : ProjectPaths
        The project.
    source : str
        ``dataset.source``: ``generator``, ``files`` or ``sql`` (one file per
        month) or ``file`` (one file, replaced whole by every run).
    model_name : str
        The registered model (for the notes).
    champion : ChampionLineage or None
        The current champion, None when there is none yet.
    batch_file : pathlib.Path
        The batch just ingested, under ``data/``.
    files_before : list of pathlib.Path
        The other files of ``data/`` (the fallback without a champion).

    Returns
    -------
    AuditReference
        The rows, their source, and the notes that say what they are.

    Raises
    ------
    BadInputError
        The champion's lineage is broken: no data hash, or data that can
        no longer be fetched.
    """
    if champion is None:
        if not files_before:
            note = NOTE_FIRST_RUN.format(model=model_name).replace("data/", f"{paths.data_folder}/")
            return AuditReference(None, "none", notes=[note])
        frame = _read(files_before)
        note = NOTE_NO_CHAMPION.format(model=model_name, files=len(files_before), rows=len(frame)).replace(
            "data/", f"{paths.data_folder}/"  # the project's own data folder (dataset/ for its own source)
        )
        relative = [f.relative_to(paths.data_dir).as_posix() for f in files_before]
        return AuditReference(frame, "data_before_batch", True, [note], relative)
    if champion.data_hash is None:
        raise BadInputError(ERR_NO_DATA_HASH.format(version=champion.version, model=model_name, tag=tags.DATA_HASH))
    files = data_version_files(paths, champion.data_hash, champion.version)
    notes: list[str] = []
    others = sorted(name for name in files if not name.endswith(".parquet"))
    if others:
        notes.append(NOTE_NOT_PARQUET.format(files=others))
    chosen = {name: path for name, path in files.items() if name.endswith(".parquet")}
    earlier = source != "file"
    batch_name = batch_file.relative_to(paths.data_dir).as_posix()
    if earlier and batch_name in chosen:
        del chosen[batch_name]
        notes.append(NOTE_REPLACED.format(relpath=batch_name))
    if not earlier:
        notes.append(NOTE_PREVIOUS_VERSION)
    if not chosen:
        notes.append(NOTE_CHAMPION_EMPTY)
        return AuditReference(None, "none", earlier, notes)
    names = sorted(chosen)
    frame = _read([chosen[name] for name in names])
    notes.insert(
        0,
        NOTE_CHAMPION.format(version=champion.version, data_hash=champion.data_hash, files=len(names), rows=len(frame)),
    )
    logger.info("audit reference: champion %s, %d files, %d rows", champion.version, len(names), len(frame))
    return AuditReference(frame, "champion", earlier, notes, names)


# ---------------------------------------------------------------- the datasets a run trained and was judged on


def dvc_dataset_source(data_hash: str, files: list[str], data_path: str = "data") -> Any:
    """An MLflow dataset source pointing at DVC-tracked data: the folder, its DVC hash, the files used.

    MLflow shows a dataset's source in the run's dataset panel; this one says
    where the rows live in the project (``data/``, tracked by ``data.dvc``) and
    which version of it (the DVC directory hash), so that
    ``fairgate data restore`` can put exactly those rows back.
    """

    class DvcDatasetSource(DatasetSource):
        """A folder tracked by DVC, at one version (its ``.dir`` hash)."""

        def __init__(self, path: str, md5: str, members: list[str]) -> None:
            self.path, self.md5, self.members = path, md5, members

        @staticmethod
        def _get_source_type() -> str:
            return "dvc"

        def load(self, **kwargs: Any) -> str:
            raise NotImplementedError("restore DVC data with: fairgate data restore --model-version N")

        @staticmethod
        def _can_resolve(raw_source: Any) -> bool:
            return False

        @classmethod
        def _resolve(cls, raw_source: Any) -> DvcDatasetSource:
            raise NotImplementedError("DVC sources are built from a data hash, not resolved from a string")

        def to_dict(self) -> dict[str, Any]:
            return {
                "uri": f"dvc://{self.path}@{self.md5}",
                "path": self.path,
                "dvc_pointer": f"{self.path}.dvc",
                "md5": self.md5,
                "files": self.members,
            }

        @classmethod
        def from_dict(cls, source_dict: dict[Any, Any]) -> DvcDatasetSource:
            return cls(str(source_dict["path"]), str(source_dict["md5"]), list(source_dict.get("files", [])))

    return DvcDatasetSource(data_path, data_hash, files)


def log_split_datasets(
    mlflow_run_id: str,
    splits: dict[str, pd.DataFrame],
    files: dict[str, Path],
    target: str,
    data_hash: str,
    data_files: list[str],
    data_path: str = "data",
    client: Any | None = None,
) -> dict[str, str]:
    """Log each split as an MLflow dataset input of the run (context = its name); return the digests.

    The digest is fairgate's own: the start of the SHA-256 of the split's
    Parquet file, whole in the input's ``fairgate.file_sha256`` tag beside its
    row count; the source is the DVC version of ``data/`` the rows came from;
    the schema and profile are those ``from_pandas`` gives, without its walk
    over every value (see :mod:`pipelines.governance.dataset_inputs`).  The
    run's status is left as it is.

    Parameters
    ----------
    target : str
        The target column: it must be a column of every split.
    client : mlflow.tracking.MlflowClient, optional
        A client on the project's tracking store (default: one on the current tracking URI).
    """
    source = dvc_dataset_source(data_hash, data_files, data_path)
    digests: dict[str, str] = {}
    inputs = []
    for name, frame in splits.items():
        if target not in frame.columns:
            raise BadInputError(ERR_NO_TARGET.format(name=name, target=target))
        sha256 = file_sha256(files[name])
        dataset = split_dataset(frame, source, name, sha256)
        input_tags = {tags.ROWS: str(len(frame)), tags.FILE_SHA256: sha256, tags.DATA_HASH: data_hash}
        inputs.append(dataset_input(dataset, name, input_tags))
        digests[name] = dataset.digest
    (client or mlflow.MlflowClient()).log_inputs(mlflow_run_id, datasets=inputs)
    return digests


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
