#!/usr/bin/env bash
# Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d/).
# One database per store, each owned by its own user, nobody else allowed to connect:
#   airflow         Airflow's metadata (and the Celery result backend)
#   mlflow          the MLflow tracking and registry store
#   mlflow_auth     the MLflow server's users and permissions (its basic-auth app, deploy/mlflow-auth.ini)
#   fairgate_audit  the tamper-evident audit log
# Names and passwords come from the environment (see .env.example); psql quotes them (:"name", :'password'),
# so no value is pasted into SQL and none is echoed.
set -euo pipefail

create_store() {
    local user="$1" password="$2" database="$3"
    psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v user="$user" -v password="$password" -v database="$database" <<'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'password';
CREATE DATABASE :"database" OWNER :"user";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
SQL
    echo "postgres-init: database ${database} owned by ${user}"
}

create_store "${AIRFLOW_DB_USER:?}" "${AIRFLOW_DB_PASSWORD:?}" airflow
create_store "${MLFLOW_DB_USER:?}" "${MLFLOW_DB_PASSWORD:?}" mlflow
create_store "${MLFLOW_AUTH_DB_USER:?}" "${MLFLOW_AUTH_DB_PASSWORD:?}" mlflow_auth
create_store "${AUDIT_DB_USER:?}" "${AUDIT_DB_PASSWORD:?}" fairgate_audit
