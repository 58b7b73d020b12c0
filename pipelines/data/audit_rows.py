"""The audit's checks on the identity of rows: ids unique, ids new against the reference, identical rows.

Identical rows (ids aside) are compared with what chance gives in data of the
batch's shape (:mod:`pipelines.data.chance`): within that they are a warning,
beyond it a block.  Repeated ids are never chance.  Each planner returns one
:class:`~pipelines.data.great_expectations_run.PlannedExpectation`; the rows
are flagged on the encodings and Great Expectations counts the flags.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.config import AuditSettings
from pipelines.data.audit_values import SHOWN_VALUES, native, percent, shown_values
from pipelines.data.chance import allowed_count, expected_repeated_rows, modelled_match_probability
from pipelines.data.columns import EncodedFrame
from pipelines.data.great_expectations_run import PlannedExpectation

NOTE_ONE_ROW_COLUMN = (
    "duplicate_rows: one column compared ({column!r}): its repeated values are not repeated rows, not checked"
)
DERIVED_SEEN_ID = "id_in_reference"
DERIVED_REPEATED = "row_repeated_elsewhere"


def map_counts(result: dict[str, Any]) -> tuple[int, int, int]:
    """Rows, non-null rows and unexpected rows of a column map expectation."""
    rows = int(result.get("element_count", 0))
    missing = int(result.get("missing_count", 0) or 0)
    unexpected = int(result.get("unexpected_count", 0) or 0)
    return rows, rows - missing, unexpected


def plan_unique_ids(ids: list[str], settings: AuditSettings, encoded: EncodedFrame) -> PlannedExpectation:
    """Ids unique within the batch (at most ``max_duplicate_share`` of rows repeating one): ids are never chance."""
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
    import great_expectations.expectations as gxe

    def decode(example: Any) -> Any:
        """The id value behind a code of the batch view (an id column in the view holds codes)."""
        if isinstance(example, dict):
            return {name: decode_one(name, value) for name, value in example.items()}
        return decode_one(ids[0], example)

    def decode_one(name: str, value: Any) -> Any:
        column = encoded[name]
        if column.kind == "datetime" or value is None or pd.isna(value):
            return native(value)
        return native(column.uniques[int(value)])

    mostly = 1.0 - settings.max_duplicate_share
    expectation = (
        gxe.ExpectColumnValuesToBeUnique(column=ids[0], mostly=mostly)
        if len(ids) == 1
        else gxe.ExpectCompoundColumnsToBeUnique(column_list=ids, mostly=mostly)
    )

    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        rows, _, repeated = map_counts(result)
        share = repeated / rows if rows else 0.0
        examples = shown_values([decode(v) for v in result.get("partial_unexpected_list") or []])
        found = f"{repeated} rows ({percent(share)}) sharing their id with another row"
        if repeated:
            found += f", e.g. {examples[:5]}"
        return found, {"rows": repeated, "share": share, "examples": examples}

    return PlannedExpectation(
        "duplicate_ids",
        list(ids),
        expectation,
        f"{ids} unique within the batch (at most {percent(settings.max_duplicate_share)} of rows repeated)",
        read,
    )


def plan_seen_ids(
    ids: list[str], batch: pd.DataFrame, seen: np.ndarray, settings: AuditSettings
) -> PlannedExpectation:
    """Ids of the batch new, not already in the reference (``seen`` flags the rows whose id is)."""
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
    import great_expectations.expectations as gxe

    examples = batch.loc[seen, ids].head(SHOWN_VALUES)
    shown = examples[ids[0]].tolist() if len(ids) == 1 else examples.to_dict("records")

    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        rows, _, already = map_counts(result)
        share = already / rows if rows else 0.0
        found = f"{already} rows ({percent(share)}) whose id is already in the reference"
        if already:
            found += f", e.g. {shown_values(shown)[:5]}"
        return found, {"rows": already, "share": share, "examples": shown_values(shown)}

    # The membership test runs on the encodings (a hash join); GX counts the flagged rows.
    return PlannedExpectation(
        "ids_seen_in_reference",
        list(ids),
        gxe.ExpectColumnValuesToBeInSet(
            column=DERIVED_SEEN_ID, value_set=[False], mostly=1.0 - settings.max_duplicate_share
        ),
        f"{ids} of the batch new, not already in the reference "
        f"(at most {percent(settings.max_duplicate_share)} of rows)",
        read,
        asset="derived",
    )


def plan_duplicate_rows(
    columns: list[str], encoded: EncodedFrame, repeated: np.ndarray, settings: AuditSettings, notes: list[str]
) -> PlannedExpectation:
    """Rows identical to another row (ids aside), against what chance gives in data of this shape.

    Blocks above ``duplicate_rows_factor`` times the chance expectation
    beyond binomial noise (or above ``max_duplicate_share``, whichever allows
    more); identical rows within that are a warning.
    """
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
    import great_expectations.expectations as gxe

    rows = len(repeated)
    observed = int(np.count_nonzero(repeated))
    floor = math.floor(settings.max_duplicate_share * rows)
    keys = (
        f"audit.duplicate_rows_factor {settings.duplicate_rows_factor:g}, audit.noise_significance "
        f"{settings.noise_significance:g}, audit.max_duplicate_share {settings.max_duplicate_share:g}"
    )
    evidence: dict[str, Any] = {"expected_by_chance": 0.0, "allowed_rows": floor}
    if observed == 0:
        # nothing to compare with chance: the model is not fitted
        allowed = floor
        expected_text = (
            "rows distinct on every column but the ids, or identical no more often than chance gives "
            f"in data of this shape ({keys})"
        )
    else:
        probability = modelled_match_probability(encoded, columns)
        if probability is None:
            notes.append(NOTE_ONE_ROW_COLUMN.format(column=columns[0] if columns else None))
            expected, allowed = float(observed), rows
        else:
            expected = expected_repeated_rows(probability, rows)
            chance_allowed = allowed_count(
                expected, rows, settings.duplicate_rows_factor, settings.noise_significance
            )
            allowed = max(floor, chance_allowed)
        evidence = {"expected_by_chance": expected, "allowed_rows": allowed}
        expected_text = (
            f"no more rows identical to another (ids aside) than chance gives in data of this shape: "
            f"{expected:.1f} rows ({percent(expected / rows)}) expected by chance from how often rows "
            f"agree on all columns but two; at most {allowed} rows ({keys})"
        )
    chance_evidence = evidence

    def read(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        total, _, duplicated = map_counts(result)
        share = duplicated / total if total else 0.0
        found = f"{duplicated} rows ({percent(share)}) identical to another row"
        expected = float(chance_evidence["expected_by_chance"])
        if duplicated and expected > 0.0:
            found += f", {duplicated / expected:.1f} x the {expected:.1f} expected by chance"
        elif duplicated:
            found += ", where chance gives none (a column whose values rows never share)"
        return found, {"rows": duplicated, "share": share, **chance_evidence}

    # Rows are compared through exact row keys (pipelines.data.columns); GX counts the flagged rows.
    return PlannedExpectation(
        "duplicate_rows",
        list(columns),
        gxe.ExpectColumnValuesToBeInSet(
            # GX passes when (rows - flagged) / rows >= mostly: the same division, so flagged <= allowed
            column=DERIVED_REPEATED, value_set=[False], mostly=(rows - allowed) / rows if rows else 1.0
        ),
        expected_text,
        read,
        asset="derived",
        warn_on_pass=True,
    )
