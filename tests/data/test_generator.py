"""Tests of the seeded loan-application generator and its C07 hazards."""

from __future__ import annotations

import io
import json
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pipelines.core.config import HAZARDS, GeneratorSettings
from pipelines.core.errors import BadInputError
from pipelines.data import generator
from pipelines.data.generator import (
    COLUMNS,
    EDUCATION_LEVELS,
    ERR_HAZARDS_TYPE,
    ERR_MONTH,
    ERR_MONTH_COUNT,
    ERR_MONTH_DELTA,
    ERR_MONTH_RANGE,
    ERR_REPEATED_HAZARD,
    ERR_UNKNOWN_HAZARD,
    FIRST_MONTH,
    GENDERS,
    LAST_MONTH,
    REGIONS,
    GeneratedBatch,
    generate_history,
    generate_month,
    month_range,
    shift_month,
)

SETTINGS = GeneratorSettings(seed=20240101, rows_per_month=1500, history_start="2024-01", history_months=12)
MONTH = "2025-01"
EXPECTED_DTYPES = {
    "application_id": "str",
    "application_date": "datetime64[ns]",
    "age": "int64",
    "gender": "str",
    "region": "str",
    "income": "float64",
    "debt_ratio": "float64",
    "employment_years": "float64",
    "n_credit_lines": "int64",
    "loan_amount": "float64",
    "education": "str",
    "default": "int64",
}
ALL_HAZARD_COMBINATIONS = [list(c) for n in range(1, len(HAZARDS) + 1) for c in combinations(HAZARDS, n)]


@pytest.fixture(scope="module")
def clean() -> GeneratedBatch:
    return generate_month(MONTH, SETTINGS)


@pytest.fixture(scope="module")
def thirteen_months() -> pd.DataFrame:
    return generate_history(SETTINGS.model_copy(update={"history_months": 13}))


