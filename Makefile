# fairgate: two commands a user needs, `make run` and `make test`.
# Everything is installed from the package registries into .venv, pinned by requirements.lock.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9
MLFLOW_PORT ?= 5000
AIRFLOW_PORT ?= 8080

.PHONY: install bytecode system-packages run test lint bench mlflow-ui airflow clean-state lock docs

# the virtual environment is rebuilt only when the lock or the package definition changes
$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found: fairgate needs Python 3.11"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Every Airflow task, DVC call and `fairgate` command is a new Python process. Byte-compiled files let
# each one skip compiling MLflow, scikit-learn and pandas from source again (seconds per process), even
# where PYTHONDONTWRITEBYTECODE stops Python from writing them itself. Stale ones are ignored by Python.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q pipelines dags plugins tests benchmarks >/dev/null

## one governed retraining on the embedded default, ending with a summary
run: $(STAMP) bytecode
	$(BIN)/fairgate run $(ARGS)

# Debian packages the tests run for real: headless Chromium and its driver (the MLflow UI in a browser),
# PostgreSQL and Redis (the production path). Installed with apt-get when missing (needs root); the
# tests start and stop their own server processes, never the system services.
SYSTEM_PACKAGES := chromium chromium-driver postgresql redis-server
SYSTEM_COMMANDS := /usr/bin/chromium /usr/bin/chromedriver /usr/lib/postgresql/15/bin/initdb /usr/bin/redis-server

system-packages:
	@missing=""; for c in $(SYSTEM_COMMANDS); do test -x $$c || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages $(SYSTEM_PACKAGES) (missing:$$missing)"; \
	  if [ "$$(id -u)" != 0 ]; then echo "make: need root to apt-get install $(SYSTEM_PACKAGES); install them and retry"; exit 2; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null \
	    || { echo "make: apt-get install $(SYSTEM_PACKAGES) failed"; exit 2; }; \
	fi

## the whole test suite (CI runs exactly this)
test: $(STAMP) bytecode system-packages
	FAIRGATE_TEST_ARTIFACTS=$(CURDIR)/var/test-artifacts $(BIN)/python -m pytest --require-blocking-tests

lint: $(STAMP)
	$(BIN)/ruff check pipelines dags plugins tests benchmarks
	$(BIN)/mypy pipelines

## the whole governed run against a bare script (100k, 1M; 5M scale check), stage-by-stage timing and peak memory,
## scoring and monitoring throughput at 100k and 1M rows; rollback trigger-to-move time
bench: $(STAMP) bytecode
	mkdir -p var/bench
	$(BIN)/python -m benchmarks.whole_run --markdown var/bench/whole_run.md --json var/bench/whole_run.json
	$(BIN)/python benchmarks/run.py
	$(BIN)/python -m benchmarks.weights
	$(BIN)/python -m benchmarks.audit_leakage
	$(BIN)/python -m benchmarks.evaluate_gate
	$(BIN)/python -m benchmarks.rollback

## the MLflow UI over the embedded store, on 127.0.0.1
mlflow-ui: $(STAMP)
	mkdir -p mlflow/artifacts
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow/mlflow.db \
		--default-artifact-root $(CURDIR)/mlflow/artifacts --host 127.0.0.1 --port $(MLFLOW_PORT)

## airflow standalone with the project's dags/ and plugins/ (scheduler, API server, UI)
airflow: $(STAMP)
	AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=$(AIRFLOW_PORT) $(BIN)/fairgate airflow standalone

## the documentation site from docs/ and the docstrings, warnings as errors (make test builds it too)
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir var/site
	@echo "docs: var/site/index.html"

## re-pin the dependency set (needs the registries); commit requirements.lock afterwards
lock: $(STAMP)
	$(BIN)/uv pip compile --quiet --python-version 3.11 requirements.in -o requirements.lock

## forget the embedded stores (MLflow, Airflow, run outputs, DVC remote); data.dvc and data/ stay
clean-state:
	rm -rf .airflow var mlflow/mlflow.db mlflow/artifacts dvc-remote
