"""Where a fairgate project keeps its state, and the environment its tools need.

The project root is ``FAIRGATE_HOME`` when set (tests point it at a temporary
folder), else the nearest folder above the working directory that holds
``fairgate.yaml``.  Every store (data, DVC remote, MLflow, Airflow, run
outputs) lives under it in the embedded default; production overrides the
stores through environment variables only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipelines.core.config import CONFIG_FILE_NAME, FairgateConfig, load_config
from pipelines.core.errors import BadInputError

ERR_NO_PROJECT = (
    "no fairgate project here: set FAIRGATE_HOME or run from a folder holding " + CONFIG_FILE_NAME
)
ERR_HOME_MISSING = "FAIRGATE_HOME={home} does not hold " + CONFIG_FILE_NAME

# the repository that holds dags/ and plugins/ (the package is installed editable from it)
CODE_ROOT = Path(__file__).resolve().parents[2]


# the DVC-tracked data folder of each dataset source: the generator's is the repository's data/ (data.dvc is
# committed with it); a project's own data is versioned apart, so it never rewrites or mixes with that version
GENERATOR_DATA_FOLDER = "data"
OWN_DATA_FOLDER = "dataset"


def data_folder_for(source: str) -> str:
    """The data folder (and ``<folder>.dvc`` pointer) of a ``dataset.source``."""
    return GENERATOR_DATA_FOLDER if source == "generator" else OWN_DATA_FOLDER


@dataclass(frozen=True)
class ProjectPaths:
    """Every path of the embedded default, derived from the project root (and the dataset source's data folder)."""

    root: Path
    data_folder: str = GENERATOR_DATA_FOLDER

    @property
    def config_file(self) -> Path:
        """``fairgate.yaml``."""
        return self.root / CONFIG_FILE_NAME

    @property
    def data_dir(self) -> Path:
        """The DVC-tracked dataset: ``data/`` (generator) or ``dataset/`` (a project's own source)."""
        return self.root / self.data_folder

    @property
    def batches_dir(self) -> Path:
        """``<data folder>/batches/``: one Parquet file per month (generator, ``files`` and ``sql`` sources)."""
        return self.data_dir / "batches"

    @property
    def quarantine_dir(self) -> Path:
        """``quarantine/``: batches refused at audit or leakage, with their records (``quarantine.dvc``)."""
        return self.root / "quarantine"

    @property
    def quarantine_pointer(self) -> Path:
        """``quarantine.dvc``: the DVC pointer to the quarantine, versioned apart from ``data/``."""
        return self.root / "quarantine.dvc"

    @property
    def data_pointer(self) -> Path:
        """``data.dvc`` (or ``dataset.dvc``): the committed pointer to the data version."""
        return self.root / f"{self.data_folder}.dvc"

    @property
    def mlflow_dir(self) -> Path:
        """``mlflow/``: the embedded MLflow store."""
        return self.root / "mlflow"

    @property
    def mlflow_db(self) -> Path:
        """The SQLite file of MLflow tracking and registry."""
        return self.mlflow_dir / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        """The artifact root of the embedded MLflow store."""
        return self.mlflow_dir / "artifacts"

    @property
    def airflow_home(self) -> Path:
        """The project-local AIRFLOW_HOME (SQLite metadata)."""
        return self.root / ".airflow"

    @property
    def runs_dir(self) -> Path:
        """``var/runs/``: per-run outputs, keyed by DAG run id."""
        return self.root / "var" / "runs"

    def run_dir(self, run_key: str) -> Path:
        """The output folder of one DAG run."""
        return self.runs_dir / safe_key(run_key)

    @property
    def dags_dir(self) -> Path:
        """The repository's ``dags/``."""
        return CODE_ROOT / "dags"

    @property
    def plugins_dir(self) -> Path:
        """The repository's ``plugins/``."""
        return CODE_ROOT / "plugins"


def safe_key(run_key: str) -> str:
    """A run id made safe as a folder name (Airflow run ids hold ':' and '+')."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_key)


def find_project_root(start: Path | None = None) -> Path:
    """Locate the project root from ``FAIRGATE_HOME`` or the working directory."""
    home = os.environ.get("FAIRGATE_HOME")
    if home:
        root = Path(home).resolve()
        if not (root / CONFIG_FILE_NAME).is_file():
            raise BadInputError(ERR_HOME_MISSING.format(home=home))
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE_NAME).is_file():
            return folder
    raise BadInputError(ERR_NO_PROJECT)


def open_project(start: Path | None = None) -> tuple[ProjectPaths, FairgateConfig]:
    """Return the project's paths and its validated configuration."""
    root = find_project_root(start)
    config = load_config(root / CONFIG_FILE_NAME)
    return ProjectPaths(root, data_folder_for(config.dataset.source)), config


_UNREAD = object()
_inherited_tracking_uri: object = _UNREAD


def tracking_uri(paths: ProjectPaths) -> str:
    """MLflow tracking URI: ``MLFLOW_TRACKING_URI`` in production, else the embedded SQLite file.

    The variable is read once, the first time this is asked: ``mlflow.set_tracking_uri``
    writes ``MLFLOW_TRACKING_URI`` into this process's environment, so reading it again
    would send a second project in the same process to the first project's store.
    """
    global _inherited_tracking_uri
    if _inherited_tracking_uri is _UNREAD:
        _inherited_tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or None
    inherited = _inherited_tracking_uri
    return inherited if isinstance(inherited, str) else f"sqlite:///{paths.mlflow_db}"


AUDIT_LOG_URL_ENV = "FAIRGATE_AUDIT_LOG_URL"


def audit_log_url(paths: ProjectPaths, config: FairgateConfig) -> str:
    """Return the audit-log URL: ``FAIRGATE_AUDIT_LOG_URL``, else ``audit_log.url``, else embedded SQLite.

    Production sets ``FAIRGATE_AUDIT_LOG_URL`` (a Postgres URL with its
    password); the embedded default is ``sqlite:///<root>/var/audit/audit.db``.
    A relative SQLite path, from either source, is taken relative to the
    project root so the log never depends on the working directory.
    """
    raw = os.environ.get(AUDIT_LOG_URL_ENV) or config.audit_log.url
    if not raw:
        return f"sqlite:///{paths.root / 'var' / 'audit' / 'audit.db'}"
    # lazy: every command imports this module, and only the audit log's address needs SQLAlchemy
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(raw)
    except ArgumentError:
        return raw  # pipelines.governance.audit_log.open_log names the problem
    database = url.database
    if (
        url.get_backend_name() == "sqlite"
        and database
        and database != ":memory:"
        and not database.startswith("file:")
        and not Path(database).is_absolute()
    ):
        return url.set(database=str(paths.root / database)).render_as_string(hide_password=False)
    return raw


# Airflow 3 has no setting for the address of its log servers (8793, 8794: every interface); the
# embedded default binds them to loopback through Airflow's local-settings hook in this folder
EMBEDDED_AIRFLOW_SETTINGS = CODE_ROOT / "deploy" / "embedded"
LOG_SERVER_HOST_ENV, EMBEDDED_LOG_SERVER_HOST = "FAIRGATE_LOG_SERVER_HOST", "127.0.0.1"


def airflow_environment(paths: ProjectPaths) -> dict[str, str]:
    """Environment variables that point Airflow at the project (embedded default).

    The project's own AIRFLOW_HOME, dags and plugins always apply, so a user's
    other Airflow installation is never touched; the metadata database and the
    executor pass through from the environment when set (the production path).
    The log servers that ``airflow standalone``'s scheduler and triggerer start
    listen on 127.0.0.1 only (``deploy/embedded/airflow_local_settings.py``,
    put first on ``PYTHONPATH``). MLflow's credentials
    (``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``) are not
    touched: they pass through with the rest of the caller's environment.
    """
    defaults = {
        "FAIRGATE_HOME": str(paths.root),
        "AIRFLOW_HOME": str(paths.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(paths.dags_dir),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(paths.plugins_dir),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{paths.airflow_home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        LOG_SERVER_HOST_ENV: EMBEDDED_LOG_SERVER_HOST,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(EMBEDDED_AIRFLOW_SETTINGS), os.environ.get("PYTHONPATH")])),
    }
    passthrough = ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__EXECUTOR")
    return {key: os.environ.get(key, value) if key in passthrough else value for key, value in defaults.items()}
