"""The result of one analysis (spec 13): tables, summary, warnings, parameters, provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .params import AnalysisParams


@dataclass(frozen=True)
class AnalysisWarning:
    """One entry of the warnings list (spec 13.6)."""

    code: str
    severity: str  # "info" | "warning"
    message: str
    row_ids: tuple[int, ...] = ()
    prefix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message,
                "row_ids": list(self.row_ids), "prefix": self.prefix}


@dataclass(frozen=True)
class SourceInfo:
    """Where a table came from (spec 5.1, 13.7); every field is None for an in-memory table."""

    file_name: str | None = None
    sha256: str | None = None
    format: str | None = None  # "csv" | "xlsx"
    data_rows: int = 0
    blank_rows_ignored: int = 0


@dataclass
class AnalysisResult:
    """Everything an analysis produces; every table refers to rows by ``row_id``."""

    rows: pd.DataFrame            # 13.1, one row per data row
    groups: pd.DataFrame          # 13.2, one row per prefix group
    oac_pairs: pd.DataFrame       # 13.3
    fragment_events: pd.DataFrame  # 13.4
    summary: dict[str, Any]       # 13.5
    warnings: list[AnalysisWarning] = field(default_factory=list)
    parameters: AnalysisParams = field(default_factory=AnalysisParams)
    provenance: dict[str, Any] = field(default_factory=dict)
    model_levels: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Algorithm 2.0: honest cross-validated n, R² and RMSE of each Rule 1 judging level."""
    chemistry_checks: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Algorithm 2.0: chemistry checks reported beside the verdicts (they change no status)."""

    @property
    def algorithm_version(self) -> str:
        return self.parameters.algorithm_version
