"""Small sensitive groups by declared policy (``dataset.small_groups``): the configuration and the audit.

The fixture (tests/small_groups.py) holds groups of 18 and 32 rows in 10,000.
Without a policy they block, and the finding names the policy keys; a merge
audits them as one group; report_only makes their checks warnings; a small
group that no policy names still blocks.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from pipelines.core.config import AuditSettings, DatasetSettings, SmallGroupPolicy, parse_config
from pipelines.core.errors import BadInputError
from pipelines.core.small_groups import loosened_small_groups, merge_small_groups, policy_line, policy_summary
from pipelines.data.audit import audit_dataset
from tests.small_groups import small_group_table

REPO = Path(__file__).resolve().parents[2]
REASON = "reviewed 2026-12-07: 18 and 32 rows cannot carry a fairness estimate of their own"
MERGE = {"merge": [{"into": "other", "groups": ["amer_indian", "pacific"]}], "reason": REASON}
REPORT_ONLY = {"report_only": ["amer_indian", "pacific"], "reason": REASON}


def _dataset(small_groups: dict[str, Any] | None = None) -> DatasetSettings:
    return DatasetSettings(
        target="default",
        time_column=None,
        id_columns=["application_id"],
        sensitive=["race"],
        small_groups=small_groups or {},
    )


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return small_group_table()


def _group_findings(result: Any) -> list[Any]:
    return [f for f in result.report.findings if f.check in ("group_size", "group_share")]


# --------------------------------------------------------------------------- the audit


def test_without_a_policy_the_small_groups_block_and_the_message_names_the_policy_keys(table):
    result = audit_dataset(table, None, _dataset(), AuditSettings())
    assert result.report.verdict == "blocked"
    blocking = [f for f in result.report.blocking if f.check in ("group_size", "group_share")]
    # 18 rows: under min_group_rows (30) and min_group_share (5%); 32 rows: under the share
    assert sorted((f.check, f.evidence["rows"]) for f in blocking) == [
        ("group_share", 18), ("group_share", 32), ("group_size", 18)
    ]
    for finding in blocking:
        assert "dataset.small_groups.race" in finding.message
        assert "merge" in finding.message and "report_only" in finding.message and "reason" in finding.message


def test_a_merge_audits_the_named_groups_as_one_group(table):
    # the merged group holds 50 rows (0.5%): above min_group_rows (30); the share limit is set below it
    result = audit_dataset(table, None, _dataset({"race": MERGE}), AuditSettings(min_group_share=0.004))
    assert result.report.verdict == "pass", [f.message for f in result.report.findings]
    sizes = [row for row in result.expectations if row["check"] == "group_size"]
    assert len(sizes) == 3  # black, other (amer_indian + pacific), white
    merged = [row for row in sizes if "merged into 'other'" in row["expected"]]
    assert len(merged) == 1 and merged[0]["observed"] == "rows: 50" and merged[0]["success"]


def test_a_merged_group_still_too_small_blocks(table):
    # 50 rows are 0.5% of the table: under the default min_group_share (5%) the merged group blocks
    result = audit_dataset(table, None, _dataset({"race": MERGE}), AuditSettings())
    blocking = result.report.blocking
    assert [f.check for f in blocking] == ["group_share"]
    assert "merged into 'other'" in blocking[0].message and blocking[0].evidence["rows"] == 50
    assert "name 'other' under dataset.small_groups.race.report_only" in blocking[0].message


def test_report_only_groups_warn_and_do_not_block(table):
    result = audit_dataset(table, None, _dataset({"race": REPORT_ONLY}), AuditSettings())
    assert result.report.verdict == "pass"
    warned = _group_findings(result)
    assert {f.severity for f in warned} == {"warn"}
    assert sorted({f.evidence["rows"] for f in warned}) == [18, 32]
    assert all("reported, not gated" in f.message for f in warned)


def test_a_small_group_named_in_no_policy_still_blocks(table):
    policy = {"report_only": ["pacific"], "reason": REASON}
    result = audit_dataset(table, None, _dataset({"race": policy}), AuditSettings(min_group_share=0.0))
    blocking = result.report.blocking
    assert [(f.check, f.evidence["rows"]) for f in blocking] == [("group_size", 18)]
    assert "race == 'amer_indian'" in blocking[0].message and "dataset.small_groups.race" in blocking[0].message
    assert [f.severity for f in _group_findings(result) if f.evidence["rows"] == 32] == []  # 32 >= 30: passes


def test_a_merge_applies_to_a_batch_smaller_than_one_group(table):
    """Fewer labelled rows than min_group_rows: the merged group is counted directly (row condition)."""
    few = pd.concat([table[table["race"].isin(["amer_indian", "pacific"])].head(20), table.head(5)])
    settings = AuditSettings(min_rows=1, min_group_rows=30, min_group_share=0.0)
    result = audit_dataset(few, None, _dataset({"race": MERGE}), settings)
    merged = [row for row in result.expectations if "merged into 'other'" in row["expected"]]
    assert len(merged) == 1 and merged[0]["observed"] == "rows: 20"


# --------------------------------------------------------------------------- merging a sensitive frame


def test_merging_replaces_only_the_named_groups_and_keeps_other_columns():
    frame = pd.DataFrame({"race": ["white", "amer_indian", "pacific", None], "sex": [1, 0, 1, 0]})
    merged = merge_small_groups(frame, {"race": SmallGroupPolicy.model_validate(MERGE)})
    assert merged["race"].tolist()[:3] == ["white", "other", "other"] and pd.isna(merged["race"].iloc[3])
    assert merged["sex"].equals(frame["sex"]) and frame["race"].tolist()[1] == "amer_indian"
    into_existing = {"sex": SmallGroupPolicy.model_validate({"merge": [{"into": 1, "groups": [0]}], "reason": REASON})}
    assert merge_small_groups(frame, into_existing)["sex"].tolist() == ["1"] * 4  # one group, named as evaluated


def test_a_group_merged_into_an_existing_integer_group_is_one_group_in_the_evaluation():
    from pipelines.core.config import DecisionSettings
    from pipelines.model.evaluate import evaluate_predictions

    frame = pd.DataFrame({"code": [1] * 40 + [2] * 40 + [3] * 5, "y": ([0, 1] * 43)[:85]})
    policy = {"code": {"merge": [{"into": 1, "groups": [3]}], "reason": REASON}}
    dataset = DatasetSettings(target="y", time_column=None, sensitive=["code"], small_groups=policy)
    result = evaluate_predictions(frame["y"], [0.1] * 85, frame[["code"]], dataset, DecisionSettings())
    groups = result["ethical"]["code"]["by_group"]
    assert sorted(groups) == ["1", "2"] and groups["1"]["rows"] == 45


# --------------------------------------------------------------------------- the configuration


def _raw() -> dict[str, Any]:
    raw = yaml.safe_load((REPO / "fairgate.yaml").read_text(encoding="utf-8"))
    raw["dataset"]["sensitive"] = ["race"]
    return raw


def test_the_default_configuration_declares_no_policy():
    config = parse_config(_raw())
    assert config.dataset.small_groups == {} and policy_line(config.dataset) == "none"


def test_a_valid_policy_is_parsed_and_recorded_in_one_line():
    raw = _raw()
    raw["dataset"]["small_groups"] = {"race": {**MERGE, "report_only": ["other"]}}
    config = parse_config(raw)
    assert config.dataset.small_groups["race"].merged_into == {"amer_indian": "other", "pacific": "other"}
    assert '"reason": "reviewed 2026-12-07' in policy_line(config.dataset)


@pytest.mark.parametrize(
    ("policy", "key", "words"),
    [
        ({"gender": REPORT_ONLY}, "dataset.small_groups", "'gender' is not a sensitive attribute"),
        ({"race": {**REPORT_ONLY, "reason": "  "}}, "dataset.small_groups.race.reason", "needs a reason"),
        ({"race": {"report_only": ["pacific"]}}, "dataset.small_groups.race.reason", "required key is missing"),
        (
            {"race": {**REPORT_ONLY, "reason": "REVIEW: why may these groups go ungated?"}},
            "dataset.small_groups.race.reason",
            "unreviewed placeholder",
        ),
        ({"race": {"reason": REASON}}, "dataset.small_groups.race", "needs 'merge' or 'report_only'"),
        ({"race": {**MERGE, "report_only": ["pacific"]}}, "dataset.small_groups.race", "merged away"),
        ({"race": {**REPORT_ONLY, "report_only": ["a", "a"]}}, "dataset.small_groups.race.report_only", "twice"),
        (
            {"race": {"merge": [{"into": "x", "groups": ["a"]}, {"into": "y", "groups": ["a"]}], "reason": REASON}},
            "dataset.small_groups.race",
            "merged twice",
        ),
        ({"race": {"merge": [{"into": "x", "groups": []}], "reason": REASON}}, "merge.0.groups", "at least 1"),
        ({"race": {**REPORT_ONLY, "gate": True}}, "dataset.small_groups.race.gate", "unknown key"),
    ],
)
def test_a_bad_policy_is_one_line_naming_the_key(policy, key, words):
    raw = copy.deepcopy(_raw())
    raw["dataset"]["small_groups"] = policy
    with pytest.raises(BadInputError) as caught:
        parse_config(raw)
    message = str(caught.value)
    assert key in message and words in message and "\n" not in message


def test_a_policy_is_looser_when_it_stops_gating_a_group_or_adds_a_merge():
    none = _dataset()
    merged, reported = _dataset({"race": MERGE}), _dataset({"race": {**MERGE, "report_only": ["other"]}})
    assert loosened_small_groups(policy_summary(none), none) == []
    assert loosened_small_groups(policy_summary(merged), merged) == []
    assert loosened_small_groups(policy_summary(none), merged) == [
        ("dataset.small_groups.race.merge", "none", {"amer_indian": "other", "pacific": "other"})
    ]
    assert loosened_small_groups(policy_summary(merged), reported) == [
        ("dataset.small_groups.race.report_only", "none", ["other"])
    ]
    # the other direction: dropping a policy (its small groups block at the audit again) loosens nothing
    assert loosened_small_groups(policy_summary(reported), none) == []
    assert loosened_small_groups(policy_summary(reported), merged) == []
