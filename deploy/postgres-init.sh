#!/usr/bin/env bash
# Separate databases and users for Airflow metadata, the MLflow store and the audit log.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE USER "${AIRFLOW_DB_USER}" WITH PASSWORD '${AIRFLOW_DB_PASSWORD}';
CREATE DATABASE airflow OWNER "${AIRFLOW_DB_USER}";
CREATE USER "${MLFLOW_DB_USER}" WITH PASSWORD '${MLFLOW_DB_PASSWORD}';
CREATE DATABASE mlflow OWNER "${MLFLOW_DB_USER}";
CREATE USER "${AUDIT_DB_USER}" WITH PASSWORD '${AUDIT_DB_PASSWORD}';
CREATE DATABASE fairgate_audit OWNER "${AUDIT_DB_USER}";
SQL
