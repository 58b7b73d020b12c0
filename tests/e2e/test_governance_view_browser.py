"""The governance view as a reviewer opens it: a real ``airflow api-server``, Airflow's own sign-in, a real browser.

The project is the one tests/governance_state.py builds with fairgate's own
functions (a champion, a blocked version, a rollback that froze deployments, a
candidate waiting with one sign-off, a refusal, a monitoring verdict). Its
Airflow metadata is migrated as ``fairgate init`` does, and ``airflow
api-server`` runs on 127.0.0.1 with the project's Airflow environment
(:func:`pipelines.core.project.airflow_environment`, so the plugin loads from
the repository's ``plugins/`` exactly as under ``make airflow``) and Airflow's
simple auth manager with one viewer account whose password the test writes.

Checked:

- Airflow loaded the plugin (its FastAPI app and its navigation entry) without
  import errors;
- every endpoint of the view refuses a request without a valid Airflow
  identity (no credential, a forged token) with Airflow's 401 or 403, and
  serves GET only;
- with a token from Airflow's ``/auth/token``, every endpoint answers and the
  JSON the server gathered equals what the test gathers from the same record;
- in headless Chromium at 1280x800, signed in through Airflow's cookie, the
  champion and its three gate verdicts, the audit verdict and the freeze are
  on screen without scrolling; the model card link opens the card; the
  "Governance" entry of Airflow's own UI shows the view; without the cookie
  the page is refused.

Screenshots go to ``$FAIRGATE_TEST_ARTIFACTS/governance-view`` (or the
session's ``artifacts/governance-view``) and their paths are printed. The
server and the browser are stopped by the module's fixtures whatever the
tests do. Without Debian's ``chromium`` at /usr/bin/chromium the browser
tests fail and say what to install; they never skip.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.browser import headless_chromium
from tests.governance_state import ETHICAL_FAILURE, ROLLBACK_BY, TECHNICAL_BY, GovernanceState, build
from tests.servers import ServerProcess, free_port, start_process, wait_for_http

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

VIEWPORT = {"width": 1280, "height": 800}  # a laptop screen: what is "above the fold"
UI_TIMEOUT_MS = 60_000
API_SERVER_STARTUP_TIMEOUT = 240.0
VIEWER = "reviewer"
PREFIX = "/fairgate"


@dataclass
class Airflow:
    """The running api-server, the project it serves and the viewer's credentials."""

    state: GovernanceState
    server: ServerProcess
    port: int
    password: str
    artifacts: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def endpoints(self) -> list[str]:
        state = self.state
        return [
            f"{PREFIX}/",
            f"{PREFIX}/state.json",
            f"{PREFIX}/versions/{state.blocked}/gate-report",
            f"{PREFIX}/versions/{state.champion}/gate-report",
            f"{PREFIX}/versions/{state.champion}/model-card",
            f"{PREFIX}/versions/{state.waiting}/model-card",
        ]

    def token(self) -> str:
        response = httpx.post(f"{self.base_url}/auth/token", json={"username": VIEWER, "password": self.password},
                              timeout=30)
        assert response.status_code == 201, response.text
        return str(response.json()["access_token"])


