"""Data audit tests: the Great Expectations suite finds what it must, and only that.

The synthetic loan applications below have the shape of the default data
(application_id, application_date, age, gender, region as a proxy of gender,
income in EUR, debt_ratio, employment_years, n_credit_lines, loan_amount,
education, default).  Every check is shown both ways: quiet on the clean
month, firing on a month that breaks it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from pipelines.core.config import AuditSettings, DatasetSettings, DriftSettings
from pipelines.core.errors import BadInputError
from pipelines.core.small_groups import POLICY_KEYS
from pipelines.data.audit import (
    ERR_EMPTY_BATCH,
    ERR_EMPTY_REFERENCE,
    ERR_MISSING_COLUMNS,
    ERR_NOT_BINARY,
    ERR_POSITIVE_LABEL,
    ERR_SINGLE_CLASS,
    NOTE_NO_REFERENCE,
    AuditResult,
    audit_dataset,
)
from pipelines.data.audit_expectations import REMEDY_SMALL_GROUP
from pipelines.reports.check_report import audit_report_html

# Statlog German Credit, CC BY 4.0: tests/fixtures/README.md
GERMAN_CREDIT = Path(__file__).resolve().parents[1] / "fixtures" / "german_credit.csv"
SPLIT_SEED = 7  # fairgate.yaml split.seed

DATASET = DatasetSettings(
    target="default", time_column="application_date", id_columns=["application_id"], sensitive=["gender"]
)
SETTINGS = AuditSettings()


def make_month(month: int, rows: int, seed: int, first_id: int = 0) -> pd.DataFrame:
    """One month of loan applications, seeded; ids are unique across months."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01") + pd.DateOffset(months=month)
    gender = rng.choice(np.array(["female", "male"]), rows)
    north = rng.random(rows) < np.where(gender == "female", 0.7, 0.15)
    region = np.where(north, "north", rng.choice(np.array(["south", "east", "west"]), rows))
    income = np.round(rng.lognormal(10.6, 0.5, rows), 2)
    debt_ratio = rng.beta(2, 5, rows)
    employment_years = np.round(rng.gamma(2.0, 3.0, rows), 1)
    n_credit_lines = rng.poisson(3, rows)
    age = rng.integers(18, 75, rows)
    score = (
        -2 + 3 * debt_ratio - 0.3 * np.log(income / 40_000) - 0.03 * employment_years + 0.1 * n_credit_lines
    )
    default = (rng.random(rows) < 1 / (1 + np.exp(-score))).astype(int)
    return pd.DataFrame(
        {
            "application_id": [f"A{first_id + i:07d}" for i in range(rows)],
            "application_date": start + pd.to_timedelta(rng.integers(0, 28, rows), unit="D"),
            "age": age,
            "gender": gender,
            "region": region,
            "income": income,
            "debt_ratio": debt_ratio,
            "employment_years": employment_years,
            "n_credit_lines": n_credit_lines,
            "loan_amount": np.round(rng.lognormal(9.5, 0.6, rows), 2),
            "education": rng.choice(np.array(["primary", "secondary", "tertiary"]), rows),
            "default": default,
        }
    )


def make_history(months: int = 6, rows: int = 1000, seed: int = 2024) -> list[pd.DataFrame]:
    return [make_month(m, rows, seed + m, first_id=m * rows) for m in range(months)]


@pytest.fixture(scope="module")
def history() -> list[pd.DataFrame]:
    return make_history()