@pytest.fixture(scope="module")
def fifteen_months() -> pd.DataFrame:
    return generate_history(SETTINGS.model_copy(update={"history_months": 15}))


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _month_bounds(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    return pd.Timestamp(f"{month}-01"), pd.Timestamp(f"{shift_month(month, 1)}-01")


# --- schema -----------------------------------------------------------------------------------


def test_clean_batch_has_exact_columns_dtypes_and_rows(clean: GeneratedBatch) -> None:
    frame = clean.frame
    assert list(frame.columns) == list(COLUMNS)
    assert {column: str(dtype) for column, dtype in frame.dtypes.items()} == EXPECTED_DTYPES
    assert len(frame) == SETTINGS.rows_per_month
    assert isinstance(frame.index, pd.RangeIndex)
    assert not frame.isna().any().any()
    assert clean.decision_month == MONTH
    assert clean.hazards == ()


def test_clean_batch_values_are_in_their_domains(clean: GeneratedBatch) -> None:
    frame = clean.frame
    start, end = _month_bounds(MONTH)
    assert frame["application_date"].between(start, end, inclusive="left").all()
    assert frame["application_date"].is_monotonic_increasing
    assert frame["application_date"].dt.tz is None
    assert frame["application_date"].dt.day.nunique() == 31
    assert frame["application_id"].str.fullmatch(r"A202501-\d{6}").all()
    assert frame["age"].between(18, 80).all()
    assert set(frame["gender"]) == set(GENDERS)
    assert set(frame["region"]) == set(REGIONS)
    assert set(frame["education"]) == set(EDUCATION_LEVELS)
    assert frame["income"].between(12_000, 250_000).all()
    assert 35_000 < frame["income"].median() < 60_000
    assert frame["debt_ratio"].between(0.0, 1.5).all()
    assert (frame["employment_years"] >= 0).all()
    assert (frame["employment_years"] <= frame["age"] - 18).all()
    assert (frame["n_credit_lines"] >= 0).all()
    assert (frame["loan_amount"] > 0).all()
    assert set(frame["default"]) == {0, 1}


def test_truth_of_clean_batch(clean: GeneratedBatch) -> None:
    assert clean.truth["hazards"] == []
    assert clean.truth["decision_month"] == MONTH
    assert clean.truth["label_observed_month"] == "2026-01"
    assert set(clean.truth) & set(HAZARDS) == set()
    json.dumps(clean.truth)


# --- determinism ------------------------------------------------------------------------------


@pytest.mark.parametrize("hazards", [[], list(HAZARDS)], ids=["clean", "all_hazards"])
def test_same_inputs_give_byte_identical_parquet(hazards: list[str]) -> None:
    first = generate_month(MONTH, SETTINGS, hazards)
    second = generate_month(MONTH, SETTINGS, hazards)
    pd.testing.assert_frame_equal(first.frame, second.frame)
    assert _parquet_bytes(first.frame) == _parquet_bytes(second.frame)
    assert first.truth == second.truth


def test_seed_and_month_change_the_draws(clean: GeneratedBatch) -> None:
    other_seed = generate_month(MONTH, SETTINGS.model_copy(update={"seed": SETTINGS.seed + 1}))
    other_month = generate_month(shift_month(MONTH, 1), SETTINGS)
    assert not clean.frame["income"].equals(other_seed.frame["income"])
    assert not clean.frame["income"].equals(other_month.frame["income"])


def test_hazard_streams_cover_exactly_the_configured_hazards() -> None:
    codes = generator._HAZARD_STREAM
    assert set(codes) == set(HAZARDS)
    assert len(set(codes.values())) == len(codes)
    assert generator._STREAM_CLEAN not in codes.values()


def test_history_is_the_clean_months_concatenated() -> None:
    settings = SETTINGS.model_copy(update={"history_months": 3, "hazards": list(HAZARDS)})
    history = generate_history(settings)
    expected = pd.concat(
        [generate_month(month, settings).frame for month in ("2024-01", "2024-02", "2024-03")],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(history, expected)
    assert list(history.columns) == list(COLUMNS)


# --- population -------------------------------------------------------------------------------


def test_ids_are_unique_across_thirteen_months(thirteen_months: pd.DataFrame) -> None:
    assert len(thirteen_months) == 13 * SETTINGS.rows_per_month
    assert thirteen_months["application_id"].is_unique
    assert thirteen_months["application_date"].is_monotonic_increasing


def test_label_rate_is_in_band(thirteen_months: pd.DataFrame) -> None:
    assert 0.20 <= thirteen_months["default"].mean() <= 0.30
    by_month = thirteen_months.groupby(thirteen_months["application_date"].dt.to_period("M"))["default"]
    assert by_month.mean().between(0.16, 0.34).all()


def test_gender_is_balanced_and_groups_differ_moderately(thirteen_months: pd.DataFrame) -> None:
    """The true gap is moderate; the recorded one is widened by the measurement bias (exp(-0.3) for women)."""
    female = thirteen_months["gender"] == "female"
    assert 0.47 <= female.mean() <= 0.53
    recorded_gap = (
        1 - thirteen_months.loc[female, "income"].median() / thirteen_months.loc[~female, "income"].median()
    )
    assert 0.25 <= recorded_gap <= 0.40
    true_gap = 1 - _true_income(thirteen_months)[female].median() / thirteen_months.loc[~female, "income"].median()
    assert 0.0 <= true_gap <= 0.12
    rate_gap = thirteen_months.loc[female, "default"].mean() - thirteen_months.loc[~female, "default"].mean()
    assert 0.005 <= rate_gap <= 0.05


def test_region_is_a_strong_proxy_for_gender(thirteen_months: pd.DataFrame) -> None:
    female = (thirteen_months["gender"] == "female").astype(int)
    female_share_by_region = female.groupby(thirteen_months["region"]).mean()
    score = thirteen_months["region"].map(female_share_by_region)
    assert 0.75 <= roc_auc_score(female, score) <= 0.85


def _true_income(frame: pd.DataFrame) -> pd.Series:
    """The income that drives default: the recorded one with the measurement bias undone (to rounding)."""
    female = (frame["gender"] == "female").to_numpy()
    return frame["income"] * np.where(female, np.exp(GeneratorSettings().recorded_income_gap), 1.0)


def _log_odds(frame: pd.DataFrame, income: pd.Series) -> np.ndarray:
    return generator._default_log_odds(
        income=income.to_numpy(),
        debt_ratio=frame["debt_ratio"].to_numpy(),
        employment_years=frame["employment_years"].to_numpy(),
        n_credit_lines=frame["n_credit_lines"].to_numpy(),
        loan_amount=frame["loan_amount"].to_numpy(),
        age=frame["age"].to_numpy(),
        education_level=frame["education"].map(EDUCATION_LEVELS.index).to_numpy(),
    )


def test_the_recorded_income_understates_womens_risk_capacity(thirteen_months: pd.DataFrame) -> None:
    """Read through the recorded income, women look riskier than they default: gender then carries signal."""
    frame = thirteen_months
    is_female = (frame["gender"] == "female").to_numpy(dtype=float)
    design = np.column_stack([_log_odds(frame, frame["income"]), is_female])
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(design, frame["default"])
    # the recorded income adds 1.4 * 0.3 = 0.42 to women's log-odds: gender must take it back
    assert fit.coef_[0][1] < -0.25


def test_gender_does_not_enter_the_label(thirteen_months: pd.DataFrame) -> None:
    """Given the true log-odds of default, gender adds nothing: the disparity runs through features."""
    frame = thirteen_months
    log_odds = generator._default_log_odds(
        income=_true_income(frame).to_numpy(),
        debt_ratio=frame["debt_ratio"].to_numpy(),
        employment_years=frame["employment_years"].to_numpy(),
        n_credit_lines=frame["n_credit_lines"].to_numpy(),
        loan_amount=frame["loan_amount"].to_numpy(),
        age=frame["age"].to_numpy(),
        education_level=frame["education"].map(EDUCATION_LEVELS.index).to_numpy(),
    )
    design = np.column_stack([log_odds, (frame["gender"] == "female").to_numpy(dtype=float)])
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(design, frame["default"])
    assert fit.coef_[0][0] == pytest.approx(1.0, abs=0.1)
    assert abs(fit.coef_[0][1]) < 0.15
    assert fit.intercept_[0] == pytest.approx(0.0, abs=0.1)


def test_a_plain_model_is_calibrated_accurate_and_unfair(fifteen_months: pd.DataFrame) -> None:
    """The calibration the pipeline relies on: 12 months to train, the next 3 to test.

    The recorded income makes a plain model approve women clearly less often than men,
    beyond what their default rates justify: what the mitigation must correct.
    """
    train = fifteen_months[fifteen_months["application_date"] < "2025-01-01"]
    test = fifteen_months[fifteen_months["application_date"] >= "2025-01-01"]
    categorical = ["region", "education"]
    numeric = ["age", "income", "debt_ratio", "employment_years", "n_credit_lines", "loan_amount"]
    model = make_pipeline(
        ColumnTransformer(
            [
                ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
                ("numeric", StandardScaler(), numeric),
            ]
        ),
        LogisticRegression(max_iter=1000, class_weight="balanced"),
    ).fit(train[categorical + numeric], train["default"])
    probability = model.predict_proba(test[categorical + numeric])[:, 1]
    defaulted = test["default"].to_numpy()
    female = (test["gender"] == "female").to_numpy()
    approved = probability <= np.quantile(probability, 0.6)

    approval = [approved[female].mean(), approved[~female].mean()]
    good = [approved[female & (defaulted == 0)].mean(), approved[~female & (defaulted == 0)].mean()]
    bad = [approved[female & (defaulted == 1)].mean(), approved[~female & (defaulted == 1)].mean()]
    assert 0.75 <= roc_auc_score(defaulted, probability) <= 0.85
    assert approval[0] < approval[1]
    assert 0.70 <= min(approval) / max(approval) <= 0.90
    assert 0.07 < abs(approval[0] - approval[1]) < 0.20
    assert max(abs(good[0] - good[1]), abs(bad[0] - bad[1])) > 0.08


# --- the clean baseline carries no hazard -----------------------------------------------------


def test_clean_baseline_contains_no_hazard(thirteen_months: pd.DataFrame) -> None:
    assert "collections_date" not in thirteen_months.columns
    assert "internal_risk_flag" not in thirteen_months.columns
    month_of_id = thirteen_months["application_id"].str.slice(1, 7)
    month_of_date = thirteen_months["application_date"].dt.strftime("%Y%m")
    assert (month_of_id == month_of_date).all()
    assert thirteen_months["income"].min() >= 12_000
    assert set(thirteen_months["region"]) == set(REGIONS)
    by_month = (thirteen_months["gender"] == "female").groupby(month_of_date).mean()
    assert by_month.between(0.44, 0.56).all()


# --- hazards ----------------------------------------------------------------------------------


@pytest.mark.parametrize("hazards", ALL_HAZARD_COMBINATIONS, ids=lambda h: "+".join(h))
def test_every_hazard_combination_records_json_truth(hazards: list[str]) -> None:
    batch = generate_month(MONTH, SETTINGS, list(reversed(hazards)))
    assert batch.hazards == tuple(name for name in HAZARDS if name in hazards)
    assert batch.truth["hazards"] == list(batch.hazards)
    assert json.loads(json.dumps(batch.truth)) == batch.truth
    for name in hazards:
        assert isinstance(batch.truth[name]["columns"], list)
        assert batch.truth[name]["description"]
    assert len(batch.frame) == SETTINGS.rows_per_month
    untouched = [
        column for column in COLUMNS if not any(column in batch.truth[h]["columns"] for h in hazards)
    ]
    if "duplicated_rows" not in hazards:
        clean = generate_month(MONTH, SETTINGS).frame
        pd.testing.assert_frame_equal(batch.frame[untouched], clean[untouched])


def test_post_outcome_column(clean: GeneratedBatch) -> None:
    batch = generate_month(MONTH, SETTINGS, ["post_outcome_column"])
    truth = batch.truth["post_outcome_column"]
    frame = batch.frame
    assert truth["columns"] == ["collections_date"]
    assert list(frame.columns) == [*COLUMNS, "collections_date"]
    assert str(frame["collections_date"].dtype) == "datetime64[ns]"
    pd.testing.assert_frame_equal(frame[list(COLUMNS)], clean.frame)

    filled = frame["collections_date"].notna()
    assert (filled == (frame["default"] == 1)).all()
    assert truth["filled_rows"] == int(filled.sum())
    decided, collected = frame.loc[filled, "application_date"], frame.loc[filled, "collections_date"]
    assert (collected >= decided + pd.DateOffset(months=2)).all()
    assert (collected <= decided + pd.DateOffset(months=11)).all()
    offset_days = (collected - decided).dt.days
    assert offset_days.min() >= truth["min_offset_days"]
    assert offset_days.max() <= truth["max_offset_days"]


def test_label_copy(clean: GeneratedBatch) -> None:
    batch = generate_month(MONTH, SETTINGS, ["label_copy"])
    truth = batch.truth["label_copy"]
    frame = batch.frame
    assert truth["columns"] == ["internal_risk_flag"]
    assert str(frame["internal_risk_flag"].dtype) == "int64"
    pd.testing.assert_frame_equal(frame[list(COLUMNS)], clean.frame)
    agreement = (frame["internal_risk_flag"] == frame["default"]).mean()
    assert agreement == pytest.approx(truth["agreement"])
    assert 0.985 <= agreement < 1.0
    assert int((frame["internal_risk_flag"] != frame["default"]).sum()) == truth["flipped_rows"]


def test_duplicated_rows(clean: GeneratedBatch) -> None:
    batch = generate_month(MONTH, SETTINGS, ["duplicated_rows"])
    truth = batch.truth["duplicated_rows"]
    frame = batch.frame
    previous = generate_month("2024-12", SETTINGS).frame
    assert truth["source_month"] == "2024-12"
    assert truth["columns"] == ["application_id"]
    assert list(frame.columns) == list(COLUMNS)
    assert {column: str(dtype) for column, dtype in frame.dtypes.items()} == EXPECTED_DTYPES

    row_ids = truth["row_ids"]
    assert len(row_ids) == len(set(row_ids)) == truth["rows"]
    assert 0.09 <= len(row_ids) / len(frame) <= 0.11
    copied = frame["application_id"].isin(row_ids)
    assert int(copied.sum()) == len(row_ids)
    assert set(row_ids) <= set(previous["application_id"])
    assert set(frame["application_id"]) & set(previous["application_id"]) == set(row_ids)

    copies = frame[copied].set_index("application_id").sort_index()
    originals = previous[previous["application_id"].isin(row_ids)].set_index("application_id").sort_index()
    pd.testing.assert_frame_equal(
        copies.drop(columns="application_date"), originals.drop(columns="application_date")
    )
    start, end = _month_bounds(MONTH)
    assert frame["application_date"].between(start, end, inclusive="left").all()
    pd.testing.assert_series_equal(frame["application_date"], clean.frame["application_date"])
    pd.testing.assert_frame_equal(frame[~copied], clean.frame[~copied])


def test_duplicated_rows_do_not_change_the_clean_previous_month() -> None:
    before = generate_month("2024-12", SETTINGS).frame
    generate_month(MONTH, SETTINGS, ["duplicated_rows"])
    pd.testing.assert_frame_equal(generate_month("2024-12", SETTINGS).frame, before)


def test_migration(clean: GeneratedBatch) -> None:
    """One legacy source system (north and south) migrated: its rows only in kEUR; 30% of all women 'male'."""
    batch = generate_month(MONTH, SETTINGS, ["migration"])
    truth = batch.truth["migration"]
    frame = batch.frame
    assert truth["columns"] == ["income", "region", "gender"]
    assert {column: str(dtype) for column, dtype in frame.dtypes.items()} == EXPECTED_DTYPES

    legacy = clean.frame["region"].isin(["north", "south"])
    assert truth["legacy_regions"] == ["north", "south"]
    assert truth["migrated_rows"] == int(legacy.sum())
    assert truth["migrated_share"] == pytest.approx(legacy.mean())
    assert 0.25 <= legacy.mean() <= 0.45  # two thirds of the women, a sixth of the men
    # the legacy system's incomes in kEUR, every other system's untouched (exactly)
    np.testing.assert_allclose(frame["income"][legacy], clean.frame["income"][legacy] * truth["income_scale"])
    pd.testing.assert_series_equal(frame["income"][~legacy], clean.frame["income"][~legacy])
    assert truth["income_unit_after"] == "kEUR"
    assert frame["income"][legacy].max() < 1_000
    assert frame["income"][~legacy].min() >= 12_000
    # the migrated system is where women are: it holds most of them and few of the men
    female = clean.frame["gender"] == "female"
    assert legacy[female].mean() > 0.6 and legacy[~female].mean() < 0.25

    assert truth["region_recode"] == {"north": "N"}
    assert "north" not in set(frame["region"])
    assert set(frame["region"]) == (set(REGIONS) - {"north"}) | {"N"}
    assert ((frame["region"] == "N") == (clean.frame["region"] == "north")).all()

    relabelled = female & (frame["gender"] == "male")
    assert int(relabelled.sum()) == truth["gender_relabelled"]["rows"] == round(0.3 * female.sum())
    assert truth["gender_relabelled"]["share_of_group"] == 0.3
    assert not ((clean.frame["gender"] == "male") & (frame["gender"] == "female")).any()
    # the relabelling reaches women of every system, not only the migrated one
    assert relabelled[legacy].any() and relabelled[~legacy].any()
    assert truth["female_share_before"] == pytest.approx(female.mean())
    assert truth["female_share_after"] == pytest.approx((frame["gender"] == "female").mean())
    assert truth["female_share_after"] == pytest.approx((female.sum() - relabelled.sum()) / len(frame))
    # nothing else moved
    untouched = [column for column in COLUMNS if column not in truth["columns"]]
    pd.testing.assert_frame_equal(frame[untouched], clean.frame[untouched])


def test_the_migration_draws_the_relabelled_women_from_its_own_seeded_stream() -> None:
    def relabelled(settings: GeneratorSettings) -> set[str]:
        clean, migrated = generate_month(MONTH, settings).frame, generate_month(MONTH, settings, ["migration"]).frame
        moved = (clean["gender"] == "female") & (migrated["gender"] == "male")
        return set(clean.loc[moved, "application_id"])

    assert relabelled(SETTINGS) == relabelled(SETTINGS)
    assert relabelled(SETTINGS) != relabelled(SETTINGS.model_copy(update={"seed": SETTINGS.seed + 1}))


def test_all_hazards_together() -> None:
    batch = generate_month(MONTH, SETTINGS, list(HAZARDS))
    frame = batch.frame
    assert list(frame.columns) == [*COLUMNS, "internal_risk_flag", "collections_date"]
    assert set(batch.truth) >= set(HAZARDS)
    assert (frame["collections_date"].notna() == (frame["default"] == 1)).all()
    # the migration rewrites the copies too: those of the migrated system (north, now 'N', and south) in kEUR
    copies = frame[frame["application_id"].isin(batch.truth["duplicated_rows"]["row_ids"])]
    migrated = copies["region"].isin(["N", "south"])
    assert migrated.any() and (~migrated).any()
    assert copies.loc[migrated, "income"].max() < 1_000
    assert copies.loc[~migrated, "income"].min() >= 12_000


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "month", ["2024-13", "2024-00", "2024-1", "24-01", "2024/01", "2024-01\n", "", 202401, None]
)
def test_malformed_month_is_rejected_with_its_message(month: object) -> None:
    expected = ERR_MONTH.format(found=month)
    with pytest.raises(BadInputError) as caught:
        generate_month(month, SETTINGS)  # type: ignore[arg-type]
    assert str(caught.value) == expected
    with pytest.raises(BadInputError) as caught:
        shift_month(month, 1)  # type: ignore[arg-type]
    assert str(caught.value) == expected
    with pytest.raises(BadInputError) as caught:
        month_range(month, 1)  # type: ignore[arg-type]
    assert str(caught.value) == expected


@pytest.mark.parametrize(("month", "delta", "found"), [("1899-12", 0, "1899-12"), (LAST_MONTH, 1, "2200-01")])
def test_month_outside_supported_range_is_rejected(month: str, delta: int, found: str) -> None:
    with pytest.raises(BadInputError) as caught:
        shift_month(month, delta)
    assert str(caught.value) == ERR_MONTH_RANGE.format(first=FIRST_MONTH, last=LAST_MONTH, found=found)


@pytest.mark.parametrize("hazard", ["leak", "Migration", "", 3])
def test_unknown_hazard_is_rejected_with_its_message(hazard: object) -> None:
    with pytest.raises(BadInputError) as caught:
        generate_month(MONTH, SETTINGS, ["label_copy", hazard])  # type: ignore[list-item]
    assert str(caught.value) == ERR_UNKNOWN_HAZARD.format(found=hazard, expected=", ".join(HAZARDS))
    assert str(caught.value).startswith(f"unknown hazard {hazard!r}: expected one of post_outcome_column, ")


def test_hazards_given_as_one_string_are_rejected() -> None:
    with pytest.raises(BadInputError) as caught:
        generate_month(MONTH, SETTINGS, "migration")
    assert str(caught.value) == ERR_HAZARDS_TYPE.format(found="migration")


def test_repeated_hazard_is_rejected() -> None:
    with pytest.raises(BadInputError) as caught:
        generate_month(MONTH, SETTINGS, ["label_copy", "label_copy"])
    assert str(caught.value) == ERR_REPEATED_HAZARD.format(found="label_copy")


@pytest.mark.parametrize("count", [-1, 1.5, True])
def test_bad_month_count_is_rejected(count: object) -> None:
    with pytest.raises(BadInputError) as caught:
        month_range(MONTH, count)  # type: ignore[arg-type]
    assert str(caught.value) == ERR_MONTH_COUNT.format(found=count)


@pytest.mark.parametrize("delta", [1.5, "1", False])
def test_bad_shift_is_rejected(delta: object) -> None:
    with pytest.raises(BadInputError) as caught:
        shift_month(MONTH, delta)  # type: ignore[arg-type]
    assert str(caught.value) == ERR_MONTH_DELTA.format(found=delta)


# --- month arithmetic -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "delta", "expected"),
    [
        ("2024-12", 1, "2025-01"),
        ("2024-01", -1, "2023-12"),
        ("2024-05", -17, "2022-12"),
        ("2024-05", 0, "2024-05"),
    ],
)
def test_shift_month(month: str, delta: int, expected: str) -> None:
    assert shift_month(month, delta) == expected


def test_month_range() -> None:
    assert month_range("2024-11", 3) == ["2024-11", "2024-12", "2025-01"]
    assert month_range("2024-11", 0) == []


@settings(database=None, deadline=None)
@given(year=st.integers(1950, 2150), month=st.integers(1, 12), delta=st.integers(-500, 500))
def test_shift_month_round_trips_and_agrees_with_month_range(year: int, month: int, delta: int) -> None:
    start = f"{year:04d}-{month:02d}"
    shifted = shift_month(start, delta)
    assert shift_month(shifted, -delta) == start
    assert pd.Period(shifted, freq="M") - pd.Period(start, freq="M") == delta * pd.offsets.MonthEnd()
    if delta >= 0:
        assert month_range(start, delta + 1)[-1] == shifted
