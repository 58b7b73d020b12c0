"""The lineage of a registered version, as a person sees it in the MLflow UI: a real server, a real browser.

One real governed retraining (``fairgate run``, the ``retrain`` DAG through
Airflow) registers and promotes version 1 in a temporary project. ``mlflow
server`` then serves that project's own store (its SQLite file and artifact
root), and headless Chromium, driven by Playwright, opens the pages a reviewer
would open:

- the registered version page (``#/models/<model>/versions/1``): its Tags
  table (rows keyed by tag name, ``tr[data-row-key=<key>]``, scrolling inside
  a box a few rows high) must show every lineage tag, scrolled into view, with
  the value the registry holds, character for character
  (``fairgate.class_weights`` at full precision), the gate decision, and a
  "Source Run" link to the MLflow run that trained it;
- the run page, reached through that link, must be the run the version names;
- the run page's "Datasets" panel must show the "training" and "holdout"
  datasets the run logged as inputs.

Expected values are read from the registry with an MLflow client and checked
against what the pipeline printed, so the browser is compared with the store,
and the store with the run. Full-page screenshots are saved in
``$FAIRGATE_TEST_ARTIFACTS/mlflow-ui`` (or the session's ``artifacts/mlflow-ui``,
deleted with the session) and their paths printed; ``...-all-tags.png`` is
taken after the assertions with the Tags box expanded, to show every tag.

The server and the browser are stopped by the module's fixtures whatever the
tests do. Without Debian's ``chromium`` at /usr/bin/chromium the tests fail
and say what to install; they never skip.
"""

from __future__ import annotations

import ast
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser import headless_chromium
from tests.projects import MODEL, client_for
from tests.servers import MlflowServer, mlflow_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Tall enough that the whole version page and run overview fit without inner scrolling: the MLflow
# UI scrolls inside its own panes, which a full-page screenshot would cut off.
VIEWPORT = {"width": 1600, "height": 2400}
# The first render of a page waits up to this long (two cores shared with Airflow and the server);
# the assertions that follow use Playwright's own expect timeout (5 s) on the rendered page.
UI_TIMEOUT_MS = 60_000
VERSION = "1"
LINEAGE_TAGS = (
    "fairgate.data_hash",
    "fairgate.git_commit",
    "fairgate.config_hash",
    "fairgate.dag_id",
    "fairgate.airflow_run_id",
    "fairgate.data_interval",
    "fairgate.beta_factor",
    "fairgate.class_weights",
    "fairgate.mlflow_run_id",
    "fairgate.gate.decision",
    "fairgate.gate.technical",
    "fairgate.gate.ethical",
)
DATASETS = ("training", "holdout")


@dataclass
class Registered:
    """Version 1 of the model as the registry holds it, and what the run that made it printed."""

    project: Path
    tags: dict[str, str]
    run_id: str
    run_name: str
    experiment_id: str
    run_output: str


@dataclass
class Site:
    """The running MLflow server and where this module saves its screenshots."""

    server: MlflowServer
    artifacts: Path

    def version_url(self) -> str:
        return f"{self.server.base_url}/#/models/{MODEL}/versions/{VERSION}"

    def run_url(self, registered: Registered) -> str:
        return f"{self.server.base_url}/#/experiments/{registered.experiment_id}/runs/{registered.run_id}"


@pytest.fixture(scope="module")
def registered(first_run) -> Registered:
    """Version 1 of the e2e project's first governed retraining (tests/e2e/conftest.py); only read here."""
    project, result = first_run.project, first_run.result
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "outcome: PROMOTED" in result.stdout, result.stdout[-3000:]
    client = client_for(project)
    version = client.get_model_version(MODEL, VERSION)
    run = client.get_run(version.run_id)
    return Registered(
        project=project,
        tags=dict(version.tags),
        run_id=version.run_id,
        run_name=run.info.run_name,
        experiment_id=run.info.experiment_id,
        run_output=result.stdout,
    )


