"""Data versioning with DVC: add, push, read the recorded hash, restore.

DVC runs as its own command (``python -m dvc``) in the project root, so its
state and logging never mix with the pipeline's process.  A DVC failure stops
the step with DVC's own message: data that is not versioned is never trained on.
"""

from __future__ import annotations

import logging
import subprocess
import sys

import yaml

from pipelines.core.errors import BadInputError
from pipelines.core.project import ProjectPaths

logger = logging.getLogger(__name__)

ERR_DVC_FAILED = "dvc {command} failed in {root}: {problem}"
ERR_NO_POINTER = "{pointer} does not exist: the data has never been versioned"
ERR_BAD_POINTER = "{pointer} is not a DVC pointer with one output and an md5: {problem}"


class DataVersionError(BadInputError):
    """DVC could not version or restore the data."""


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
    pointer = paths.data_pointer
    if not pointer.is_file():
        raise DataVersionError(ERR_NO_POINTER.format(pointer=pointer))
    try:
        content = yaml.safe_load(pointer.read_text(encoding="utf-8"))
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
