"""The run's MLflow dataset inputs, described without MLflow's walk over every value.

The schema and profile fairgate logs are compared with those MLflow's own
``from_pandas`` gives for the same frames (generator data with missing
values, and a frame of every dtype fairgate may meet); the logged inputs are
read back from a real MLflow store; the digest follows the split's file both
ways: the same rows give the same digest, one changed value a different one,
even past the 10 000 rows MLflow's own digest looks at.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.data.pandas_dataset import from_pandas
from mlflow.types.utils import _infer_schema

from pipelines.core.config import GeneratorSettings
from pipelines.core.errors import BadInputError
from pipelines.core.files import write_parquet
from pipelines.data.generator import generate_month
from pipelines.governance.dataset_inputs import DIGEST_CHARS, frame_schema, split_dataset, split_digest
from pipelines.governance.lineage import dvc_dataset_source, log_split_datasets

DATA_HASH = "0123456789abcdef0123456789abcdef.dir"
FILES = ["batches/2024-01.parquet", "batches/2024-02.parquet"]


def _generator_frame(rows: int = 600) -> pd.DataFrame:
    settings = GeneratorSettings(rows_per_month=rows)
    return pd.concat([generate_month(m, settings).frame for m in ("2024-01", "2024-02")], ignore_index=True)


def _with_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing values in a string, a float and a time column: those columns are not ``required``."""
    frame = frame.copy()
    frame.loc[3, "region"] = None
    frame.loc[5, "employment_years"] = np.nan
    frame.loc[7, "application_date"] = pd.NaT
    return frame


def _every_dtype() -> pd.DataFrame:
    return pd.DataFrame({
        "str": pd.Series(["a", None, "b"], dtype="str"),
        "string_arrow": pd.Series(["a", "b", "c"], dtype="string[pyarrow]"),
        "object_str": pd.Series(["a", "b", "c"], dtype=object),
        "object_int": pd.Series([1, 2, 3], dtype=object),
        "category": pd.Categorical(["a", "b", "a"]),
        "Int64": pd.array([1, None, 3], dtype="Int64"),
        "float64": [1.0, np.nan, 2.0],
        "float32": np.array([1, 2, 3], dtype="float32"),
        "int32": np.array([1, 2, 3], dtype="int32"),
        "int64": np.array([1, 2, 3], dtype="int64"),
        "uint8": np.array([1, 2, 3], dtype="uint8"),
        "bool": [True, False, True],
        "int_arrow": pd.Series([1, 2, None], dtype="int64[pyarrow]"),
        "datetime": pd.to_datetime(["2024-01-01", None, "2024-01-02"]),
        "datetime_tz": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-02"]).tz_localize("UTC"),
    })


