"""
### unfreeze: one sign-off for lifting the freeze on automatic promotion.

Manual trigger only. Deployments are frozen by `fairgate freeze`, by the
`freeze` DAG, and after every rollback. Lifting the freeze takes the same rule
as approving a model: **two sign-offs from two different people**, one
**technical** and one **ethical**, both given for the current freeze (a newer
freeze, e.g. another rollback, needs new sign-offs).

Each run gives one sign-off. Who signs is the Airflow user who triggered the
run, never a field of this form; a run without a triggering user is refused,
and so is a second kind of sign-off by the same person (recorded as a
`refusal` in the audit log). The run that completes the pair appends the
`unfreeze` entry. A retried task appends nothing twice.
"""

from __future__ import annotations

from governed_dag import sign_off_dag

unfreeze = sign_off_dag(
    dag_id="unfreeze",
    description="Technical or ethical sign-off for lifting the freeze on automatic promotion",
    doc_md=__doc__,
    step="sign_unfreeze",
    sign_off_help="technical or ethical: the side you vouch for when automatic promotion resumes. "
    "Your Airflow user is recorded; one person cannot give both.",
)
