# fairgate's image, for every service of docker-compose.yml that runs fairgate or MLflow: the same pinned
# dependency set `make` installs (requirements.lock through `uv pip sync`, the same uv), then the package
# installed editable, so the dags/, plugins/, pipelines/ and deploy/ that compose mounts are the code that runs.
FROM python:3.11.10-slim-bookworm

ARG UV_VERSION=0.13.9
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    AIRFLOW_HOME=/opt/airflow \
    FAIRGATE_HOME=/opt/fairgate/project

# git for DVC and the lineage tags, curl for the health checks; an unprivileged user (Airflow's uid)
RUN apt-get update \
    && apt-get install -y --no-install-recommends git curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 50000 --create-home --shell /bin/bash fairgate

WORKDIR /opt/fairgate
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir "uv==${UV_VERSION}" \
    && python -m venv /opt/venv \
    && uv pip sync --no-cache --python /opt/venv/bin/python requirements.lock

COPY pipelines ./pipelines
COPY dags ./dags
COPY plugins ./plugins
COPY deploy ./deploy
COPY fairgate.yaml ./
RUN uv pip install --no-cache --python /opt/venv/bin/python --no-deps -e . \
    && mkdir -p /opt/fairgate/project /opt/airflow/logs /opt/airflow/auth \
    && chown -R fairgate:fairgate /opt/fairgate/project /opt/airflow

USER fairgate
