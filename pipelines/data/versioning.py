"""Data versioning with DVC: add, push, read the recorded hash, restore.

DVC runs as its own command (``python -m dvc``) in the project root, so its
state and logging never mix with the pipeline's process.  A DVC failure stops
the step with DVC's own message: data that is not versioned is never trained on.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
from pathlib import Path

import yaml

from pipelines.core.errors import BadInputError
from pipelines.core.project import ProjectPaths

logger = logging.getLogger(__name__)

ERR_DVC_FAILED = "dvc {command} failed in {root}: {problem}"
ERR_NO_POINTER = "{pointer} does not exist: the data has never been versioned"
ERR_BAD_POINTER = "{pointer} is not a DVC pointer with one output and an md5: {problem}"


CHUNK = 1 << 20


class DataVersionError(BadInputError):
    """DVC could not version or restore the data."""


def file_md5(path: Path) -> str:
    """The md5 of a file's bytes: DVC's hash of it, and the name of its object in the DVC cache."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def run_dvc(paths: ProjectPaths, *args: str) -> str:
    """Run one DVC command in the project root; raise with DVC's message on failure."""
    command = [sys.executable, "-m", "dvc", *args]
    completed = subprocess.run(command, cwd=paths.root, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        lines = [line for line in (completed.stderr or completed.stdout).splitlines() if line.strip()]
        problem = lines[-1] if lines else f"exit code {completed.returncode}"
        raise DataVersionError(ERR_DVC_FAILED.format(command=" ".join(args), root=paths.root, problem=problem))
    return completed.stdout


def recorded_data_hash(paths: ProjectPaths) -> str:
    """The md5 of ``data/`` recorded in ``data.dvc`` (DVC's directory hash, ``….dir``)."""
    return pointer_hash(paths.data_pointer)


def pointer_hash(pointer: Path, text: str | None = None) -> str:
    """The md5 a DVC pointer file records for its one output (``text``: the pointer's content, if not read yet)."""
    if text is None:
        if not pointer.is_file():
            raise DataVersionError(ERR_NO_POINTER.format(pointer=pointer))
        text = pointer.read_text(encoding="utf-8")
    try:
        content = yaml.safe_load(text)
        return str(content["outs"][0]["md5"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError) as e:
        raise DataVersionError(ERR_BAD_POINTER.format(pointer=pointer, problem=e)) from e


def version_data(paths: ProjectPaths, push: bool = True) -> str:
    """``dvc add data`` then ``dvc push``; return the new data hash."""
    run_dvc(paths, "add", "--quiet", str(paths.data_dir.relative_to(paths.root)))
    if push:
        run_dvc(paths, "push", "--quiet", str(paths.data_pointer.relative_to(paths.root)))
    data_hash = recorded_data_hash(paths)
    logger.info("data versioned: %s", data_hash)
    return data_hash


def version_folder(paths: ProjectPaths, folder: Path, push: bool = True) -> str:
    """``dvc add FOLDER`` (its pointer is ``FOLDER.dvc``) then ``dvc push`` of that pointer; return its hash.

    Used for the quarantine, a DVC output of its own beside ``data/``.
    """
    relative = folder.relative_to(paths.root)
    run_dvc(paths, "add", "--quiet", str(relative))
    pointer = folder.with_name(folder.name + ".dvc")
    if push:
        run_dvc(paths, "push", "--quiet", str(pointer.relative_to(paths.root)))
    folder_hash = pointer_hash(pointer)
    logger.info("%s versioned: %s", relative, folder_hash)
    return folder_hash


def data_is_current(paths: ProjectPaths) -> bool:
    """True when ``data/`` matches ``data.dvc`` (``dvc status`` reports nothing to do)."""
    if not paths.data_dir.is_dir():
        return False
    status = run_dvc(paths, "status", "--quiet", str(paths.data_pointer.relative_to(paths.root)))
    return status.strip() == ""


def checkout_data(paths: ProjectPaths) -> bool:
    """Rebuild ``data/`` from the DVC cache or remote; False when neither holds it."""
    try:
        run_dvc(paths, "pull", "--quiet", str(paths.data_pointer.relative_to(paths.root)))
    except DataVersionError as e:
        logger.info("dvc pull could not restore data/: %s", e)
        return False
    return data_is_current(paths)
