"""Drift and the generator's truth: every planted hazard is found on its columns, clean months pass.

The generator (pipelines.data.generator) plants the C07 hazards with their ground
truth.  A batch is audited against the twelve clean months before it (what
the champion of the month before was trained on) and the leakage checks run
on the whole training frame, as in ``retrain``.  Zero false blocks across
twelve clean months; each hazard blocked naming exactly the columns it
touched.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.core.config import (
    AuditSettings,
    DatasetSettings,
    DriftSettings,
    GeneratorSettings,
    LeakageSettings,
    SplitSettings,
)
from pipelines.data.audit import audit_dataset
from pipelines.data.columns import EncodedFrame
from pipelines.data.drift import measure_drift
from pipelines.data.generator import generate_month, month_range, shift_month
from pipelines.data.leakage import find_leakage
from pipelines.data.split import holdout_mask

GENERATOR = GeneratorSettings()  # fairgate.yaml: seed 20240101, 1500 rows a month
DATASET = DatasetSettings(
    target="default", time_column="application_date", id_columns=["application_id"], sensitive=["gender"]
)
AUDIT, LEAKAGE, SPLIT = AuditSettings(), LeakageSettings(), SplitSettings()
MONTHS = month_range("2024-01", 24)  # twelve months of history, then twelve months audited one by one


@pytest.fixture(scope="module")
def clean_months() -> dict[str, pd.DataFrame]:
    return {month: generate_month(month, GENERATOR).frame for month in MONTHS}


def _history(clean_months: dict[str, pd.DataFrame], month: str) -> pd.DataFrame:
    before = [shift_month(month, -k) for k in range(12, 0, -1)]
    return pd.concat([clean_months[m] for m in before], ignore_index=True)


def _blocking(findings: list) -> set[tuple[str, tuple[str, ...]]]:
    return {(f.check, tuple(f.columns)) for f in findings if f.severity == "block"}


# ---------------------------------------- truth on generated data


def test_twelve_clean_months_are_never_blocked(clean_months: dict[str, pd.DataFrame]) -> None:
    checked = 0
    for month in MONTHS[12:]:
        reference = _history(clean_months, month)
        batch = clean_months[month]
        audit = audit_dataset(batch, reference, DATASET, AUDIT)
        assert audit.report.blocking == [], (month, [f.message for f in audit.report.blocking])
        assert {row["statistic"] for row in audit.drift} == {"ks", "psi", "label_rate_shift", "group_share_shift"}
        frame = pd.concat([reference, batch], ignore_index=True)
        leakage = find_leakage(frame, DATASET, LEAKAGE, holdout_mask(frame, DATASET, SPLIT))
        assert leakage.blocking == [], (month, [f.message for f in leakage.blocking])
        # region is built as a proxy of gender; income is one since the measurement bias lowers
        # women's recorded income: the two warnings, every month
        assert {(f.check, tuple(f.columns)) for f in leakage.findings} == {
            ("proxy", ("region", "gender")),
            ("proxy", ("income", "gender")),
        }
        checked += 1
    assert checked == 12


@pytest.mark.parametrize("hazard", ["post_outcome_column", "label_copy", "duplicated_rows", "migration"])
def test_the_audit_blocks_every_hazard_naming_its_columns(clean_months: dict[str, pd.DataFrame], hazard: str) -> None:
    month = MONTHS[12]
    planted = generate_month(month, GENERATOR, [hazard])
    result = audit_dataset(planted.frame, _history(clean_months, month), DATASET, AUDIT)
    named = {column for _, columns in _blocking(result.report.findings) for column in columns}
    assert named == set(planted.truth[hazard]["columns"]), [f.message for f in result.report.blocking]


def test_the_migration_is_blocked_by_drift_on_each_shifted_column(clean_months: dict[str, pd.DataFrame]) -> None:
    month = MONTHS[12]
    planted = generate_month(month, GENERATOR, ["migration"])
    result = audit_dataset(planted.frame, _history(clean_months, month), DATASET, AUDIT)
    truth = planted.truth["migration"]
    # one legacy system (north and south, about 37% of the rows) in kEUR: the batch median stays inside
    # the reference range, so numeric_shift does not fire; the distribution test does
    assert _blocking(result.report.findings) == {
        ("drift", ("income",)),  # KS: the migrated system's rows all fall below every reference income
        ("categorical_domain", ("region",)),  # 'north' written 'N': a new category
        ("drift", ("region",)),  # ... which moves a fifth of the rows (PSI)
        ("group_share_drift", ("gender",)),  # 30% of the women written 'male'
    }
    stats = {(row["column"], row["statistic"]): row for row in result.drift}
    # the migrated rows all sit below the reference's lowest income: KS at least their share (float-exact up to 1e-12)
    assert stats[("income", "ks")]["value"] >= truth["migrated_share"] - 1e-12
    assert truth["migrated_share"] > AUDIT.drift.ks_block
    female = next(g for g in stats[("gender", "group_share_shift")]["detail"]["groups"] if g["group"] == "female")
    assert female["share"] == pytest.approx(truth["female_share_after"])
    # the other features did not move
    assert all(row["severity"] is None for (column, _), row in stats.items() if column not in truth["columns"])


@pytest.mark.parametrize(
    ("hazard", "expected"),
    [
        (
            "post_outcome_column",
            {
                ("post_outcome", ("collections_date", "application_date")),
                ("post_outcome", ("collections_date",)),
                ("target_leakage", ("collections_date",)),
            },
        ),
        ("label_copy", {("label_copy", ("internal_risk_flag",)), ("target_leakage", ("internal_risk_flag",))}),
    ],
)
def test_leakage_finds_the_column_hazards_in_a_frame_that_holds_them(
    hazard: str, expected: set[tuple[str, tuple[str, ...]]]
) -> None:
    frame = pd.concat([generate_month(m, GENERATOR, [hazard]).frame for m in MONTHS[:13]], ignore_index=True)
    report = find_leakage(frame, DATASET, LEAKAGE, holdout_mask(frame, DATASET, SPLIT))
    assert _blocking(report.findings) == expected


def test_leakage_finds_copied_rows_across_the_split() -> None:
    frame = pd.concat([generate_month(m, GENERATOR, ["duplicated_rows"]).frame for m in MONTHS[:13]], ignore_index=True)
    is_test = holdout_mask(frame, DATASET, SPLIT)
    report = find_leakage(frame, DATASET, LEAKAGE, is_test)
    assert {f.check for f in report.blocking} == {"contamination"}
    by_id = next(f for f in report.blocking if f.columns == ["application_id"])
    shared = set(frame.loc[is_test, "application_id"]) & set(frame.loc[~is_test, "application_id"])
    assert by_id.evidence["shared_entities"] == len(shared) > 0


# ---------------------------------------- each drift statistic, both ways


def _frame(rng: np.random.Generator, rows: int, income_scale: float = 1.0, north: float = 0.3) -> pd.DataFrame:
    gender = rng.choice(np.array(["female", "male"]), rows)
    return pd.DataFrame(
        {
            "income": rng.lognormal(10.3, 0.4, rows) * income_scale,
            "region": np.where(rng.random(rows) < north, "north", rng.choice(np.array(["south", "east"]), rows)),
            "gender": gender,
            "default": (rng.random(rows) < 0.25).astype(int),
        }
    )


def _drift(batch: pd.DataFrame, reference: pd.DataFrame, settings: DriftSettings | None = None):
    dataset = DatasetSettings(target="default", sensitive=["gender"])
    return measure_drift(
        EncodedFrame(batch), EncodedFrame(reference), ["income", "region"], dataset, settings or DriftSettings()
    )


def test_no_drift_between_samples_of_one_population() -> None:
    rng = np.random.default_rng(1)
    result = _drift(_frame(rng, 2000), _frame(rng, 8000))
    assert result.findings == []
    assert [s.statistic for s in result.statistics] == ["ks", "psi", "label_rate_shift", "group_share_shift"]


@pytest.mark.parametrize(
    ("change", "check", "column", "severity"),
    [
        pytest.param({"income_scale": 1.25}, "drift", "income", "block", id="income-up-25pct"),
        pytest.param({"income_scale": 1.12}, "drift", "income", "warn", id="income-up-12pct-warns"),
        pytest.param({"north": 0.6}, "drift", "region", "block", id="region-mix"),
    ],
)
def test_feature_drift(change: dict, check: str, column: str, severity: str) -> None:
    rng = np.random.default_rng(2)
    result = _drift(_frame(rng, 3000, **change), _frame(rng, 9000))
    assert [(f.check, f.columns, f.severity) for f in result.findings] == [(check, [column], severity)]
    assert result.findings[0].message.startswith(f"distribution of {column!r} like the reference's")


def test_label_and_group_drift() -> None:
    rng = np.random.default_rng(3)
    batch = _frame(rng, 3000)
    batch["default"] = (rng.random(3000) < 0.45).astype(int)
    batch["gender"] = np.where(rng.random(3000) < 0.3, "female", "male")
    result = _drift(batch, _frame(rng, 9000))
    assert {(f.check, f.columns[0], f.severity) for f in result.findings} == {
        ("label_drift", "default", "block"),
        ("group_share_drift", "gender", "block"),
    }
    label = next(f for f in result.findings if f.check == "label_drift")
    assert "rate of 'default' == 1 within 0.1 of the reference's 0.2" in label.message


def test_a_small_batch_is_judged_against_its_sampling_noise() -> None:
    """60 rows: a KS of 0.2 is what sampling alone reaches, not drift; at 6000 rows it is drift."""
    rng = np.random.default_rng(4)
    reference = _frame(rng, 9000)
    small = _drift(_frame(rng, 60, income_scale=1.05), reference)
    income = next(s for s in small.statistics if s.column == "income")
    assert income.noise > DriftSettings().ks_block and income.severity is None
    large = _drift(_frame(rng, 6000, income_scale=1.3), reference)
    assert next(s for s in large.statistics if s.column == "income").severity == "block"


def test_columns_that_cannot_be_compared_are_named() -> None:
    rng = np.random.default_rng(5)
    reference = _frame(rng, 500).assign(when=pd.Timestamp("2024-01-01"))
    batch = _frame(rng, 500).assign(when=pd.Timestamp("2024-02-01"))
    batch["income"] = batch["income"].map(lambda v: f"{v:.0f}").astype("str")
    dataset = DatasetSettings(target="default", sensitive=["gender"])
    result = measure_drift(EncodedFrame(batch), EncodedFrame(reference), ["income", "when"], dataset, DriftSettings())
    assert result.notes == [
        "drift: income: numeric in the reference, categorical here: not compared (column_type reports it)",
        "drift: when: dates, not compared (decision times move by nature; freshness checks them)",
    ]