def _mlflow_schema(frame: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's hint about integer columns
        return _infer_schema(frame)


@pytest.mark.parametrize(
    "frame",
    [_generator_frame(), _with_missing(_generator_frame()), _every_dtype()],
    ids=["generator", "generator-with-missing", "every-dtype"],
)
def test_the_schema_is_mlflows_own_every_column_and_type(frame: pd.DataFrame) -> None:
    schema = frame_schema(frame)
    expected = _mlflow_schema(frame)
    assert schema is not None
    assert schema.to_dict() == expected.to_dict()
    assert schema.input_names() == list(frame.columns)


def test_missing_values_make_a_column_optional_and_their_absence_required() -> None:
    clean, holed = _generator_frame(), _with_missing(_generator_frame())
    required = {spec.name: spec.required for spec in frame_schema(clean).inputs}
    assert all(required.values())
    optional = {spec.name for spec in frame_schema(holed).inputs if not spec.required}
    assert optional == {"region", "employment_years", "application_date"}
    types = {spec.name: spec.type.name for spec in frame_schema(clean).inputs}
    assert types["application_id"] == "string" and types["age"] == "long" and types["income"] == "double"
    assert types["application_date"] == "datetime"


def test_a_column_mlflow_cannot_type_gives_no_schema_as_from_pandas_does() -> None:
    frame = pd.DataFrame({"mixed": pd.Series([1, "x", None], dtype=object), "n": [1, 2, 3]})
    assert from_pandas(frame, source=dvc_dataset_source(DATA_HASH, FILES)).schema is None
    assert frame_schema(frame) is None


def test_the_digest_is_the_start_of_the_files_sha256() -> None:
    sha = hashlib.sha256(b"rows").hexdigest()
    assert split_digest(sha) == sha[:DIGEST_CHARS]
    for bad in ("", sha[:40], sha.upper(), sha[:-1] + "g"):
        with pytest.raises(ValueError, match="64 hex digits"):
            split_digest(bad)


def _digest_of(frame: pd.DataFrame, path: Path) -> str:
    write_parquet(frame, path)
    source = dvc_dataset_source(DATA_HASH, FILES)
    return split_dataset(frame, source, "training", hashlib.sha256(path.read_bytes()).hexdigest()).digest


def test_same_rows_same_digest_and_one_changed_value_another(tmp_path: Path) -> None:
    frame = _generator_frame(6000)  # 12 000 rows: the change below lies past MLflow's own 10 000-row digest
    first, again = _digest_of(frame, tmp_path / "a.parquet"), _digest_of(frame.copy(), tmp_path / "b.parquet")
    assert first == again
    changed = frame.copy()
    changed.loc[11_000, "income"] = np.nextafter(changed.loc[11_000, "income"], np.inf)
    assert _digest_of(changed, tmp_path / "c.parquet") != first
    fewer = frame.iloc[:-1]
    assert _digest_of(fewer, tmp_path / "d.parquet") != first
    # what MLflow's own digest would have said of the changed value: nothing
    source = dvc_dataset_source(DATA_HASH, FILES)
    assert from_pandas(changed, source=source).digest == from_pandas(frame, source=source).digest


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> mlflow.MlflowClient:
    root = tmp_path_factory.mktemp("dataset-inputs")
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")


def _split(tmp_path: Path) -> tuple[dict[str, pd.DataFrame], dict[str, Path]]:
    frame = _with_missing(_generator_frame())
    is_holdout = frame["application_date"].fillna(pd.Timestamp("2024-01-01")) >= pd.Timestamp("2024-02-15")
    splits = {"training": frame[~is_holdout], "holdout": frame[is_holdout]}
    files = {name: tmp_path / f"{name}.parquet" for name in splits}
    for name, part in splits.items():
        write_parquet(part, files[name])
    return splits, files


def test_the_logged_inputs_carry_name_digest_source_schema_profile_and_context(
    client: mlflow.MlflowClient, tmp_path: Path
) -> None:
    experiment = client.create_experiment("inputs")
    run_id = client.create_run(experiment).info.run_id
    splits, files = _split(tmp_path)
    digests = log_split_datasets(run_id, splits, files, "default", DATA_HASH, FILES, "data", client)
    run = client.get_run(run_id)
    assert run.info.status == "RUNNING"  # logging the inputs leaves the run as it was
    logged = {item.dataset.name: item for item in run.inputs.dataset_inputs}
    assert set(logged) == {"training", "holdout"}
    for name, frame in splits.items():
        item, sha = logged[name], hashlib.sha256(files[name].read_bytes()).hexdigest()
        input_tags = {tag.key: tag.value for tag in item.tags}
        assert input_tags == {
            "mlflow.data.context": name,
            "fairgate.rows": str(len(frame)),
            "fairgate.file_sha256": sha,
            "fairgate.data_hash": DATA_HASH,
        }
        assert item.dataset.digest == digests[name] == sha[:DIGEST_CHARS]
        # what MLflow's own from_pandas would have shown in the dataset panel, digest aside
        own = from_pandas(frame, source=dvc_dataset_source(DATA_HASH, FILES), targets="default", name=name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = own.to_dict()
        assert item.dataset.source_type == expected["source_type"] == "dvc"
        assert json.loads(item.dataset.source) == json.loads(expected["source"])
        assert json.loads(item.dataset.source)["md5"] == DATA_HASH
        assert json.loads(item.dataset.schema) == json.loads(expected["schema"])
        assert json.loads(item.dataset.profile) == json.loads(expected["profile"])
        assert json.loads(item.dataset.profile)["num_rows"] == len(frame)
    assert digests["training"] != digests["holdout"]


def test_a_split_without_the_target_is_refused(client: mlflow.MlflowClient, tmp_path: Path) -> None:
    experiment = client.create_experiment("no-target")
    run_id = client.create_run(experiment).info.run_id
    splits, files = _split(tmp_path)
    splits["holdout"] = splits["holdout"].drop(columns=["default"])
    with pytest.raises(BadInputError, match="split 'holdout' has no target column 'default'"):
        log_split_datasets(run_id, splits, files, "default", DATA_HASH, FILES, "data", client)
    assert client.get_run(run_id).inputs.dataset_inputs == []
