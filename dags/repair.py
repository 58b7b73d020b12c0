"""
### repair: one sign-off for repairing an integrity alarm on `champion`.

Manual trigger only. `champion` was moved outside fairgate (the MLflow UI's
alias pencil, a client call): the registry no longer shows the champion the
audit log's last recorded move left. fairgate found it (every `fairgate
status`, `audit verify`, `lineage`, every move and the first task of every
DAG compare the two), recorded an `integrity_alarm`, and refuses every
promotion, approval and rollback until the alarm is repaired.

A repair takes **two sign-offs from two different people**, one
**technical** and one **ethical**, given for the open alarm. The run that
completes the pair moves `champion` back to the version the audit log
recorded (its recorded gate decision and model files checked, its gate tags
written again from the record) and appends the `repair` entry. Who signs is
the Airflow user who triggered the run; a run without one is refused, and so
is a second kind of sign-off by the same person. A retried task appends
nothing twice.
"""

from __future__ import annotations

from governed_dag import sign_off_dag

repair = sign_off_dag(
    dag_id="repair",
    description="Technical or ethical sign-off for putting champion back after an integrity alarm",
    doc_md=__doc__,
    step="sign_repair",
    sign_off_help="technical or ethical: the side you vouch for when champion goes back to the version the "
    "audit log recorded. Your Airflow user is recorded; one person cannot give both.",
)