@pytest.fixture(scope="module")
def state(session_root: Path) -> Iterator[GovernanceState]:
    patch = pytest.MonkeyPatch()
    try:
        yield build(session_root / "governance-view-project", patch)
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def airflow(state: GovernanceState, session_root: Path) -> Iterator[Airflow]:
    from pipelines.flows.cli import airflow_command, prepare_embedded

    env = {k: v for k, v in prepare_embedded(state.paths, quiet=True).items() if not k.startswith("MLFLOW_")}
    password = secrets.token_urlsafe(16)
    passwords = state.paths.airflow_home / "simple_auth_manager_passwords.json"
    passwords.write_text(json.dumps({VIEWER: password}), encoding="utf-8")
    env.update({
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{VIEWER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
    })
    port = free_port()
    artifacts = Path(os.environ.get("FAIRGATE_TEST_ARTIFACTS") or session_root / "artifacts") / "governance-view"
    artifacts.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    server = start_process(
        "airflow-api-server",
        airflow_command("api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        session_root / "governance-view-api-server",
        env=env,
        cwd=state.root,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/v2/monitor/health", server, API_SERVER_STARTUP_TIMEOUT)
        ready = time.monotonic() - started
        print(f"\nairflow api-server (pid {server.pid}) ready after {ready:.1f} s", file=sys.stderr)
        yield Airflow(state, server, port, password, artifacts)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def token(airflow: Airflow) -> str:
    return airflow.token()


def test_airflow_loaded_the_plugin_and_its_navigation_entry(airflow: Airflow, token: str):
    headers = {"Authorization": f"Bearer {token}"}
    errors = httpx.get(f"{airflow.base_url}/api/v2/plugins/importErrors", headers=headers, timeout=30)
    assert errors.status_code == 200, errors.text
    assert errors.json()["total_entries"] == 0, errors.json()
    listed = httpx.get(f"{airflow.base_url}/api/v2/plugins", headers=headers, timeout=30).json()["plugins"]
    (plugin,) = [p for p in listed if p["name"] == "fairgate_governance"]
    assert [(a["name"], a["url_prefix"]) for a in plugin["fastapi_apps"]] == [("fairgate governance", PREFIX)]
    (view,) = plugin["external_views"]
    assert (view["name"], view["href"], view["url_route"], view["destination"]) == (
        "Governance", f"{PREFIX}/", "governance", "nav"
    )


def test_every_endpoint_refuses_a_request_without_an_airflow_identity(airflow: Airflow):
    forged = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJyZXZpZXdlciJ9.c2lnbmF0dXJl"
    for path in airflow.endpoints():
        url = airflow.base_url + path
        anonymous = httpx.get(url, timeout=30)
        assert anonymous.status_code == 401, (path, anonymous.status_code, anonymous.text[:300])
        assert anonymous.json() == {"detail": "Not authenticated"}
        bearer = httpx.get(url, headers={"Authorization": f"Bearer {forged}"}, timeout=30)
        assert bearer.status_code in (401, 403), (path, bearer.status_code, bearer.text[:300])
        cookie = httpx.get(url, cookies={"_token": forged}, timeout=30)
        assert cookie.status_code in (401, 403), (path, cookie.status_code, cookie.text[:300])
        assert "champion" not in anonymous.text + bearer.text + cookie.text
    # no schema or docs page is served beside the view, authenticated or not
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert httpx.get(airflow.base_url + PREFIX + path, timeout=30).status_code in (401, 403, 404)


def test_an_authenticated_viewer_gets_every_endpoint_read_only(airflow: Airflow, token: str):
    from pipelines.flows.governance_view import governance_view
    from pipelines.governance.records import open_audit_log

    state = airflow.state
    headers = {"Authorization": f"Bearer {token}"}
    with open_audit_log(state.paths, state.config) as log:
        before = [e.entry_hash for e in log.entries()]
    for path in airflow.endpoints():
        response = httpx.get(airflow.base_url + path, headers=headers, timeout=60)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        assert response.headers["cache-control"] == "no-store"
    overview = httpx.get(f"{airflow.base_url}{PREFIX}/", headers=headers, timeout=60)
    assert overview.headers["content-type"].startswith("text/html")
    assert f"signed in to Airflow as {VIEWER}" in overview.text
    served = httpx.get(f"{airflow.base_url}{PREFIX}/state.json", headers=headers, timeout=60).json()
    assert served == json.loads(json.dumps(governance_view(state.paths, state.config)))
    card = httpx.get(f"{airflow.base_url}{PREFIX}/versions/{state.champion}/model-card", headers=headers, timeout=60)
    assert card.headers["content-security-policy"] == "sandbox"
    missing = httpx.get(f"{airflow.base_url}{PREFIX}/versions/99/gate-report", headers=headers, timeout=60)
    assert missing.status_code == 404 and "version 99" in missing.json()["detail"]
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in airflow.endpoints():
            refused = httpx.request(method, airflow.base_url + path, headers=headers, timeout=30)
            assert refused.status_code == 405, (method, path, refused.status_code)
    with open_audit_log(state.paths, state.config) as log:
        assert [e.entry_hash for e in log.entries()] == before


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with headless_chromium() as chromium:
        yield chromium


def new_page(browser, airflow: Airflow, token: str | None):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(UI_TIMEOUT_MS)
    if token is not None:  # the cookie Airflow's own sign-in sets
        context.add_cookies([{"name": "_token", "value": token, "url": airflow.base_url}])
    return context, context.new_page()


def save_screenshot(page, airflow: Airflow, name: str, capsys, full_page: bool = False) -> Path:
    path = airflow.artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    with capsys.disabled():
        print(f"\nscreenshot: {path}")
    return path


def test_the_champion_and_its_verdicts_are_above_the_fold(browser, airflow: Airflow, token: str, capsys):
    from playwright.sync_api import expect

    state = airflow.state
    context, page = new_page(browser, airflow, token)
    try:
        page.goto(f"{airflow.base_url}{PREFIX}/")
        champion = page.locator("#champion")
        champion.wait_for(state="visible")
        expect(champion).to_contain_text(f"version {state.champion}")
        verdicts = page.locator("#champion-verdicts .verdict")
        expect(verdicts).to_have_text(["passed", "passed", "passed"])
        for index in range(3):
            expect(verdicts.nth(index)).to_be_in_viewport()
        for block, text in (("#audit", "ok"), ("#freeze", ROLLBACK_BY), ("#freeze", "frozen")):
            expect(page.locator(block)).to_be_in_viewport()
            expect(page.locator(block)).to_contain_text(text)
        # nothing is above the fold only because the page scrolled
        assert page.evaluate("window.scrollY") == 0
        save_screenshot(page, airflow, "overview-above-the-fold", capsys)
        save_screenshot(page, airflow, "overview-full-page", capsys, full_page=True)

        # and the other direction: the blocked version is listed as blocked, never as champion
        blocked_row = page.locator("#versions tr", has_text=f"v{state.blocked}")
        expect(blocked_row.locator(".verdict").first).to_have_text("blocked")
        expect(blocked_row).not_to_contain_text("champion")
        waiting = page.locator("#pending tr", has_text=f"v{state.waiting}")
        expect(waiting).to_contain_text(TECHNICAL_BY)
        expect(waiting).to_contain_text(f"an ethical sign-off from someone other than {TECHNICAL_BY}")
        expect(page.locator("#refusals")).to_contain_text("did not pass every gate")
        expect(page.locator("#monitoring")).to_contain_text("warn")

        blocked_row.get_by_role("link", name="gate report").click()
        page.wait_for_url(f"**{PREFIX}/versions/{state.blocked}/gate-report")
        expect(page.locator("#gate-report")).to_contain_text(ETHICAL_FAILURE)
        expect(page.locator("#gate-report")).to_be_in_viewport()
        save_screenshot(page, airflow, f"gate-report-v{state.blocked}-blocked", capsys)
        page.go_back()

        champion.get_by_role("link", name="model card").click()
        page.wait_for_url(f"**{PREFIX}/versions/{state.champion}/model-card")
        expect(page.locator("body")).to_contain_text(f"version {state.champion}", ignore_case=True)
        save_screenshot(page, airflow, f"model-card-v{state.champion}", capsys)
    finally:
        context.close()


def test_the_governance_entry_of_airflows_ui_shows_the_view(browser, airflow: Airflow, token: str, capsys):
    from playwright.sync_api import expect

    context, page = new_page(browser, airflow, token)
    try:
        page.goto(f"{airflow.base_url}/plugin/governance")
        frame = page.frame_locator("iframe")
        expect(frame.locator("#champion")).to_contain_text(f"version {airflow.state.champion}")
        expect(page.get_by_role("link", name="Governance")).to_have_count(1)
        save_screenshot(page, airflow, "airflow-ui-governance-entry", capsys)
    finally:
        context.close()


def test_without_signing_in_the_browser_is_refused(browser, airflow: Airflow, capsys):
    from playwright.sync_api import expect

    context, page = new_page(browser, airflow, None)
    try:
        response = page.goto(f"{airflow.base_url}{PREFIX}/")
        assert response is not None and response.status == 401
        expect(page.locator("body")).to_contain_text("Not authenticated")
        expect(page.locator("#champion")).to_have_count(0)
        save_screenshot(page, airflow, "overview-not-signed-in", capsys)
    finally:
        context.close()
