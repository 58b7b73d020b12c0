"""The model's files, checksummed at registration and checked before ``champion`` moves to them.

A version that passed every gate is only the model that passed if its files
are the ones that were gated. At registration the SHA-256 of every file of
the logged model is recorded twice: in the version's tag
``fairgate.model_files_sha256`` (for people, in the MLflow UI) and in the
``registration`` entry of the tamper-evident audit log (the record that
counts, since a tag can be edited by anyone who can write to the registry).
Before a promotion, an approval or a rollback moves ``champion`` to a version,
its files are downloaded from the registry again and compared with the audit
log's record: a changed, missing or added file refuses the move.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import mlflow.artifacts

from pipelines.core.errors import BlockedError

# written into the model's folder by MLflow's registry when a version is created (its name and version),
# after the files were checksummed: not part of the model
REGISTRY_FILES = frozenset({"registered_model_meta"})
CHUNK = 1 << 20

ERR_NOT_RECORDED = (
    "version {version} of {name!r} has no model checksums in the audit log's registration entry: "
    "its files cannot be shown to be the ones that were gated"
)
ERR_CHANGED = (
    "version {version} of {name!r}: the model's files do not match the checksums recorded at registration: {diff}"
)


def file_checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (but :data:`REGISTRY_FILES`), by POSIX path relative to it."""
    checksums: dict[str, str] = {}
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        if file.relative_to(folder).as_posix() in REGISTRY_FILES:
            continue
        digest = hashlib.sha256()
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                digest.update(chunk)
        checksums[file.relative_to(folder).as_posix()] = digest.hexdigest()
    return checksums


def manifest_digest(checksums: dict[str, str]) -> str:
    """One SHA-256 over the whole manifest (canonical JSON), for a short tag."""
    return hashlib.sha256(json.dumps(checksums, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def model_checksums(model_uri: str) -> dict[str, str]:
    """Download the model at ``model_uri`` (``models:/...`` or ``runs:/...``) and checksum its files."""
    with tempfile.TemporaryDirectory(prefix="fairgate-model-") as folder:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=folder))
        return file_checksums(local)


def compare(recorded: dict[str, str], found: dict[str, str]) -> list[str]:
    """What differs between two manifests, one phrase per file (empty when identical)."""
    problems = [f"{name} changed" for name in sorted(recorded) if name in found and found[name] != recorded[name]]
    problems += [f"{name} missing" for name in sorted(recorded) if name not in found]
    problems += [f"{name} added" for name in sorted(found) if name not in recorded]
    return problems


def recorded_checksums(entries: list[Any], version: str) -> dict[str, str] | None:
    """The checksums in the latest ``registration`` entry of ``version`` among audit-log ``entries``."""
    recorded = None
    for entry in entries:
        if entry.kind == "registration" and str(entry.model_version) == str(version):
            files = entry.payload.get("model_files_sha256")
            recorded = dict(files) if isinstance(files, dict) else None
    return recorded


def verify_registered_model(
    model_name: str,
    version: str,
    entries: list[Any],
    action: str,
    download_uri: str | None = None,
    into: Path | None = None,
) -> dict[str, str]:
    """Refuse ``action`` unless version's files match what the audit log recorded at registration.

    Parameters
    ----------
    model_name, version : str
        The registered version about to become champion.
    entries : list of audit_log.Entry
        The audit log's entries for that version.
    action : str
        What is refused on a mismatch (``promote``, ``approval``, ``rollback``).
    download_uri : str, optional
        Where to download the files from; ``models:/<name>/<version>`` by default.
    into : pathlib.Path, optional
        An empty folder to keep the verified files in, so that what is loaded
        afterwards is exactly what was checked (scoring); by default they are
        downloaded to a temporary folder and deleted.

    Returns
    -------
    dict of str to str
        The verified checksums.
    """
    recorded = recorded_checksums(entries, version)
    if not recorded:
        raise BlockedError(action, [ERR_NOT_RECORDED.format(version=version, name=model_name)])
    uri = download_uri or f"models:/{model_name}/{version}"
    if into is None:
        found = model_checksums(uri)
    else:
        found = file_checksums(Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(into))))
    problems = compare(recorded, found)
    if problems:
        raise BlockedError(action, [ERR_CHANGED.format(version=version, name=model_name, diff="; ".join(problems))])
    return found