@pytest.fixture(scope="module")
def reference(history: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(history[:-1], ignore_index=True)


@pytest.fixture(scope="module")
def batch(history: list[pd.DataFrame]) -> pd.DataFrame:
    return history[-1]


@pytest.fixture(scope="module")
def clean_result(batch: pd.DataFrame, reference: pd.DataFrame) -> AuditResult:
    return audit_dataset(batch, reference, DATASET, SETTINGS)


def checks_of(result: AuditResult, severity: str = "block") -> set[tuple[str, tuple[str, ...]]]:
    return {(f.check, tuple(f.columns)) for f in result.report.findings if f.severity == severity}


# ---------------------------------------- clean data


def test_clean_month_passes_every_expectation(clean_result: AuditResult) -> None:
    assert clean_result.report.stage == "audit"
    assert clean_result.report.verdict == "pass"
    assert clean_result.report.findings == []
    assert all(row["success"] for row in clean_result.expectations)
    assert clean_result.report.rows == 1000


def test_suite_holds_every_kind_of_check(clean_result: AuditResult) -> None:
    checks = {row["check"] for row in clean_result.expectations}
    assert checks == {
        "schema",
        "row_count",
        "null_share",
        "column_type",
        "numeric_range",
        "numeric_shift",
        "categorical_domain",
        "infinite_values",
        "label_values",
        "label_rate",
        "sensitive_groups",
        "group_size",
        "group_share",
        "duplicate_ids",
        "ids_seen_in_reference",
        "duplicate_rows",
        "freshness",
    }
    # Datetime columns get schema, type, null and freshness checks, never a range or a domain.
    date_checks = {
        row["check"] for row in clean_result.expectations if row["columns"] == ["application_date"]
    }
    assert date_checks == {"schema", "null_share", "column_type", "freshness"}
    # Ids and the label are not profiled as features.
    id_checks = {row["check"] for row in clean_result.expectations if row["columns"] == ["application_id"]}
    assert id_checks == {"schema", "null_share", "column_type", "duplicate_ids", "ids_seen_in_reference"}


def test_expectations_are_great_expectations_rows_and_json_ready(clean_result: AuditResult) -> None:
    types = {row["type"] for row in clean_result.expectations}
    assert {
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_be_unique",
        "expect_column_values_to_be_in_type_list",
        "expect_column_median_to_be_between",
    } <= types
    for row in clean_result.expectations:
        assert set(row) == {"check", "type", "columns", "success", "expected", "observed"}
    json.dumps(clean_result.expectations)
    json.dumps(clean_result.report.to_dict())


def test_first_run_runs_only_checks_without_reference(batch: pd.DataFrame) -> None:
    result = audit_dataset(batch, None, DATASET, SETTINGS)
    assert result.report.verdict == "pass"
    checks = {row["check"] for row in result.expectations}
    assert checks == {
        "schema",
        "row_count",
        "null_share",
        "infinite_values",
        "label_values",
        "label_rate",
        "sensitive_groups",
        "group_size",
        "group_share",
        "duplicate_ids",
        "duplicate_rows",
    }
    assert NOTE_NO_REFERENCE in result.report.notes
    assert result.drift == []


# ---------------------------------------- each check fires


def _drop_column(b: pd.DataFrame) -> pd.DataFrame:
    return b.drop(columns=["education"])


def _add_column(b: pd.DataFrame) -> pd.DataFrame:
    return b.assign(channel="web")


def _income_as_text(b: pd.DataFrame) -> pd.DataFrame:
    return b.assign(income=b["income"].map(lambda v: f"{v:.2f}").astype("str"))


def _nulls(share: float) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(b: pd.DataFrame) -> pd.DataFrame:
        out = b.copy()
        out.loc[out.index[: int(share * len(out))], "debt_ratio"] = np.nan
        return out

    return mutate


def _loan_outliers(share: float) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(b: pd.DataFrame) -> pd.DataFrame:
        out = b.copy()
        out.loc[out.index[: int(share * len(out))], "loan_amount"] *= 1000
        return out

    return mutate


def _income_in_thousands(b: pd.DataFrame) -> pd.DataFrame:
    return b.assign(income=b["income"] / 1000)


def _region_recoded(b: pd.DataFrame) -> pd.DataFrame:
    return b.assign(region=b["region"].replace({"north": "N"}))


def _label_outside_classes(b: pd.DataFrame) -> pd.DataFrame:
    out = b.copy()
    out.loc[out.index[:3], "default"] = 2
    return out


def _label_rate_too_low(b: pd.DataFrame) -> pd.DataFrame:
    out = b.copy()
    out["default"] = 0
    out.loc[out.index[:5], "default"] = 1
    return out


def _few_rows(b: pd.DataFrame) -> pd.DataFrame:
    return b.head(150)


def _keep_females(count: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(b: pd.DataFrame) -> pd.DataFrame:
        females = b.index[b["gender"] == "female"]
        return b.drop(index=females[count:]).reset_index(drop=True)

    return mutate


def _relabel_females_but(count: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(b: pd.DataFrame) -> pd.DataFrame:
        out = b.copy()
        females = out.index[out["gender"] == "female"]
        out.loc[females[count:], "gender"] = "male"
        return out

    return mutate


def _repeated_ids(b: pd.DataFrame) -> pd.DataFrame:
    out = b.copy()
    out.loc[out.index[1:4], "application_id"] = out.loc[out.index[0], "application_id"]
    return out


def _copies_of_last_month(b: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Hazard 3: 10% of the month are exact copies of last month's rows, date moved."""
    copies = previous.sample(frac=0.1, random_state=3).copy()
    copies["application_date"] = copies["application_date"] + pd.DateOffset(months=1)
    return pd.concat([b.iloc[: len(b) - len(copies)], copies], ignore_index=True)


def _duplicated_rows(b: pd.DataFrame) -> pd.DataFrame:
    copies = b.head(10).assign(application_id=[f"B{i}" for i in range(10)])
    return pd.concat([b, copies], ignore_index=True)


FIRING = [
    pytest.param(_drop_column, "schema", ["education"], "missing columns ['education']", id="schema-missing"),
    pytest.param(_add_column, "schema", ["channel"], "new columns ['channel']", id="schema-new"),
    pytest.param(_income_as_text, "column_type", ["income"], "found categorical (str)", id="column_type"),
    pytest.param(
        _nulls(0.10), "null_share", ["debt_ratio"], "found 10.0% null (100 of 1000 rows)", id="null_share"
    ),
    pytest.param(
        _loan_outliers(0.05),
        "numeric_range",
        ["loan_amount"],
        "found 5.0% of non-null rows outside (50 rows)",
        id="numeric_range",
    ),
    pytest.param(_income_in_thousands, "numeric_shift", ["income"], "found median 4", id="numeric_shift"),
    pytest.param(_region_recoded, "categorical_domain", ["region"], "found new values ['N'] in", id="domain"),
    pytest.param(
        _label_outside_classes,
        "label_values",
        ["default"],
        "found other values [2] in 3 rows",
        id="label_values",
    ),
    pytest.param(
        _label_rate_too_low, "label_rate", ["default"], "found a rate of 0.0050 (5 of 1000", id="label_rate"
    ),
    pytest.param(_few_rows, "row_count", [], "at least 200 rows; found rows: 150", id="row_count"),
    pytest.param(
        _keep_females(20),
        "group_size",
        ["gender"],
        "group gender == 'female' with at least 30 rows; found rows: 20",
        id="group_size",
    ),
    pytest.param(
        _relabel_females_but(40),
        "group_share",
        ["gender"],
        "group gender == 'female' with at least 5.0% of rows; found 4.0% (40 of 1000 rows)",
        id="group_share",
    ),
    pytest.param(
        _repeated_ids,
        "duplicate_ids",
        ["application_id"],
        "found 4 rows (0.4%) sharing their id",
        id="duplicate_ids",
    ),
    pytest.param(
        _duplicated_rows,
        "duplicate_rows",
        None,
        "found 20 rows (2.0%) identical to another row",
        id="duplicate_rows",
    ),
]


@pytest.mark.parametrize(("mutate", "check", "columns", "found"), FIRING)
def test_each_check_blocks_what_it_guards(
    batch: pd.DataFrame,
    reference: pd.DataFrame,
    mutate: Callable[[pd.DataFrame], pd.DataFrame],
    check: str,
    columns: list[str] | None,
    found: str,
) -> None:
    result = audit_dataset(mutate(batch), reference, DATASET, SETTINGS)
    assert result.report.verdict == "blocked"
    matching = [f for f in result.report.blocking if f.check == check]
    assert matching, f"no {check} finding in {[f.check for f in result.report.findings]}"
    finding = matching[0]
    if columns is not None:
        assert finding.columns == columns
    assert "; found " in finding.message
    assert found in finding.message


def test_group_share_check_on_share_alone(batch: pd.DataFrame, reference: pd.DataFrame) -> None:
    """40 women in 1000 rows pass min_group_rows (30) and fail min_group_share (5%)."""
    result = audit_dataset(_relabel_females_but(40)(batch), reference, DATASET, SETTINGS)
    blocking = {f.check for f in result.report.blocking}
    assert "group_share" in blocking
    assert "group_size" not in blocking


def test_ids_seen_in_reference_find_copied_rows(history: list[pd.DataFrame], reference: pd.DataFrame) -> None:
    """Hazard 3: the copies keep last month's application_id, which the reference holds."""
    batch = _copies_of_last_month(history[-1], history[-2])
    result = audit_dataset(batch, reference, DATASET, SETTINGS)
    finding = next(f for f in result.report.blocking if f.check == "ids_seen_in_reference")
    assert finding.columns == ["application_id"]
    assert finding.evidence["rows"] == 100
    assert "found 100 rows (10.0%) whose id is already in the reference" in finding.message
    # The dates moved, so within the batch the copies are not duplicate rows.
    assert {f.check for f in result.report.blocking} == {"ids_seen_in_reference"}


def test_migration_hazard_names_each_column(batch: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Hazard 4: income /1000, 'north' recoded 'N', the share of women halved."""
    rng = np.random.default_rng(11)
    females = batch.index[batch["gender"] == "female"]
    migrated = batch.drop(index=rng.choice(females, size=len(females) * 2 // 3, replace=False))
    migrated = _region_recoded(_income_in_thousands(migrated.reset_index(drop=True)))
    result = audit_dataset(migrated, reference, DATASET, SETTINGS)
    assert checks_of(result) == {
        ("categorical_domain", ("region",)),
        ("numeric_shift", ("income",)),
        ("drift", ("income",)),  # Kolmogorov-Smirnov 1.0: every value moved below the reference's
        ("drift", ("region",)),  # PSI: 'north' vanished, 'N' appeared
        ("group_share_drift", ("gender",)),  # women from ~50% to ~25% of rows
    }
    assert checks_of(result, "warn") == set()
    drift = {f.columns[0]: f for f in result.report.findings if f.check.endswith("drift")}
    assert drift["income"].evidence["value"] == 1.0
    domain = next(f for f in result.report.findings if f.check == "categorical_domain")
    assert domain.evidence["new_values"] == ["N"]
    # The widened range alone would have let income in kEUR through: the lower
    # bound (q_low - 0.5 * span) is below zero.
    range_row = next(
        r for r in result.expectations if r["check"] == "numeric_range" and r["columns"] == ["income"]
    )
    assert range_row["success"] is True


@pytest.mark.parametrize(
    ("dropped", "severity"),
    [
        pytest.param(0.25, "warn", id="share-down-8-points-warns"),  # ~50% -> ~43%: beyond 0.05, within 0.1
        pytest.param(0.5, "block", id="share-down-17-points-blocks"),  # ~50% -> ~33%: beyond 0.1
    ],
)
def test_group_share_drift(batch: pd.DataFrame, reference: pd.DataFrame, dropped: float, severity: str) -> None:
    rng = np.random.default_rng(5)
    females = batch.index[batch["gender"] == "female"]
    fewer = batch.drop(index=rng.choice(females, size=int(len(females) * dropped), replace=False))
    result = audit_dataset(fewer, reference, DATASET, SETTINGS)
    assert {(f.check, f.severity) for f in result.report.findings} == {("group_share_drift", severity)}
    finding = result.report.findings[0]
    assert finding.columns == ["gender"]
    assert finding.message.startswith("share of every group of 'gender' within ")
    assert "'female' 4" in finding.message or "'female' 5" in finding.message


# ---------------------------------------- tolerances (the other direction)


@pytest.mark.parametrize(
    ("mutate", "settings"),
    [
        pytest.param(_nulls(0.04), SETTINGS, id="nulls-under-max_null_share"),
        pytest.param(_loan_outliers(0.005), SETTINGS, id="outliers-under-max_out_of_range_share"),
        pytest.param(_duplicated_rows, AuditSettings(max_duplicate_share=0.05), id="duplicates-under-share"),
        pytest.param(
            _label_rate_too_low,
            AuditSettings(
                label_rate_min=0.001, drift=DriftSettings(label_rate_shift_warn=0.5, label_rate_shift_block=0.5)
            ),
            id="label-rate-in-bounds",
        ),
        pytest.param(_few_rows, AuditSettings(min_rows=100, min_group_share=0.0), id="rows-over-min_rows"),
    ],
)
def test_within_tolerance_passes(
    batch: pd.DataFrame,
    reference: pd.DataFrame,
    mutate: Callable[[pd.DataFrame], pd.DataFrame],
    settings: AuditSettings,
) -> None:
    result = audit_dataset(mutate(batch), reference, DATASET, settings)
    assert result.report.blocking == []


def test_sparse_reference_columns_keep_their_null_level(batch: pd.DataFrame, reference: pd.DataFrame) -> None:
    """A column already 80% null in the reference is judged against that level, not 5%."""
    rng = np.random.default_rng(9)

    def sparse(frame: pd.DataFrame) -> pd.DataFrame:
        months = pd.Series(rng.integers(1, 24, len(frame)), index=frame.index, dtype="float64")
        return frame.assign(months_since_delinquency=months.where(rng.random(len(frame)) < 0.2))

    ref, bat = sparse(reference), sparse(batch)
    result = audit_dataset(bat, ref, DATASET, SETTINGS)
    assert result.report.blocking == []
    assert any(n.startswith("months_since_delinquency: null share allowance") for n in result.report.notes)
    all_null = bat.assign(months_since_delinquency=np.nan)
    blocked = audit_dataset(all_null, ref, DATASET, SETTINGS)
    assert ("null_share", ("months_since_delinquency",)) in checks_of(blocked)
    shift = next(f for f in blocked.report.blocking if f.check == "numeric_shift")
    assert shift.message.endswith("; found no median (no non-null values)")


def test_column_entirely_null_in_reference_may_stay_null(
    batch: pd.DataFrame, reference: pd.DataFrame
) -> None:
    result = audit_dataset(batch.assign(note=np.nan), reference.assign(note=np.nan), DATASET, SETTINGS)
    assert result.report.blocking == []
    assert "note: entirely null in the reference, nulls allowed" in result.report.notes


def test_datetime_columns_get_no_range(batch: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Hazard 1's collections_date: later dates in a new month are not a range violation."""
    far = batch.assign(collections_date=batch["application_date"] + pd.DateOffset(years=30))
    ref = reference.assign(collections_date=reference["application_date"] + pd.DateOffset(months=3))
    result = audit_dataset(far, ref, DATASET, SETTINGS)
    assert result.report.blocking == []
    as_text = far.assign(collections_date=far["collections_date"].dt.strftime("%Y-%m-%d"))
    blocked = audit_dataset(as_text, ref, DATASET, SETTINGS)
    assert checks_of(blocked) == {("column_type", ("collections_date",))}


def test_label_copy_is_not_an_audit_concern(batch: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Hazard 2 (internal_risk_flag) is consistent data: the leakage stage must catch it, not the audit."""
    flag = {"internal_risk_flag": lambda f: f["default"]}
    result = audit_dataset(batch.assign(**flag), reference.assign(**flag), DATASET, SETTINGS)
    assert result.report.blocking == []


def test_excluded_columns_are_only_required_to_exist(batch: pd.DataFrame, reference: pd.DataFrame) -> None:
    dataset = DATASET.model_copy(update={"exclude_columns": {"education": "free text, reviewed 2024-05"}})
    result = audit_dataset(
        _region_recoded(batch).assign(education="<b>anything</b>"), reference, dataset, SETTINGS
    )
    assert checks_of(result) == {("categorical_domain", ("region",)), ("drift", ("region",))}
    assert "excluded education: free text, reviewed 2024-05" in result.report.notes
    assert {r["check"] for r in result.expectations if r["columns"] == ["education"]} == {"schema"}
    with pytest.raises(BadInputError) as error:
        audit_dataset(batch.drop(columns=["education"]), reference, dataset, SETTINGS)
    assert str(error.value) == ERR_MISSING_COLUMNS.format(
        table="batch", missing=["education"], found=[c for c in batch.columns if c != "education"]
    )


# ---------------------------------------- bad input


def _columns_error(frame: pd.DataFrame, missing: list[str], table: str = "batch") -> str:
    return ERR_MISSING_COLUMNS.format(table=table, missing=missing, found=list(frame.columns))


@pytest.mark.parametrize(
    ("make_batch", "with_reference", "dataset", "message"),
    [
        pytest.param(lambda b: b.iloc[:0], True, DATASET, lambda b: ERR_EMPTY_BATCH, id="empty"),
        pytest.param(
            lambda b: b.drop(columns=["gender"]),
            True,
            DATASET,
            lambda b: _columns_error(b, ["gender"]),
            id="missing-sensitive",
        ),
        pytest.param(
            lambda b: b,
            True,
            DATASET.model_copy(update={"features": ["income", "credit_score"]}),
            lambda b: _columns_error(b, ["credit_score"]),
            id="missing-listed-feature",
        ),
        pytest.param(
            lambda b: b.assign(default=0),
            True,
            DATASET,
            lambda b: ERR_SINGLE_CLASS.format(target="default", value=0),
            id="single-class",
        ),
        pytest.param(
            lambda b: b.assign(default=np.arange(len(b)) % 3),
            False,
            DATASET,
            lambda b: ERR_NOT_BINARY.format(target="default", count=3, table="batch", values=[0, 1, 2]),
            id="three-classes-first-run",
        ),
        pytest.param(
            lambda b: b,
            True,
            DATASET.model_copy(update={"positive_label": "yes"}),
            lambda b: ERR_POSITIVE_LABEL.format(label="yes", target="default", values=[0, 1]),
            id="positive-label-absent",
        ),
    ],
)
def test_bad_input_is_one_clear_line(
    batch: pd.DataFrame,
    reference: pd.DataFrame,
    make_batch: Callable[[pd.DataFrame], pd.DataFrame],
    with_reference: bool,
    dataset: DatasetSettings,
    message: Callable[[pd.DataFrame], str],
) -> None:
    bad = make_batch(batch)
    with pytest.raises(BadInputError) as error:
        audit_dataset(bad, reference if with_reference else None, dataset, SETTINGS)
    assert str(error.value) == message(bad)
    assert "\n" not in str(error.value)


def test_reference_must_not_be_empty(batch: pd.DataFrame, reference: pd.DataFrame) -> None:
    with pytest.raises(BadInputError) as error:
        audit_dataset(batch, reference.iloc[:0], DATASET, SETTINGS)
    assert str(error.value) == ERR_EMPTY_REFERENCE


# ---------------------------------------- the HTML report


def test_html_report_is_self_contained_and_escaped(batch: pd.DataFrame, reference: pd.DataFrame) -> None:
    hostile = batch.assign(region=batch["region"].replace({"north": "<script>x</script>"}))
    result = audit_dataset(hostile, reference, DATASET, SETTINGS)
    page = audit_report_html(result)
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "BLOCKED" in page
    assert "<dt>Expected</dt><dd>&#x27;region&#x27; values within the reference domain" in page
    assert "<dt>Columns</dt><dd>region</dd>" in page
    table = page.split('<table class="expectations">')[1]
    assert table.count("<tr") == len(result.expectations) + 1
    assert "http" not in page  # nothing fetched: styles inline, no links


def test_html_report_of_a_clean_month(clean_result: AuditResult) -> None:
    page = audit_report_html(clean_result)
    assert "PASS" in page and "<p>None.</p>" in page
    assert 'class="failed"' not in page


# ---------------------------------------- German Credit


@pytest.fixture(scope="module")
def german() -> pd.DataFrame:
    return pd.read_csv(GERMAN_CREDIT)


GERMAN = DatasetSettings(source="file", path=str(GERMAN_CREDIT), target="bad_credit", sensitive=["sex"])


def test_german_credit_first_run_passes(german: pd.DataFrame) -> None:
    # 1,000 complete rows (no nulls), 30% bad credit (within [0.01, 0.99]), 310
    # women and 690 men (both well over 30 rows and 5%), no duplicated rows:
    # nothing for the reference-free checks to object to.  No ids: no id checks.
    result = audit_dataset(german, None, GERMAN, SETTINGS)
    assert result.report.verdict == "pass"
    assert result.report.findings == []
    assert "duplicate_ids" not in {row["check"] for row in result.expectations}


def test_german_credit_half_against_half_passes(german: pd.DataFrame) -> None:
    # Two stratified halves of one sample: same columns and kinds, every
    # category of the second half (the rarest, purpose 'retraining', has 9
    # rows) seen in the first, numbers inside the widened ranges, medians in
    # the reference ranges.  So no blocking finding, as it should be for data
    # drawn from one population.  The group-share-shift warning band is
    # +-5 points; a random 500-row half moves the share of women by about
    # 2.9 points (one standard error), so other seeds can warn (seed 3 does):
    # a warning, never a block.
    reference, batch = train_test_split(
        german, test_size=0.5, stratify=german["bad_credit"], random_state=SPLIT_SEED
    )
    result = audit_dataset(batch, reference, GERMAN, SETTINGS)
    assert result.report.verdict == "pass"
    assert result.report.findings == []
    assert {"categorical_domain", "numeric_range", "column_type"} <= {r["check"] for r in result.expectations}


def test_german_credit_recoded_purpose_is_found(german: pd.DataFrame) -> None:
    reference, batch = train_test_split(
        german, test_size=0.5, stratify=german["bad_credit"], random_state=SPLIT_SEED
    )
    recoded = batch.assign(purpose=batch["purpose"].replace({"radio/television": "radio/tv"}))
    result = audit_dataset(recoded, reference, GERMAN, SETTINGS)
    # a new category, and with it a population shift: 28% of rows moved to it
    assert checks_of(result) == {("categorical_domain", ("purpose",)), ("drift", ("purpose",))}


# ---------------------------------------- at scale (timings are measured by `make bench`, never asserted)


@pytest.mark.slow
def test_audit_of_100k_rows_finds_nothing_on_clean_data() -> None:
    months = [make_month(m, 50_000, 100 + m, first_id=m * 50_000) for m in range(4)]
    reference, batch = pd.concat(months[:2], ignore_index=True), pd.concat(months[2:], ignore_index=True)
    audit_dataset(batch.head(300), reference.head(300), DATASET, SETTINGS)  # warm GX's lazy imports
    result = audit_dataset(batch, reference, DATASET, SETTINGS)
    assert result.report.blocking == []


# ---------------------------------------- mixed types, freshness, reference kinds, Data Docs


def test_numbers_with_text_placeholders_are_mixed_types(batch: pd.DataFrame) -> None:
    as_text = batch["income"].map(lambda v: f"{v:.2f}").to_numpy(dtype=object)
    as_text[:30] = "n/a"
    result = audit_dataset(batch.assign(income=pd.Series(as_text, dtype="str")), None, DATASET, SETTINGS)
    finding = next(f for f in result.report.blocking if f.check == "mixed_types")
    assert finding.columns == ["income"]
    assert finding.message == (
        "'income' all numbers, or text with under 50.0% of values numbers; "
        "found 97.0% of its values numbers and the rest text, e.g. ['n/a']"
    )
    assert finding.evidence == {"numeric_share": 0.97, "text_rows": 30, "text_examples": ["n/a"]}


def test_values_of_several_python_types_are_mixed_types(batch: pd.DataFrame) -> None:
    values = batch["n_credit_lines"].to_numpy(dtype=object)
    values[:10] = [f"{v} lines" for v in values[:10]]
    result = audit_dataset(batch.assign(n_credit_lines=values), None, DATASET, SETTINGS)
    finding = next(f for f in result.report.blocking if f.check == "mixed_types")
    assert finding.message == "values of 'n_credit_lines' of one type; found number in 990 rows, str in 10 rows"


def test_text_with_some_digits_is_not_mixed_types(batch: pd.DataFrame) -> None:
    # a quarter of the codes are numbers: a text column with numeric-looking codes, not numbers with text
    codes = np.where(np.arange(len(batch)) % 4 == 0, "12", "north-12")
    result = audit_dataset(batch.assign(branch=codes), None, DATASET, SETTINGS)
    assert not [f for f in result.report.findings if f.check == "mixed_types"]


def test_stale_rows_fail_freshness(batch: pd.DataFrame, reference: pd.DataFrame) -> None:
    stale = batch.copy()
    stale.loc[stale.index[:50], "application_date"] = reference["application_date"].iloc[0]
    result = audit_dataset(stale, reference, DATASET, SETTINGS)
    finding = next(f for f in result.report.blocking if f.check == "freshness")
    latest = reference["application_date"].max().isoformat()
    assert finding.columns == ["application_date"]
    assert finding.message == (
        f"'application_date' later than the reference's latest decision {latest} "
        "(at most 0.0% of rows at or before it); found 50 rows (5.0%) at or before it"
    )
    lenient = audit_dataset(stale, reference, DATASET, AuditSettings(max_stale_share=0.05))
    assert not [f for f in lenient.report.findings if f.check == "freshness"]


def test_a_previous_version_as_reference_skips_ids_seen_and_freshness(batch: pd.DataFrame) -> None:
    """A dataset replaced whole (file source): its previous version is not earlier data."""
    result = audit_dataset(batch, batch, DATASET, SETTINGS, reference_is_earlier=False)
    assert result.report.blocking == []
    assert {"ids_seen_in_reference", "freshness"}.isdisjoint({row["check"] for row in result.expectations})
    assert (
        "ids already seen in the reference: not checked, the reference is a previous version of the data, "
        "not earlier data" in result.report.notes
    )
    assert "freshness: not checked, the reference is a previous version of the data, not earlier data" in (
        result.report.notes
    )


def test_type_check_sees_every_python_type_of_an_object_column(batch: pd.DataFrame, reference: pd.DataFrame) -> None:
    values = batch["region"].to_numpy(dtype=object)
    values[5] = 3  # one integer among strings
    result = audit_dataset(batch.assign(region=values), reference, DATASET, SETTINGS)
    finding = next(f for f in result.report.blocking if f.check == "column_type")
    assert finding.columns == ["region"]
    assert finding.message.endswith("; found categorical (object: int, str)")


def test_group_size_on_a_mostly_missing_attribute(batch: pd.DataFrame) -> None:
    """20 labelled rows, fewer than min_group_rows in all: every group is too small, counted directly."""
    sparse = batch.assign(gender=batch["gender"].where(np.arange(len(batch)) < 20))
    result = audit_dataset(sparse, None, DATASET, AuditSettings(min_group_share=0.0, max_null_share=1.0))
    sizes = {f.message for f in result.report.blocking if f.check == "group_size"}
    counts = sparse["gender"].value_counts()
    remedy = REMEDY_SMALL_GROUP.format(policy=POLICY_KEYS.format(attribute="gender"))
    assert sizes == {
        f"group gender == {group!r} with at least 30 rows; found rows: {counts[group]}; {remedy}"
        for group in counts.index
    }


def test_data_docs_hold_the_same_verdicts(batch: pd.DataFrame, reference: pd.DataFrame, tmp_path: Path) -> None:
    recoded = _region_recoded(batch)
    plain = audit_dataset(recoded, reference, DATASET, SETTINGS)
    docs = tmp_path / "docs"
    with_docs = audit_dataset(recoded, reference, DATASET, SETTINGS, data_docs_dir=docs)
    assert with_docs.data_docs == docs / "index.html"
    assert with_docs.expectations == plain.expectations
    assert with_docs.report.findings == plain.report.findings
    suites = sorted(p.name for p in (docs / "validations").iterdir())
    assert suites == ["fairgate-audit-batch", "fairgate-audit-derived", "fairgate-audit-types"]
    (page,) = (docs / "validations" / "fairgate-audit-batch").rglob("*.html")
    assert "Failed" in page.read_text(encoding="utf-8")
    assert "data_docs/index.html" in audit_report_html(with_docs, data_docs_link="data_docs/index.html")


def test_ids_in_the_findings_are_the_ids_not_their_codes(batch: pd.DataFrame) -> None:
    """Great Expectations checks ids through their codes; the findings name the ids themselves."""
    repeated = _repeated_ids(batch)
    first = repeated.loc[repeated.index[0], "application_id"]
    result = audit_dataset(repeated, None, DATASET, SETTINGS)
    finding = next(f for f in result.report.blocking if f.check == "duplicate_ids")
    assert finding.evidence["examples"] == [first] * 4
    pair = DATASET.model_copy(update={"id_columns": ["application_id", "region"]})
    result = audit_dataset(repeated.assign(region="north"), None, pair, SETTINGS)
    finding = next(f for f in result.report.blocking if f.check == "duplicate_ids")
    assert finding.evidence["examples"] == [{"application_id": first, "region": "north"}] * 4


def test_integer_ids_keep_their_type_check(batch: pd.DataFrame, reference: pd.DataFrame) -> None:
    def numbered(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(application_id=frame["application_id"].str.slice(1).astype("int64"))

    assert audit_dataset(numbered(batch), numbered(reference), DATASET, SETTINGS).report.blocking == []
    as_text = audit_dataset(batch, numbered(reference), DATASET, SETTINGS)
    finding = next(f for f in as_text.report.blocking if f.check == "column_type")
    assert finding.columns == ["application_id"]
    assert finding.message.endswith("; found categorical (str)")


@pytest.mark.parametrize("women", [29, 30, 31])
def test_group_size_through_shares_equals_counting_rows(batch: pd.DataFrame, women: int) -> None:
    """The group size is checked as a share of labelled rows: at the boundary it says what counting says."""
    result = audit_dataset(_keep_females(women)(batch), None, DATASET, AuditSettings(min_group_share=0.0))
    blocked = [f for f in result.report.blocking if f.check == "group_size"]
    assert bool(blocked) is (women < SETTINGS.min_group_rows)
    row = next(r for r in result.expectations if r["check"] == "group_size" and "'female'" in r["expected"])
    assert row["observed"] == f"rows: {women}"
