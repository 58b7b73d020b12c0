# The project image: the same pinned dependency set as `make` (requirements.lock).
FROM python:3.11.10-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends git curl && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/fairgate
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir uv==0.13.9 \
    && uv pip install --system --no-cache -r requirements.lock \
    && uv pip install --system --no-cache "psycopg2-binary==2.9.10" "apache-airflow-providers-celery" "boto3"
COPY pipelines ./pipelines
COPY dags ./dags
COPY plugins ./plugins
COPY fairgate.yaml ./
RUN uv pip install --system --no-cache --no-deps -e .
ENV FAIRGATE_HOME=/opt/fairgate AIRFLOW_HOME=/opt/airflow
