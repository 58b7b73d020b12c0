"""Great Expectations for the data audit: the view it validates, an in-memory context, one checkpoint per table.

:func:`run_great_expectations` validates the expectations that
:mod:`pipelines.data.audit_expectations` planned, each on the table it names
(:data:`Asset`): the batch as :func:`great_expectations_view` shows it, the
derived per-row flags, or one value per Python type of each text column.  It
returns ``(success, result)`` per planned expectation, in plan order; the
planner's own reader turns each result into a finding.

Column names and text values reach Great Expectations HTML-escaped
(:func:`great_expectations_name`, ``html.escape``): its Data Docs write both
into the page unescaped, so a column named ``<img src=x onerror=...>`` (or a
category ``<b>...</b>``) would run as HTML in whoever opens them.  Given
``&lt;img ...&gt;`` instead, the page shows the text as it is.  Escaping
rather than renaming to aliases keeps the Data Docs readable, and text
without ``& < > " '`` reaches GX unchanged; the escaping is undone on the
results, so findings and fairgate's own report name the real columns and
values.

Great Expectations takes about two seconds to import, so it is imported when an
audit runs, never when this module is.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from pipelines.core.errors import BadInputError
from pipelines.core.findings import Severity
from pipelines.data.columns import EncodedFrame, column_kind, naive_utc

ERR_EXPECTATION_FAILED = "great expectations could not evaluate {expectation} on {columns}: {problem}"

Asset = Literal["batch", "derived", "types"]


@dataclass
class PlannedExpectation:
    """One expectation and how to read its result.

    ``warn_on_pass``: when the expectation passes with unexpected rows all
    the same (within an allowance, such as identical rows within chance),
    they are reported as a warning.
    """

    check: str
    columns: list[str]
    expectation: Any
    expected: str
    describe: Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]
    severity: Severity = "block"
    asset: Asset = "batch"
    remedy: str = ""  # added to the finding's message when the expectation fails: how to proceed
    warn_on_pass: bool = False


def great_expectations_view(
    batch: pd.DataFrame, encoded: EncodedFrame, encodable: set[str], ids: Sequence[str]
) -> pd.DataFrame:
    """Return the batch with one canonical dtype per kind, for Great Expectations.

    Numbers stay numpy numbers (nullable ones become float64), dates become
    naive UTC, text becomes a pandas categorical built from the column's
    codes.  An id column (not a date) becomes its codes, one integer per
    distinct id: the checks GX makes of ids (present, not null, unique) give
    the same answers on them, without hashing millions of strings again.
    Excluded columns are passed as they are (only their presence is checked).

    Parameters
    ----------
    batch : pandas.DataFrame
        The table audited.
    encoded : EncodedFrame
        Its encoding (codes and distinct values per column).
    encodable : set of str
        The columns given a canonical dtype (the audited columns and the ids).
    ids : sequence of str
        The id columns, shown as their codes.

    Returns
    -------
    pandas.DataFrame
        The view, on the batch's index.
    """
    columns: dict[str, Any] = {}
    for name in batch.columns:
        series = batch[name]
        if name not in encodable:
            columns[name] = series
            continue
        kind, dtype = column_kind(series), series.dtype
        if name in ids and kind != "datetime":
            codes = encoded[name].codes
            missing = codes < 0
            series = pd.Series(
                pd.arrays.IntegerArray(np.where(missing, 0, codes).astype(np.int32), missing),
                index=series.index,
                name=name,
            )
        elif kind == "numeric" and not isinstance(dtype, np.dtype):
            series = pd.Series(series.to_numpy(dtype="float64", na_value=np.nan), index=series.index, name=name)
        elif kind == "datetime":
            series = naive_utc(series)
        elif kind == "categorical" and not (
            isinstance(dtype, pd.CategoricalDtype) or (isinstance(dtype, np.dtype) and dtype == np.bool_)
        ):
            column = encoded[name]
            series = pd.Series(
                pd.Categorical.from_codes(column.codes, categories=pd.Index(column.uniques)),
                index=series.index,
                name=name,
            )
        columns[name] = series
    return pd.DataFrame(columns, index=batch.index, copy=False)


def _ge_context(data_docs_dir: Path | None) -> Any:
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        ),
    )
    if data_docs_dir is not None:
        # An ephemeral context keeps suites and results in memory; a filesystem
        # Data Docs site renders them into the chosen folder.
        data_docs_dir.mkdir(parents=True, exist_ok=True)
        context.add_data_docs_site(
            "fairgate",
            {
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(data_docs_dir.resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return context


def run_great_expectations(
    assets: dict[Asset, pd.DataFrame], planned: list[PlannedExpectation], data_docs_dir: Path | None
) -> list[tuple[bool, dict[str, Any]]]:
    """Validate the planned expectations; return (success, result) in plan order.

    Parameters
    ----------
    assets : dict
        The tables validated, by :data:`Asset` name.
    planned : list of PlannedExpectation
        The expectations, each naming the asset it validates.  Their
        expectations' ``meta`` is set to find each result's plan.
    data_docs_dir : pathlib.Path or None
        Where the checkpoints render the Great Expectations Data Docs; None
        for none.

    Returns
    -------
    list of (bool, dict)
        Per planned expectation, in plan order: its success and its ``BASIC``
        result.

    Raises
    ------
    BadInputError
        Great Expectations could not evaluate an expectation on the data.
    RuntimeError
        Great Expectations returned a result without its expectation.
    """
    context = _ge_context(data_docs_dir)
    source = context.data_sources.add_pandas(name="fairgate")
    outcome: dict[int, tuple[bool, dict[str, Any]]] = {}
    names = {str(c): great_expectations_name(str(c)) for frame in assets.values() for c in frame.columns}
    names = {name: escaped for name, escaped in names.items() if escaped != name}
    for plan in planned:
        _rename_columns(plan.expectation, names)
        _escape_values(plan.expectation)
    for asset_name, frame in assets.items():
        frame = _escaped_frame(frame.rename(columns=names) if names else frame, objects=asset_name == "types")
        keys = [i for i, plan in enumerate(planned) if plan.asset == asset_name]
        if not keys:
            continue
        definition = source.add_dataframe_asset(name=asset_name).add_batch_definition_whole_dataframe("whole")
        for key in keys:
            planned[key].expectation.meta = {"fairgate_key": key}
        expectations = [planned[key].expectation for key in keys]
        checkpoint = _checkpoint(context, definition, asset_name, expectations, data_docs_dir is not None)
        run = checkpoint.run(batch_parameters={"dataframe": frame})
        results = [r for validation_result in run.run_results.values() for r in validation_result.results]
        outcome.update(_read_results(results, planned))
    real = {escaped: name for name, escaped in names.items()}
    outcome = {key: (success, _real_names(result, real)) for key, (success, result) in outcome.items()}
    return [outcome[i] for i in range(len(planned))]


def great_expectations_name(column: str) -> str:
    """The name a column has in Great Expectations: HTML-escaped (its Data Docs do not escape names).

    Parameters
    ----------
    column : str
        The column's name in the data.

    Returns
    -------
    str
        ``html.escape(column)``: the same name when it holds none of ``& < > " '``.
    """
    return html.escape(column, quote=True)


_COLUMN_FIELDS = ("column", "column_A", "column_B")
_COLUMN_LIST_FIELDS = ("column_list", "column_set")


def _rename_columns(expectation: Any, names: dict[str, str]) -> None:
    """Point an expectation at the escaped names of its columns (and of its row condition's column)."""
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
    from great_expectations.expectations.row_conditions import Column, ComparisonCondition

    if not names:
        return
    for field_name in _COLUMN_FIELDS:
        value = getattr(expectation, field_name, None)
        if isinstance(value, str) and value in names:
            setattr(expectation, field_name, names[value])
    for field_name in _COLUMN_LIST_FIELDS:
        value = getattr(expectation, field_name, None)
        if isinstance(value, list | set | tuple):
            setattr(expectation, field_name, type(value)(names.get(c, c) for c in value))
    condition = getattr(expectation, "row_condition", None)
    if isinstance(condition, ComparisonCondition) and condition.column.name in names:
        expectation.row_condition = ComparisonCondition(
            column=Column(names[condition.column.name]), operator=condition.operator, parameter=condition.parameter
        )
    elif condition is not None and not isinstance(condition, ComparisonCondition):
        raise RuntimeError(f"fairgate does not rename the columns of a {type(condition).__name__} row condition")


def _escape_value(value: Any) -> Any:
    return html.escape(value, quote=True) if isinstance(value, str) else value


def _escape_values(expectation: Any) -> None:
    """Escape the text values an expectation names (its value set, its row condition's parameter)."""
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
    from great_expectations.expectations.row_conditions import ComparisonCondition

    value_set = getattr(expectation, "value_set", None)
    if isinstance(value_set, list):
        expectation.value_set = [_escape_value(v) for v in value_set]
    condition = getattr(expectation, "row_condition", None)
    if isinstance(condition, ComparisonCondition) and isinstance(condition.parameter, str):
        expectation.row_condition = ComparisonCondition(
            column=condition.column, operator=condition.operator, parameter=_escape_value(condition.parameter)
        )


def _escaped_frame(frame: pd.DataFrame, objects: bool) -> pd.DataFrame:
    """The frame with the text values GX can show (categories, the one-per-type values) HTML-escaped.

    Text columns of the batch view are categoricals (only their categories are
    escaped); the ``types`` table (``objects``) holds a few objects, all
    escaped; excluded columns pass as they are, and GX only checks that they
    exist.
    """
    columns: dict[str, Any] = {}
    for name in frame.columns:
        series = frame[name]
        if isinstance(series.dtype, pd.CategoricalDtype):
            categories = series.dtype.categories
            if any(isinstance(v, str) and _escape_value(v) != v for v in categories):
                series = series.cat.rename_categories([_escape_value(v) for v in categories])
        elif objects and pd.api.types.is_object_dtype(series.dtype):
            # built as objects: Series.map would infer a string dtype, and the type check reads the values' types
            series = pd.Series([_escape_value(v) for v in series], index=series.index, dtype=object, name=name)
        columns[name] = series
    return pd.DataFrame(columns, index=frame.index, copy=False)


def _real_value(value: Any, real: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {real.get(k, k): _real_value(v, real) for k, v in value.items()}
    return html.unescape(value) if isinstance(value, str) else value


def _real_names(result: dict[str, Any], real: dict[str, str]) -> dict[str, Any]:
    """A result whose examples hold the real values and column names, not the escaped ones GX saw.

    Every text value GX saw was escaped (:func:`_escaped_frame`), so
    ``html.unescape`` gives each back exactly.
    """
    examples = result.get("partial_unexpected_list")
    if not examples:
        return result
    return {**result, "partial_unexpected_list": [_real_value(v, real) for v in examples]}


def _checkpoint(context: Any, definition: Any, asset_name: str, expectations: list[Any], data_docs: bool) -> Any:
    """Add one suite, its validation definition and the checkpoint that runs it (and renders Data Docs)."""
    # lazy: great_expectations takes about 2 s to import; only an audit that runs pays for it
    import great_expectations as gx
    from great_expectations.checkpoint.actions import ValidationAction

    # Built in one go: ``add_expectation`` compares each new expectation with
    # every earlier one (quadratic), and the plan holds no duplicates.
    suite = gx.ExpectationSuite(name=f"fairgate-audit-{asset_name}", expectations=expectations)
    # One validation definition run by one checkpoint: the batch is built (and fingerprinted by
    # GX) once; with Data Docs, the checkpoint also renders the result into the site.
    suite = context.suites.add(suite)
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"fairgate-{asset_name}", data=definition, suite=suite)
    )
    actions: list[ValidationAction] = []
    if data_docs:
        actions.append(gx.checkpoint.UpdateDataDocsAction(name="data_docs"))
    return context.checkpoints.add(
        gx.Checkpoint(
            name=f"fairgate-{asset_name}",
            validation_definitions=[validation],
            actions=actions,
            result_format="BASIC",
        )
    )


def _read_results(results: list[Any], planned: list[PlannedExpectation]) -> dict[int, tuple[bool, dict[str, Any]]]:
    """Return (success, result) per plan key; raise on a result GX could not compute."""
    outcome: dict[int, tuple[bool, dict[str, Any]]] = {}
    for result in results:
        config = result.expectation_config
        if config is None or not config.meta or "fairgate_key" not in config.meta:
            raise RuntimeError("great expectations returned a result without its expectation")
        key = int(config.meta["fairgate_key"])
        if result.exception_info.get("raised_exception"):
            plan = planned[key]
            raise BadInputError(
                ERR_EXPECTATION_FAILED.format(
                    expectation=plan.expectation.expectation_type,
                    columns=plan.columns,
                    problem=str(result.exception_info.get("exception_message")).splitlines()[0],
                )
            )
        outcome[key] = (bool(result.success), dict(result.result))
    return outcome
