"""Every MLflow tag fairgate writes, named once.

Tags on runs, registered versions and the registered model are a mirror for
people reading the MLflow UI and for lineage; the tamper-evident audit log is
the record (see :mod:`pipelines.governance.audit_log`).  Every key carries the
``fairgate.`` prefix.  Nothing else in ``pipelines`` spells a tag key.
"""

from __future__ import annotations

PREFIX = "fairgate."
MAX_TAG_CHARS = 5000  # the longest value fairgate writes; longer text is cut with a marker

# ------------------------------------------------------------------ lineage (runs and versions)
AIRFLOW_RUN_ID = PREFIX + "airflow_run_id"
DAG_ID = PREFIX + "dag_id"
DATA_INTERVAL = PREFIX + "data_interval"
DATA_HASH = PREFIX + "data_hash"
CONFIG_HASH = PREFIX + "config_hash"
GIT_COMMIT = PREFIX + "git_commit"
GIT_DIRTY = PREFIX + "git_dirty"
MLFLOW_RUN_ID = PREFIX + "mlflow_run_id"
HAZARDS = PREFIX + "hazards"
ROWS = PREFIX + "rows"  # on an MLflow dataset input: the rows of the split
FILE_SHA256 = PREFIX + "file_sha256"  # on an MLflow dataset input: the SHA-256 of the split's Parquet file

# ------------------------------------------------------------------ the checks before training (runs)
AUDIT_REFERENCE = PREFIX + "audit_reference"
AUDIT_VERDICT = PREFIX + "audit.verdict"
LEAKAGE_VERDICT = PREFIX + "leakage.verdict"
BLOCKED_AT = PREFIX + "blocked_at"
BLOCKED_REASONS = PREFIX + "blocked_reasons"

# ------------------------------------------------------------------ how a run ended (runs; flows/retrain/mlflow_run.py)
CRASHED_AT = PREFIX + "crashed_at"  # the stage an unexpected exception stopped (run FAILED)
CRASHED_REASON = PREFIX + "crashed_reason"
STOPPED_AT = PREFIX + "stopped_at"  # the stage in progress when a signal stopped the run (run KILLED)
STOPPED_REASON = PREFIX + "stopped_reason"
RESUMED_AFTER = PREFIX + "resumed_after"  # what ended the run before a retry or a re-run resumed it
COMPLETED_BY = PREFIX + "completed_by"  # the Airflow run that completed this interrupted run
SOURCE_SHA256 = PREFIX + "source_sha256"  # a file dataset: the SHA-256 of the source file ingested
SMALL_GROUPS = PREFIX + "small_groups"  # the reviewed dataset.small_groups policies (JSON), or "none"

# ------------------------------------------------------------------ training (versions)
BETA_FACTOR = PREFIX + "beta_factor"
CLASS_WEIGHTS = PREFIX + "class_weights"
CLASS_WEIGHTS_HEX = PREFIX + "class_weights_hex"
REWEIGH_SENSITIVE = PREFIX + "reweigh_sensitive"
MITIGATION = PREFIX + "mitigation"
SAMPLE_WEIGHT_SHA256 = PREFIX + "sample_weight_sha256"
WEIGHTS_CHECK = PREFIX + "weights_check"

# ------------------------------------------------------------------ the gate (runs and versions)
GATE_DECISION = PREFIX + "gate.decision"
GATE_TECHNICAL = PREFIX + "gate.technical"
GATE_ETHICAL = PREFIX + "gate.ethical"
GATE_REASONS = PREFIX + "gate.reasons"
GATE_CHECKS = PREFIX + "gate.checks"
GATE_UNCERTAIN = PREFIX + "gate.uncertain"
GATE_CHAMPION = PREFIX + "gate.champion_version"

# ------------------------------------------------------------------ model files (versions)
MODEL_DIGEST = PREFIX + "model_sha256"
MODEL_FILES = PREFIX + "model_files_sha256"
MODEL_CARD = PREFIX + "model_card"

# ------------------------------------------------------------------ champion and approvals (versions)
STABLE_FAIR = PREFIX + "stable_fair"
LAST_ROLLBACK = PREFIX + "last_rollback"
AWAITING_APPROVAL = PREFIX + "awaiting_approval"
GATED_AGAINST = PREFIX + "approval.gated_against"
APPROVED_BY = PREFIX + "approved_by"

# ------------------------------------------------------------------ the registered model
ALIAS_HISTORY = PREFIX + "alias_history"
LAST_ALIAS_MOVE = PREFIX + "last_alias_move."
# ------------------------------------------------------------------ monitoring (runs of monitoring.experiment)
MONITORING_KEY = PREFIX + "monitoring.key"  # what determines the verdict: one run per key
MONITORING_INTERVAL = PREFIX + "monitoring.interval"
MONITORING_VERDICT = PREFIX + "monitoring.verdict"  # the worst level over the horizons: ok, warn or critical
MONITORING_ACTION = PREFIX + "monitoring.action"  # what the alerting did: none, notify, alert, rollback, freeze
MONITORED_MODEL = PREFIX + "monitoring.model_name"
MONITORED_VERSION = PREFIX + "monitoring.model_version"  # the champion version whose decisions were monitored

# the audit log's head (seq and hash of its last entry), anchored outside its database after every append
AUDIT_HEAD = PREFIX + "audit.head"

# the lineage every registered version carries (the model card names any that is missing)
EXPECTED_VERSION_TAGS = (
    DATA_HASH,
    GIT_COMMIT,
    GIT_DIRTY,
    CONFIG_HASH,
    DAG_ID,
    AIRFLOW_RUN_ID,
    DATA_INTERVAL,
    MLFLOW_RUN_ID,
    BETA_FACTOR,
    CLASS_WEIGHTS,
    CLASS_WEIGHTS_HEX,
    MITIGATION,
    WEIGHTS_CHECK,
    GATE_DECISION,
    GATE_TECHNICAL,
    GATE_ETHICAL,
    GATE_REASONS,
)


def stage_verdict(stage: str) -> str:
    """The run tag holding a check stage's verdict (``audit`` or ``leakage``)."""
    return f"{PREFIX}{stage}.verdict"


def last_alias_move(field: str) -> str:
    """The registered-model tag holding one field of the latest move of ``champion``."""
    return LAST_ALIAS_MOVE + field


def lineage(key: str) -> str:
    """The tag of one lineage field named without its prefix (``git_commit``, ``git_dirty``)."""
    return PREFIX + key