@pytest.fixture(scope="module")
def site(registered: Registered, session_root: Path) -> Iterator[Site]:
    from pipelines.core.project import ProjectPaths

    paths = ProjectPaths(registered.project)
    artifacts = Path(os.environ.get("FAIRGATE_TEST_ARTIFACTS") or session_root / "artifacts") / "mlflow-ui"
    artifacts.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with mlflow_server(
        f"sqlite:///{paths.mlflow_db.resolve()}", paths.mlflow_artifacts, session_root / "ui-mlflow-server"
    ) as server:
        print(f"\nmlflow server (pid {server.server.pid}) ready after {time.monotonic() - started:.1f} s")
        yield Site(server, artifacts)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with headless_chromium() as chromium:
        yield chromium


@pytest.fixture
def page(browser, site: Site):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(UI_TIMEOUT_MS)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def close_assistant(page) -> None:
    """Close the MLflow Assistant side panel when it is open, so screenshots show the page itself."""
    close = page.locator('[data-component-id="mlflow.assistant.chat_panel.close"]')
    if close.count() and close.first.is_visible():
        close.first.click()


def save_screenshot(page, site: Site, name: str, capsys: pytest.CaptureFixture) -> Path:
    path = site.artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")  # a drawer still sliding in is cut
    with capsys.disabled():
        print(f"\nscreenshot: {path}")
    return path


def tag_row(page, key: str):
    """The row of the version page's Tags table for ``key`` (the table keys its rows by tag name)."""
    return page.locator(f'tr[data-row-key="{key}"]')


