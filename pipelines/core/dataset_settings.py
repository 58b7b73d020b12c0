"""The ``dataset`` section of ``fairgate.yaml``: column roles, the source, small-group policies.

Split from :mod:`pipelines.core.config`, which re-exports every name here: import
them from there.  ``Section`` is the base of every settings class (unknown keys
refused, values frozen).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError


class Section(BaseModel):
    """A section of ``fairgate.yaml``: unknown keys are refused, parsed values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# `fairgate init` writes a guess it cannot make (a reason to exclude a column, an outcome column to pick) as a
# text starting with this marker; the configuration is refused until a person has replaced every one of them
REVIEW_MARKER = "REVIEW:"
ERR_REVIEW_PLACEHOLDER = (
    "still the unreviewed placeholder fairgate init wrote ({value!r}): replace it with the reviewed decision"
)


def _reviewed(value: str) -> str:
    """Refuse a value still holding ``fairgate init``'s review placeholder."""
    if value.strip().startswith(REVIEW_MARKER):
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise PydanticCustomError("review_placeholder", ERR_REVIEW_PLACEHOLDER.format(value=shown))
    return value


Reviewed = Annotated[str, AfterValidator(_reviewed)]


def _group_names(value: Any) -> Any:
    """Group names as the evaluation writes them (``str`` of the value): ``1`` and ``"1"`` are one group."""
    if isinstance(value, list):
        return [_group_name(item) for item in value]
    return _group_name(value)


def _group_name(value: Any) -> Any:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _distinct_groups(value: list[str]) -> list[str]:
    """Refuse a list of groups naming one group twice."""
    repeated = sorted({name for name in value if value.count(name) > 1})
    if repeated:
        raise ValueError(f"groups named twice: {repeated}")
    return value


class GroupMerge(Section):
    """Groups of one sensitive attribute audited, evaluated, mitigated and gated as one group ``into``."""

    into: str = Field(min_length=1)
    groups: list[str] = Field(min_length=1)

    _names = field_validator("into", "groups", mode="before")(_group_names)

    _distinct = field_validator("groups")(_distinct_groups)


class SmallGroupPolicy(Section):
    """A reviewed policy for the small groups of one sensitive attribute (``dataset.small_groups.<attr>``).

    ``merge`` joins named groups into one group wherever groups are formed
    (audit, training's sensitive features, evaluation, gate); ``report_only``
    names groups (after merging) whose metrics are computed and reported with
    their intervals but left out of the attribute's gated metrics.  A small
    group named in neither still blocks the audit.
    """

    merge: list[GroupMerge] = Field(default_factory=list)
    report_only: list[str] = Field(default_factory=list)
    reason: Reviewed

    _names = field_validator("report_only", mode="before")(_group_names)

    @field_validator("reason")
    @classmethod
    def _has_reason(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a small-group policy needs a reason (why the reviewers accepted it)")
        return value

    _distinct = field_validator("report_only")(_distinct_groups)

    @model_validator(mode="after")
    def _coherent(self) -> SmallGroupPolicy:
        if not self.merge and not self.report_only:
            raise ValueError("a small-group policy needs 'merge' or 'report_only' (or both)")
        merged: dict[str, str] = {}
        for merge in self.merge:
            for group in merge.groups:
                if group in merged:
                    raise ValueError(f"group {group!r} is merged twice (into {merged[group]!r} and {merge.into!r})")
                merged[group] = merge.into
        for merge in self.merge:
            if merge.into in merged and merged[merge.into] != merge.into:
                raise ValueError(f"{merge.into!r} is merged into {merged[merge.into]!r}: merges do not chain")
        gone = [group for group in self.report_only if merged.get(group, group) != group]
        if gone:
            raise ValueError(f"report_only names {gone}, merged away by 'merge': name the merged group instead")
        return self

    @property
    def merged_into(self) -> dict[str, str]:
        """Each merged group's name -> the group it is merged into."""
        return {group: merge.into for merge in self.merge for group in merge.groups}


INTERVAL_PLACEHOLDER = "{interval}"
SQL_INTERVAL_PARAMETERS = (":interval_start", ":interval_end")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SqlSourceSettings(Section):
    """A ``sql`` source: where the connection URL is (an environment variable) and the interval's query."""

    url_env: str = "FAIRGATE_SOURCE_URL"
    query: str | None = None

    @field_validator("url_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not ENV_NAME_PATTERN.match(value):
            raise ValueError(
                f"expected the name of an environment variable holding the SQLAlchemy URL, found {value!r} "
                "(the URL itself, with its password, never goes in fairgate.yaml)"
            )
        return value


class DatasetSettings(Section):
    """What the model is trained on and which columns play which role.

    No value may still hold ``fairgate init``'s placeholder (``REVIEW: ...``):
    a draft is refused by every command until a person has reviewed it.
    """

    source: Literal["generator", "file", "files", "sql"] = "generator"
    path: str | None = None
    sql: SqlSourceSettings = Field(default_factory=SqlSourceSettings)
    target: Reviewed
    positive_label: int | str | bool = 1
    positive_is_favorable: bool = False
    time_column: Reviewed | None = None
    id_columns: list[Reviewed] = Field(default_factory=list)
    sensitive: list[Reviewed] = Field(min_length=1)
    features: list[str] | None = None
    exclude_columns: dict[str, Reviewed] = Field(default_factory=dict)
    use_sensitive_as_feature: bool = False
    small_groups: dict[str, SmallGroupPolicy] = Field(default_factory=dict)

    @field_validator("small_groups")
    @classmethod
    def _of_sensitive_attributes(
        cls, value: dict[str, SmallGroupPolicy], info: ValidationInfo
    ) -> dict[str, SmallGroupPolicy]:
        sensitive = info.data.get("sensitive")
        for attribute in value:
            if sensitive is not None and attribute not in sensitive:
                raise ValueError(f"{attribute!r} is not a sensitive attribute (dataset.sensitive: {sensitive})")
        return value

    @model_validator(mode="after")
    def _path_matches_source(self) -> DatasetSettings:
        if self.source == "file" and not self.path:
            raise ValueError("source 'file' needs 'path' (a CSV or Parquet file)")
        if self.source in ("generator", "sql") and self.path:
            raise ValueError("'path' is only used with sources 'file' and 'files'")
        if self.source == "files" and (not self.path or INTERVAL_PLACEHOLDER not in self.path):
            raise ValueError(
                "source 'files' needs 'path' with {interval} where the month goes, "
                f"e.g. applications/{{interval}}.parquet; found {self.path!r}"
            )
        if self.source == "sql":
            missing = [name for name in SQL_INTERVAL_PARAMETERS if not self.sql.query or name not in self.sql.query]
            if missing:
                raise ValueError(
                    f"source 'sql' needs sql.query selecting one interval's rows with {' and '.join(missing)} "
                    "(bound to the interval's first day and the first day after it)"
                )
        if self.source in ("files", "sql") and not self.time_column:
            raise ValueError(
                f"source {self.source!r} needs 'time_column': the decision time that places each row in its interval"
            )
        for column, reason in self.exclude_columns.items():
            if not str(reason).strip():
                raise ValueError(f"exclude_columns.{column} needs a reason")
        if self.target in self.sensitive:
            raise ValueError("the target cannot also be a sensitive attribute")
        return self
