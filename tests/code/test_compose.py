"""docker-compose.yml, validated statically (this machine has no Docker engine)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Z0-9_]+)(?::?[?-][^}]*)?\}")  # $${X} is the container's own variable


def test_every_service_the_design_needs_exists():
    needed = {
        "postgres", "redis", "minio", "minio-buckets", "mlflow", "airflow-init", "airflow-api-server",
        "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker",
    }
    assert needed <= set(COMPOSE["services"])


def test_every_image_is_pinned():
    for name, service in COMPOSE["services"].items():
        image = service.get("image")
        assert image, f"{name} has no image"
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image} is not pinned"


def test_every_service_has_a_health_check():
    for name, service in COMPOSE["services"].items():
        assert "healthcheck" in service, name


def test_every_variable_is_listed_in_env_example_and_required():
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    listed = {
        line.split("=", 1)[0]
        for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    used = set(VARIABLE.findall(text))
    assert used and used <= listed, used - listed
    for match in re.finditer(r"(?<!\$)\$\{([A-Z0-9_]+)([^}]*)\}", text):
        assert match.group(2).startswith(":?"), f"${{{match.group(1)}}} must use :? so compose refuses to start without it"


def test_airflow_services_mount_the_code_and_config():
    for name, service in COMPOSE["services"].items():
        if not name.startswith("airflow-"):
            continue
        targets = {volume.split(":")[1] for volume in service["volumes"]}
        assert {"/opt/fairgate/dags", "/opt/fairgate/plugins", "/opt/fairgate/pipelines", "/opt/fairgate/fairgate.yaml"} <= targets, name
        assert service["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_no_secret_in_the_repository():
    for name, service in COMPOSE["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in ("PASSWORD", "SECRET")):
                assert str(value).startswith("${") and ":?" in str(value), f"{name}.{key} must come from .env"
    assert not (REPO / ".env").exists() or ".env" in (REPO / ".gitignore").read_text(encoding="utf-8")