def expand_tags_table(page) -> None:
    """For the record only, after the assertions: lift the Tags table's scroll box so one screenshot shows every tag.

    The page's main pane scrolls on its own too, so the viewport grows to the pane's full height.
    """
    page.locator(".editable-table .du-bois-light-table-body").evaluate(
        "box => { box.style.maxHeight = 'none'; box.style.height = 'auto'; box.style.overflowY = 'visible'; }"
    )
    pane_height = page.locator("main", has=page.locator(".editable-table")).evaluate("pane => pane.scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], pane_height + 64)})


def open_version_page(page, site: Site):
    page.goto(site.version_url())
    tag_row(page, "fairgate.data_hash").wait_for(state="visible")
    close_assistant(page)


def test_registry_holds_the_lineage_the_run_printed(registered: Registered):
    """The expected values the browser is checked against are themselves the run's, not just any value."""
    tags, output = registered.tags, registered.run_output
    (data_hash,) = re.findall(r"first data version created: (\S+)", output)
    (printed_weights,) = re.findall(r"class weights (\{[^}]*\})", output)
    assert tags["fairgate.data_hash"] == data_hash
    assert json.loads(tags["fairgate.class_weights"]) == ast.literal_eval(printed_weights)
    assert all(len(weight.split(".")[1]) > 3 for weight in json.loads(tags["fairgate.class_weights"]).values())
    assert re.fullmatch(r"[0-9a-f]{40}", tags["fairgate.git_commit"])
    assert re.fullmatch(r"[0-9a-f]{64}", tags["fairgate.config_hash"])
    assert (tags["fairgate.dag_id"], tags["fairgate.data_interval"]) == ("retrain", "2026-01")
    assert tags["fairgate.airflow_run_id"] in output
    assert tags["fairgate.mlflow_run_id"] == registered.run_id
    assert tags["fairgate.gate.decision"] == "passed"


def test_version_page_shows_every_lineage_tag_and_the_gate_decision(page, site, registered, capsys):
    from playwright.sync_api import expect

    open_version_page(page, site)
    expect(page.get_by_role("heading", name=f"Version {VERSION}", exact=True)).to_be_visible()
    save_screenshot(page, site, f"{MODEL}-version-{VERSION}", capsys)

    for key in LINEAGE_TAGS:
        row = tag_row(page, key)
        expect(row, f"tag row {key}").to_have_count(1)
        # the Tags table scrolls inside a box of a few rows: scroll as a reader would, then the row
        # must really be on screen (the viewport check accounts for the box's clipping)
        row.scroll_into_view_if_needed()
        expect(row, f"tag row {key}").to_be_in_viewport()
        name_cell, value_cell = row.locator("td").nth(0), row.locator("td").nth(1)
        expect(name_cell).to_have_text(key)
        expected = registered.tags[key]
        expect(value_cell, f"value of {key}").to_have_text(expected)
        shown = value_cell.text_content()
        assert shown == expected, f"{key}: the page shows {shown!r}, the registry holds {expected!r}"

    expect(tag_row(page, "fairgate.gate.decision").locator("td").nth(1)).to_have_text("passed")

    # and the other direction: what is not a tag of this version is not on the page
    expect(tag_row(page, "fairgate.override")).to_have_count(0)
    weights = json.loads(registered.tags["fairgate.class_weights"])
    rounded = json.dumps({label: str(round(float(w), 3)) for label, w in weights.items()})
    shown_weights = tag_row(page, "fairgate.class_weights").locator("td").nth(1).text_content()
    assert shown_weights != rounded
    expect(page.get_by_text(rounded, exact=True)).to_have_count(0)
    expect(tag_row(page, "fairgate.gate.decision").locator("td").nth(1)).not_to_have_text("blocked")

    expand_tags_table(page)
    save_screenshot(page, site, f"{MODEL}-version-{VERSION}-all-tags", capsys)


def test_version_page_links_to_the_run_that_trained_it(page, site, registered, capsys):
    from playwright.sync_api import expect

    open_version_page(page, site)
    source_run = page.locator('[data-testid="descriptions-item"]').filter(
        has=page.locator('[data-testid="descriptions-item-label"]', has_text=re.compile(r"^Source Run$"))
    )
    link = source_run.locator('[data-testid="descriptions-item-content"] a')
    expect(link).to_have_count(1)
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", f"#/experiments/{registered.experiment_id}/runs/{registered.run_id}")
    expect(link).to_have_text(registered.run_name)

    link.click()
    run_id = page.locator('[data-testid="key-value-Run ID"]')
    run_id.wait_for(state="visible")
    expect(page).to_have_url(re.compile(rf"#/experiments/{registered.experiment_id}/runs/{registered.run_id}$"))
    expect(run_id).to_contain_text(registered.run_id)
    expect(page.get_by_role("heading", name=registered.run_name, exact=True)).to_be_visible()
    close_assistant(page)
    save_screenshot(page, site, f"run-{registered.run_id}", capsys)


def test_run_page_shows_the_training_and_holdout_datasets(page, site, registered, capsys):
    from playwright.sync_api import expect

    page.goto(site.run_url(registered))
    heading = page.get_by_role("heading", name="Datasets", exact=True)
    heading.wait_for(state="visible")
    close_assistant(page)
    panel = heading.locator("xpath=..")  # the heading and the run's dataset inputs share one row
    expect(page.locator('[data-testid="key-value-Run ID"]')).to_contain_text(registered.run_id)
    save_screenshot(page, site, f"run-{registered.run_id}-datasets", capsys)

    entries = panel.locator('[role="button"]')
    assert entries.count() > 0, f"the run page's Datasets panel shows no dataset: {panel.inner_text()!r}"
    entries.first.click()  # opens the "Data details" drawer, which lists every dataset input of the run
    drawer = page.get_by_role("dialog").filter(has_text="Data details for")
    expect(drawer).to_be_visible()
    save_screenshot(page, site, f"run-{registered.run_id}-dataset-details", capsys)

    inputs = client_for(registered.project).get_run(registered.run_id).inputs.dataset_inputs
    logged = {i.dataset.name: i.dataset.digest for i in inputs}
    for name in DATASETS:
        listed = drawer.get_by_text(re.compile(rf"^{name} \([0-9a-f]+\)$"))
        expect(listed, f"dataset {name} in the run's data details").to_have_count(1)
        assert name in logged, f"the UI lists {name} but the run logged {sorted(logged)}"
        expect(listed).to_have_text(f"{name} ({logged[name]})")
    # and nothing else: the drawer lists exactly the dataset inputs the run logged
    expect(drawer.get_by_text(re.compile(r"^\S+ \([^()]+\)$"))).to_have_count(len(logged))
