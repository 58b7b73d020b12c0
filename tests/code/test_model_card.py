"""The model card (pipelines/model_card.py) of real registered versions in a temporary project.

One project for the module (its own ``fairgate.yaml``, MLflow SQLite store and
artifact root under ``mlflow/``, audit log under ``var/audit``): the MLflow
schema takes seconds to create, so the versions are built once:

- v1: generated data, trained, evaluated, gated and registered by the real
  ``retrain`` stages (train, evaluate, gate, register; ingest without DVC, and
  the git state fixed: these tests run no git command), promoted by
  ``champion.promote``;
- v2: the same with Kamiran-Calders reweighing, gated against v1; deployments
  frozen, so it waits; alice (technical) and bob (ethical) approve it; then a
  rollback returns champion to v1;
- v3: a blocked version whose run holds only a hostile gate decision (no data
  summary, no evaluation, no plot); an approval of it is refused;
- v4: a version without any MLflow run.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from markdown_it import MarkdownIt
from mlflow.exceptions import MlflowException

from pipelines.core.config import DatasetSettings, FairgateConfig, load_config
from pipelines.core.errors import BadInputError, BlockedError
from pipelines.core.project import ProjectPaths
from pipelines.data import generator
from pipelines.data.split import holdout_mask
from pipelines.flows import champion, retrain
from pipelines.flows.retrain import model_stages
from pipelines.governance import approvals, registry
from pipelines.reports import model_card

REPO = Path(__file__).resolve().parents[2]
HOSTILE_REASON = 'ethical.gender.demographic_parity_ratio <script>alert("card")</script> | 0.5 & more'
GIT_COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Built:
    """The temporary project and what was built in it."""

    paths: ProjectPaths
    config: FairgateConfig
    client: Any
    name: str
    run_ids: dict[str, str]


def _project_config(root: Path, name: str) -> None:
    raw = yaml.safe_load((REPO / "fairgate.yaml").read_text(encoding="utf-8"))
    raw["registry"]["model_name"] = name
    raw["registry"]["experiment"] = name
    raw["generator"]["rows_per_month"] = 300
    raw["training"]["mitigation"]["method"] = "none"
    raw["evaluation"]["bootstrap"]["resamples"] = 100
    raw["evaluation"].update({"latency_batch_rows": 50, "latency_batches": 2, "latency_repeats": 1})
    # small holdouts are noisy: this project's gate is loose enough for both trained versions to pass
    raw["gate"] = {
        "technical": {"roc_auc": {"min": 0.6}},
        "business": {},
        "ethical": {"demographic_parity_ratio": {"min": 0.5}, "equalized_odds_difference": {"max": 0.5}},
        "non_regression": {"technical.roc_auc": 0.5, "ethical.demographic_parity_difference": 0.5},
    }
    raw["audit_log"]["url"] = None
    (root / "fairgate.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")


def _build_version(
    built: Built, interval: str, months: list[str], overrides: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """Train, evaluate, gate and register one candidate through the real retrain stages (ingest without DVC)."""
    run_id_airflow = f"scheduled__{interval}"
    run_ref = {
        "airflow_run_id": run_id_airflow,
        "dag_id": "retrain",
        "interval": interval,
        "overrides": overrides or {},
        "actor": "airflow:scheduler",
    }
    ctx = retrain.StageContext.open(run_ref)
    config, client = ctx.config, built.client
    frame = pd.concat([generator.generate_month(m, config.generator).frame for m in months], ignore_index=True)
    is_test = holdout_mask(frame, config.dataset, config.split)
    train_file, holdout_file = ctx.run_dir / "train.parquet", ctx.run_dir / "holdout.parquet"
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    frame[~is_test].to_parquet(train_file, index=False)
    frame[is_test].to_parquet(holdout_file, index=False)
    # ingest (without DVC): the run, its config; split: the data summary the lead logs in the split stage
    experiment_id = registry.ensure_experiment(client, built.paths, config.registry.experiment)
    data_hash = f"{uuid.uuid5(uuid.NAMESPACE_URL, interval).hex}.dir"
    mlflow_run_id = registry.open_run(
        client,
        experiment_id,
        run_id_airflow,
        {
            "fairgate.dag_id": "retrain",
            "fairgate.data_interval": interval,
            "fairgate.data_hash": data_hash,
            "fairgate.config_hash": config.config_hash,
            "fairgate.hazards": "",
        },
    )
    client.log_dict(mlflow_run_id, config.as_dict(), "config/fairgate.json")
    summary = model_card.summarise_split(frame[~is_test], frame[is_test], config.dataset)
    client.log_dict(mlflow_run_id, summary, model_card.DATA_SUMMARY_PATH)
    state = {
        "ref": run_ref,
        "ingested": {"mlflow_run_id": mlflow_run_id, "data_hash": data_hash},
        "split": {"train_file": str(train_file), "holdout_file": str(holdout_file)},
    }
    for stage in (retrain.train, retrain.evaluate, retrain.gate, retrain.register):
        state = stage(state)
    version = state["registered"]["version"]
    built.run_ids[version] = mlflow_run_id
    return version, {"state": state, "gated": state["gated"], "trained": state["trained"]}


def _hostile_version(built: Built) -> str:
    """A blocked version whose run holds only a gate decision with a hostile reason."""
    client, config = built.client, built.config
    experiment_id = registry.ensure_experiment(client, built.paths, config.registry.experiment)
    run_id = registry.open_run(client, experiment_id, "manual__hostile", {"fairgate.data_interval": "2024-05"})
    decision = {
        "verdict": "blocked",
        "passed": False,
        "technical_passed": True,
        "ethical_passed": False,
        "champion_version": "1",
        "rule": "point estimate decides",
        "confidence_level": 0.95,
        "checks": [
            {
                "gate": "ethical",
                "metric": "ethical.gender.demographic_parity_ratio",
                "kind": "absolute",
                "passed": False,
                "candidate": 0.41,
                "limit": 0.5,
                "champion": None,
                "difference": None,
                "reason": HOSTILE_REASON,
                "bound": "min",
                "interval_low": 0.3,
                "interval_high": 0.52,
                "difference_low": None,
                "difference_high": None,
                "confidence": "uncertain",
            }
        ],
        "reasons": [HOSTILE_REASON],
        "uncertain_checks": ["failed absolute ethical.gender.demographic_parity_ratio"],
        "notes": [],
    }
    client.log_dict(run_id, decision, "gate/gate_decision.json")
    source = built.paths.root / "hostile-model"
    source.mkdir(exist_ok=True)
    created = client.create_model_version(
        built.name,
        source.as_uri(),
        run_id=run_id,
        tags={
            "fairgate.gate.decision": "blocked",
            "fairgate.gate.technical": "passed",
            "fairgate.gate.ethical": "blocked",
            "fairgate.gate.reasons": HOSTILE_REASON,
            "fairgate.class_weights": "not json <b>",
        },
    )
    built.run_ids[str(created.version)] = run_id
    return str(created.version)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    root = tmp_path_factory.mktemp("model-card-project")
    name = f"card-{uuid.uuid4().hex[:10]}"
    _project_config(root, name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FAIRGATE_HOME", str(root))
        # the register stage records the git state; these tests run no git command
        patch.setattr(model_stages, "git_state", lambda: {"git_commit": GIT_COMMIT, "git_dirty": "false"})
        patch.delenv("FAIRGATE_AUDIT_LOG_URL", raising=False)
        paths = ProjectPaths(root)
        config = load_config(paths.config_file)
        store = Built(paths, config, registry.connect(paths), name, {})
        # v1: promoted by the promote stage (not frozen)
        first, one = _build_version(store, "2024-04", ["2024-01", "2024-02", "2024-03"])
        assert one["gated"]["decision"] == "passed", one["gated"]["reasons"]
        champion.promote(one["state"])
        # v2: reweighing, gated against v1; frozen, so it waits; two people approve it; then a rollback
        approvals.freeze_deployments(paths, config, "C07 recovery: no automatic deployment", "cli:carol", "test:freeze")
        second, two = _build_version(
            store, "2024-05", ["2024-01", "2024-02", "2024-03", "2024-04"], {"training.mitigation.method": "reweighing"}
        )
        assert two["gated"]["decision"] == "passed", two["gated"]["reasons"]
        held = champion.promote(two["state"])["promoted"]
        assert held["awaiting_approval"]
        champion.approve_version("manual__alice", second, "technical", "alice", "manual", "metrics reviewed")
        promoted = champion.approve_version("manual__bob", second, "ethical", "bob", "manual")
        assert promoted["promoted"]
        champion.rollback("manual__rollback", "approvals for women drift", None, actor="cli:dave")
        # v3: blocked, hostile reason; an approval attempt is refused and recorded
        third = _hostile_version(store)
        with pytest.raises(BlockedError):
            champion.approve_version("manual__mallory", third, "technical", "mallory", "manual")
        # v4: no run at all
        source = root / "runless-model"
        source.mkdir()
        store.client.create_model_version(name, source.as_uri(), run_id=None)
        assert (first, second, third) == ("1", "2", "3")
        yield store


@pytest.fixture(scope="module")
def cards(built) -> dict[str, dict[str, Any]]:
    """Facts, Markdown and HTML of every version, rendered once."""
    rendered = {}
    for version in ("1", "2", "3", "4"):
        facts = model_card.gather_facts(built.client, built.paths, built.config, version)
        rendered[version] = {
            "facts": facts,
            "md": model_card.render_markdown(facts),
            "html": model_card.render_html(facts),
            "json": model_card.facts_json(facts),
        }
    return rendered


def _section(text: str, title: str, following: str | None) -> str:
    start = text.index(title)
    end = text.index(following, start) if following else len(text)
    return text[start:end]


def _html_section(page: str, number: int) -> str:
    start = page.index(f'<section id="section-{number}">')
    return page[start : page.index("</section>", start)]


# ---------------------------------------------------------------- the data summary of the split stage


DATASET = DatasetSettings(target="default", positive_label=1, time_column="when", sensitive=["gender", "region"])


def _frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["when", "gender", "region", "default"])


def test_summarise_split_counts_exactly_and_is_json_ready():
    train = _frame([("2024-01-03", "f", "n", 1), ("2024-01-01", "m", "n", 0), ("2024-01-02", "f", "s", 0)])
    holdout = _frame(
        [
            (
                pd.Timestamp(f"2024-02-0{day}") + pd.Timedelta(minutes=30 * (day == 1) + 600 * (day == 1)),
                gender,
                region,
                label,
            )
            for day, gender, region, label in [
                (1, "m", "s", 1),
                (2, None, "s", 1),
                (3, "f", "s", 0),
                (4, "m", "n", 0),
                (5, "m", "n", 0),
                (6, "f", "n", 0),
                (7, "m", "n", 0),
            ]
        ]
    )
    summary = model_card.summarise_split(train, holdout, DATASET)
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary
    assert summary["train"]["rows"] == 3 and summary["train"]["positive_label_rate"] == 1 / 3
    assert summary["train"]["period"] == {
        "start": "2024-01-01T00:00:00",
        "end": "2024-01-03T00:00:00",
        "missing_rows": 0,
    }
    assert summary["train"]["groups"]["gender"] == {"f": {"rows": 2, "share": 2 / 3}, "m": {"rows": 1, "share": 1 / 3}}
    assert summary["holdout"]["positive_label_rate"] == 2 / 7  # exact, never rounded
    assert summary["holdout"]["groups"]["gender"]["m"] == {"rows": 4, "share": 4 / 7}
    assert summary["holdout"]["sensitive_missing_rows"] == {"gender": 1, "region": 0}
    assert summary["holdout"]["period"]["start"] == "2024-02-01T10:30:00"


def test_summarise_split_without_a_time_column_has_no_period():
    dataset = DatasetSettings(target="default", positive_label=1, sensitive=["gender"])
    frame = _frame([("x", "f", "n", 1), ("y", "m", "n", 0)])
    summary = model_card.summarise_split(frame, frame, dataset)
    assert summary["train"]["period"] is None and summary["time_column"] is None


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ("not a frame", "summarise_split: train must be a pandas DataFrame, found str"),
        (_frame([]), "summarise_split: the train set has 0 rows: nothing to summarise"),
        (
            _frame([("2024-01-01", "f", "n", 1)]).drop(columns="region"),
            "summarise_split: the train set lacks configured column(s) ['region']; found ['when', 'gender', 'default']",
        ),
    ],
)
def test_summarise_split_refuses_bad_input_naming_it(train, message):
    holdout = _frame([("2024-02-01", "f", "n", 1)])
    with pytest.raises(BadInputError) as error:
        model_card.summarise_split(train, holdout, DATASET)
    assert str(error.value) == message


def test_summarise_split_refuses_a_positive_label_found_nowhere():
    frame = _frame([("2024-01-01", "f", "n", "yes"), ("2024-01-02", "m", "n", "no")])
    with pytest.raises(BadInputError, match=r"positive_label 1 occurs in neither .* \(labels found: 'no', 'yes'\)"):
        model_card.summarise_split(frame, frame, DATASET)


# ---------------------------------------------------------------- the card


def test_every_section_heading_is_present_in_order(cards):
    for version in ("1", "2", "3", "4"):
        for text in (cards[version]["md"], cards[version]["html"]):
            positions = [text.index(title) for title in (*model_card.SECTION_TITLES, *model_card.APPENDIX_TITLES)]
            assert positions == sorted(positions)
    md = cards["1"]["md"]
    for title, reference in zip(model_card.SECTION_TITLES, model_card.ANNEX_REFERENCES, strict=True):
        assert f"\n## {title} ({reference})\n" in md
        assert f"<h2>{title} ({reference})</h2>" in cards["1"]["html"]


def test_the_html_is_well_formed_and_self_contained(cards):
    for version in ("1", "2", "3", "4"):
        page = cards[version]["html"]
        root = ET.fromstring(page.replace("<!DOCTYPE html>", "", 1))  # raises on any unbalanced or bad markup
        assert root.tag == "html" and root.find("head/style") is not None
        assert "http://" not in page and "https://" not in page  # nothing fetched from elsewhere
        assert len(root.findall("body/main/section")) == len(model_card.SECTION_TITLES) + 2


def test_class_weights_appear_exactly_as_recorded(built, cards):
    for version in ("1", "2"):
        tag = registry.get_version(built.client, built.name, version).tags["fairgate.class_weights"]
        weights = json.loads(tag)
        assert len(weights) == 2
        card = cards[version]
        assert card["facts"]["version_tags"]["fairgate.class_weights"] == tag
        assert json.loads(card["json"])["version_tags"]["fairgate.class_weights"] == tag
        for value in weights.values():
            assert repr(float(value)) == value and len(value) > 8  # the full repr, not a rounded display
            assert f"`{value}`" in card["md"]
            assert f"<code>{value}</code>" in card["html"]
        assert "training/fingerprint.json records the same class weights: yes" in card["md"]


def test_numbers_are_rounded_for_display_only(cards):
    facts = cards["1"]["facts"]
    evaluation = facts["artifacts"]["evaluation"]["content"]
    roc_auc = evaluation["candidate"]["technical"]["roc_auc"]
    assert (
        json.loads(cards["1"]["json"])["artifacts"]["evaluation"]["content"]["candidate"]["technical"]["roc_auc"]
        == roc_auc
    )
    assert f"`technical.roc_auc` | {roc_auc:.4g} |" in cards["1"]["md"]
    assert repr(roc_auc) not in cards["1"]["md"] or f"{roc_auc:.4g}" == repr(roc_auc)


def test_a_recorded_fact_is_shown_and_a_missing_one_says_not_recorded(cards):
    data_title, training_title = model_card.SECTION_TITLES[1], model_card.SECTION_TITLES[2]
    recorded = cards["1"]["facts"]["artifacts"]["data_summary"]
    assert recorded["status"] == "recorded"
    train_rows = recorded["content"]["train"]["rows"]
    shown = _section(cards["1"]["md"], data_title, training_title)
    assert f"| train | {train_rows} |" in shown and "no data/data\\_summary.json" not in shown
    absent = _section(cards["3"]["md"], data_title, training_title)
    assert "*not recorded* (no data/data\\_summary.json on the run)" in absent
    html_absent = _html_section(cards["3"]["html"], 2)
    assert '<em class="missing">not recorded</em> (no data/data_summary.json on the run)' in html_absent
    assert cards["3"]["facts"]["artifacts"]["data_summary"] == {
        "path": "data/data_summary.json",
        "status": "not recorded",
    }
    assert "run artifact data/data_summary.json" in cards["3"]["facts"]["not_recorded"]
    assert "run artifact data/data_summary.json" not in cards["1"]["facts"]["not_recorded"]
    # and the same both ways for a version tag
    assert (
        f"`{GIT_COMMIT}`" in cards["1"]["md"]
        and "version tag fairgate.git_commit" in cards["3"]["facts"]["not_recorded"]
    )


def test_a_version_without_a_run_has_every_run_fact_not_recorded(cards, built):
    facts = cards["4"]["facts"]
    assert facts["run"] == {"status": "not recorded", "problem": "the registered version names no MLflow run"}
    assert all(item["status"] == "not recorded" for item in facts["artifacts"].values())
    with pytest.raises(BadInputError, match="version 4 of .* has no MLflow run"):
        model_card.write_model_card(built.client, built.paths, built.config, "4")


def test_hostile_recorded_strings_are_escaped(cards):
    card = cards["3"]
    assert "<script>" not in card["html"] and "<b>" not in card["html"]
    assert "&lt;script&gt;alert(&quot;card&quot;)&lt;/script&gt;" in card["html"]
    # Markdown: escaped as text, and inert inside code spans: rendered with raw HTML allowed, no tag survives
    assert "\\<script\\>alert" in card["md"]
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(card["md"])
    assert "<script>" not in rendered and "<b>" not in rendered
    assert "&lt;script&gt;" in rendered
    # a tag that should hold JSON but does not is shown raw, as recorded, and escaped
    assert "<code>not json &lt;b&gt;</code>" in card["html"]
    # the recorded facts themselves are kept exactly
    assert card["facts"]["version_tags"]["fairgate.gate.reasons"] == HOSTILE_REASON


def test_oversight_and_life_cycle_come_from_the_audit_log(cards):
    oversight_title, life_title = model_card.SECTION_TITLES[5], model_card.SECTION_TITLES[6]
    md = cards["2"]["md"]
    oversight = _section(md, oversight_title, life_title)
    assert "| alice | **technical** | metrics reviewed | `manual__alice` |" in oversight
    assert "| bob | **ethical** | - | `manual__bob` |" in oversight
    assert "technical: alice; ethical: bob; enough (technical alice, ethical bob)" in oversight
    assert "**FROZEN** since " in oversight and " by cli:dave (audit entry " in oversight  # the rollback froze again
    assert "**OK**: audit log OK: " in oversight
    life = _section(md, life_title, model_card.APPENDIX_TITLES[0])
    kinds = [entry["kind"] for entry in cards["2"]["facts"]["audit_log"]["entries"]]
    assert kinds == ["gate_decision", "registration", "approval", "approval", "approval", "promotion", "rollback"]
    assert "| alice | **approval** | technical sign-off for version 2 by alice: metrics reviewed |" in life
    assert "| bob | **promotion** | champion 1 -\\> 2 on approval (technical alice, ethical bob) |" in life
    assert "| cli:dave | **rollback** | champion 2 -\\> 1 |" in life
    html_life = _html_section(cards["2"]["html"], 7)
    assert "<td>cli:dave</td><td><strong>rollback</strong></td><td>champion 2 -&gt; 1</td>" in html_life
    # v1: promoted by the pipeline, champion again after the rollback
    life_one = _section(cards["1"]["md"], life_title, model_card.APPENDIX_TITLES[0])
    assert "| airflow:scheduler | **promotion** | champion None -\\> 1 |" in life_one
    assert "| cli:dave | **rollback** | champion 2 -\\> 1 |" in life_one
    assert "- **Aliases on this version now**: `champion`" in _section(cards["1"]["md"], oversight_title, life_title)
    # v3: the refused approval is listed under oversight, and no sign-off is claimed
    oversight_three = _section(cards["3"]["md"], oversight_title, life_title)
    assert "| mallory | approval | version 3 of " in oversight_three
    assert "- **Sign-offs for this version**: none recorded" in oversight_three


def test_the_gate_section_lists_every_check(cards):
    gate_title, oversight_title = model_card.SECTION_TITLES[4], model_card.SECTION_TITLES[5]
    decision = cards["2"]["facts"]["artifacts"]["gate_decision"]["content"]
    gate = _section(cards["2"]["md"], gate_title, oversight_title)
    assert gate.count("| **pass** |") == len(decision["checks"]) > 0
    assert "non-regression against champion version 1" in gate
    assert "- **Checks (run tag)**: 5 checks: 5 passed, 0 failed, " in gate


def test_the_per_group_plot_is_embedded_in_html_and_linked_in_markdown(built, cards, tmp_path):
    local = built.client.download_artifacts(built.run_ids["1"], model_card.PER_GROUP_PLOT_PATH, str(tmp_path))
    encoded = base64.b64encode(Path(local).read_bytes()).decode("ascii")
    assert f'<img src="data:image/png;base64,{encoded}"' in cards["1"]["html"]
    assert "](../evaluation/per_group.png)" in cards["1"]["md"]
    assert "data:image/png" not in cards["3"]["html"]
    assert "Per-group plot: *not recorded* (no evaluation/per\\_group.png on the run)." in cards["3"]["md"]


def test_known_limitations_name_the_synthetic_data_and_the_uncertain_checks(cards):
    md = cards["1"]["md"]
    assert "The data is synthetic: generated by fairgate's seeded generator" in md
    assert "The holdout has " in md and " rows; the smallest group is " in md
    assert (
        "Decided on a point estimate whose interval straddles the limit: "
        "`failed absolute ethical.gender.demographic_parity_ratio`" in cards["3"]["md"]
    )


def test_the_card_is_logged_and_regenerating_it_overwrites(built):
    run_id = built.run_ids["2"]
    first = model_card.write_model_card(built.client, built.paths, built.config, "2")
    second = model_card.write_model_card(built.client, built.paths, built.config, "2")
    assert first == second
    assert {k: first[k] for k in ("markdown", "html", "json")} == {
        "markdown": "model_card/model_card.md",
        "html": "model_card/model_card.html",
        "json": "model_card/model_card.json",
    }
    listed = sorted(info.path for info in built.client.list_artifacts(run_id, "model_card"))
    assert listed == ["model_card/model_card.html", "model_card/model_card.json", "model_card/model_card.md"]
    version = registry.get_version(built.client, built.name, "2")
    assert version.tags["fairgate.model_card"] == first["markdown_uri"]
    assert first["markdown_uri"].endswith(f"{run_id}/artifacts/model_card/model_card.md")
    folder = Path(built.client.download_artifacts(run_id, "model_card", str(built.paths.root / "download")))
    logged = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
    assert logged == model_card.gather_facts(built.client, built.paths, built.config, "2")
    assert (folder / "model_card.md").read_text(encoding="utf-8") == model_card.render_markdown(logged)


def test_rendering_is_deterministic_and_facts_are_exact_json(cards):
    facts = cards["1"]["facts"]
    assert model_card.render_markdown(facts) == cards["1"]["md"]
    assert model_card.render_html(facts) == cards["1"]["html"]
    assert json.loads(cards["1"]["json"]) == facts
    broken = {**facts, "extra": math.nan}
    with pytest.raises(BadInputError, match="cannot be written as exact JSON"):
        model_card.facts_json(broken)


def test_an_unknown_or_malformed_version_is_refused(built):
    with pytest.raises(BadInputError, match="model card: version must be a positive integer, found 'v1'"):
        model_card.gather_facts(built.client, built.paths, built.config, "v1")
    with pytest.raises(BadInputError, match="has no version 99"):
        model_card.gather_facts(built.client, built.paths, built.config, "99")


def test_a_store_error_other_than_not_found_is_not_hidden(built, monkeypatch):
    def broken(run_id):
        raise MlflowException("store unreachable", error_code="INTERNAL_ERROR")

    monkeypatch.setattr(built.client, "get_run", broken)
    with pytest.raises(MlflowException, match="store unreachable"):
        model_card.gather_facts(built.client, built.paths, built.config, "1")
