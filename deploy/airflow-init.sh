#!/usr/bin/env bash
# Run once by the airflow-init job before any other Airflow service starts; safe to run again.
#   1. migrate Airflow's metadata database (Postgres);
#   2. create the admin from AIRFLOW_ADMIN_USER / AIRFLOW_ADMIN_PASSWORD: the SimpleAuthManager's
#      passwords file, on the volume the api-server reads (readable by the image's user only);
#   3. prepare the shared fairgate project at FAIRGATE_HOME: git and DVC initialised, the default DVC
#      remote "storage" at DVC_REMOTE_URL, with DVC_REMOTE_ENDPOINT_URL for an S3-compatible store
#      other than AWS (MinIO); the credentials stay in the workers' AWS_* variables, never in a file.
# No secret is echoed.
set -euo pipefail

: "${AIRFLOW_ADMIN_USER:?}" "${AIRFLOW_ADMIN_PASSWORD:?}" "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?}"
: "${FAIRGATE_HOME:?}" "${DVC_REMOTE_URL:?}"

airflow db migrate

umask 077
python - <<'PY'
import json
import os
from pathlib import Path

passwords = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
passwords.write_text(json.dumps({os.environ["AIRFLOW_ADMIN_USER"]: os.environ["AIRFLOW_ADMIN_PASSWORD"]}))
PY
echo "airflow-init: admin ${AIRFLOW_ADMIN_USER} can sign in"

umask 022
cd "$FAIRGATE_HOME"
test -f fairgate.yaml || { echo "airflow-init: ${FAIRGATE_HOME}/fairgate.yaml is missing (mount it)" >&2; exit 2; }
test -d .git || git init --quiet
test -d .dvc || python -m dvc init --quiet
python -m dvc config core.analytics false
python -m dvc remote add --force --default storage "$DVC_REMOTE_URL"
if [ -n "${DVC_REMOTE_ENDPOINT_URL:-}" ]; then
    python -m dvc remote modify storage endpointurl "$DVC_REMOTE_ENDPOINT_URL"
fi
echo "airflow-init: project ${FAIRGATE_HOME} ready, DVC remote ${DVC_REMOTE_URL} ${DVC_REMOTE_ENDPOINT_URL:-}"
