"""The analysis pipeline (spec 5): preprocessing, Rules 1-5, final status, with progress reports.

``analyze`` is the one entry point the UI, the CLI and the job runner call.
"""

from __future__ import annotations

import platform
from dataclasses import replace
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import Callable

import numpy as np
import pandas as pd

from . import __version__
from .rules.chemistry import chemistry_warnings, run_checks
from .rules.fragment_model import judge_fragments
from .rules.fragments import rule5_candidates, run_rule5
from .rules.isomers import isomer_summary, run_rules_2_3
from .rules.oacetylation import run_rule4
from .params import AnalysisParams
from .preprocess import preprocess
from .reader import RESULT_ROW_COLUMNS, InputTable, table_from_frame
from .result import AnalysisResult, AnalysisWarning
from .rules.rule1_regression import run_rule1
from .rules.rule1_pooled import V2_RULE1_COLUMNS, judge_v2
from .rules.rule1_robust import V21_RULE1_COLUMNS, judge_v21
from .rules.evidence import combine
from .rules.status import confidence, final_status, reasons, summarize

ALGORITHM_VERSION = "2.1"
"""The newest algorithm, the default; ``AnalysisParams(algorithm_version="1.0")`` gives 1.0."""
Progress = Callable[[float, str, str], None]

INPUT_COLUMNS = ["row_id", "line", "Name", "RT", "Volume", "Log P", "Anchor"]
DERIVED_COLUMNS = [
    "prefix", "core", "base_prefix", "category", "suffix", "tail", "isomer", "modifiers",
    "oac_count", "carbons", "double_bonds", "oxygens", "rule1_status", "anchor_disagrees",
    "predicted_rt", "residual", "z", "rule1_scale", "rule1_series_offset", "sugar_count",
    "sialic_acid_count", "can_have_isomers", "isomer_peaks", "name_peak_count", "peak_index",
    "rule4_verdict", "rule4_base_row_id", "rule4_rt_shift", "rule5_role", "rule5_event_id",
    "rule5_heads_event_id", "rule5_parent_row_id", "rule5_rt_diff", "status", "reasons",
]
"""Rows-table columns after the input and extra columns and ``input_problems`` (spec 13.1)."""
_SERIES_AT = DERIVED_COLUMNS.index("rule1_series_offset") + 1
_RULE5_END = DERIVED_COLUMNS.index("rule5_rt_diff") + 1
DERIVED_COLUMNS_V2 = [*DERIVED_COLUMNS[:_SERIES_AT], *V2_RULE1_COLUMNS,
                      *DERIVED_COLUMNS[_SERIES_AT:_RULE5_END], "rule5_fragment_probability",
                      *DERIVED_COLUMNS[_RULE5_END:], "confidence"]
"""Algorithm 2.0 adds which model judged a row, its isomer line, Rule 5's probability that it is
an in-source fragment, and a calibrated confidence."""
DERIVED_COLUMNS_V21 = [*DERIVED_COLUMNS[:_SERIES_AT], *V21_RULE1_COLUMNS,
                       *DERIVED_COLUMNS[_SERIES_AT:_RULE5_END], "rule5_fragment_probability",
                       "rules_disagree", *DERIVED_COLUMNS[_RULE5_END:], "confidence"]
"""Algorithm 2.1 adds what each Rule 1 verdict rests on (``rule1_basis``), the probability of
the isomer line a peak is on, and whether Rule 1 and Rule 4 (or the elution order) disagree."""
BOOLEAN_COLUMNS = ("anchor_disagrees", "can_have_isomers", "isomer_peaks", "rules_disagree")


def analyze(table: InputTable | pd.DataFrame, params: AnalysisParams = AnalysisParams(),
            progress: Progress | None = None,
            save: Callable[[AnalysisResult], None] | None = None) -> AnalysisResult:
    """Run the whole analysis of spec 5-10 on a loaded table (or an in-memory DataFrame).

    ``progress(fraction, step, message)`` is called at the steps of spec 5.2; any exception it
    raises cancels the run and propagates unchanged. ``save(result)`` is called once with the
    finished result before the final ``complete`` report.
    """
    params = params.validate()
    report: Progress = progress or (lambda fraction, step, message: None)
    started = _utc_now()
    if isinstance(table, pd.DataFrame):
        table = table_from_frame(table)
    table = _without_clashing_extras(table, params)

    report(0.10, "preprocess", "Preprocessing data…")
    pre = preprocess(table)
    rows = pre.rows
    eligible = rows[rows["_eligible"]]

    report(0.25, "rule1", "Running Rule 1 regression…")
    rule1, groups, rule1_warnings = run_rule1(
        eligible, params, lambda prefix, i, count: report(
            0.25 + 0.25 * i / count, "rule1", f"Rule 1: {prefix} ({i}/{count})"))
    report(0.50, "rules2-3", "Running Rules 2-3…")
    rules23 = run_rules_2_3(eligible)
    report(0.70, "rule4", "Running Rule 4…")
    rule4, oac_pairs = run_rule4(eligible, params)
    report(0.85, "rule5", "Running Rule 5…")
    levels = pd.DataFrame()
    if params.algorithm_version == "1.0":
        rule5, events, rule5_warnings = run_rule5(eligible, pre.modifier_counts, params)
    else:
        at, candidates = rule5_candidates(eligible, pre.modifier_counts, params)
        coeluting = np.zeros(len(eligible), dtype=bool)
        coeluting[candidates.fragment] = True
        report(0.90, "rule1-pooled", "Rule 1: pooled models and isomer lines…")
        if params.algorithm_version == "2.0":
            rule1, groups, levels, rule1_warnings = judge_v2(
                eligible, pre.modifier_counts, rule1, groups, rule1_warnings, params, coeluting)
        else:
            rule1, groups, levels, rule1_warnings = judge_v21(
                eligible, pre.modifier_counts, groups, rule1_warnings, params, coeluting)
        report(0.93, "rule5-model", "Rule 5: fragment or peak of its own…")
        rule5, events, rule5_warnings = judge_fragments(eligible, at, candidates, rule1, params)

    report(0.95, "save", "Saving results…")
    out = _assemble_rows(rows, [rule1, rules23, rule4, rule5], params)
    warnings = [*pre.warnings, *rule1_warnings, *rule5_warnings]
    checks = pd.DataFrame()
    if params.algorithm_version != "1.0":
        checks = run_checks(out, groups, params.rt_tolerance)
        warnings.extend(chemistry_warnings(checks))
    result = AnalysisResult(
        rows=out[_output_columns(table, params)].reset_index(drop=True),
        groups=groups, oac_pairs=oac_pairs, fragment_events=events,
        summary=summarize(out, groups, oac_pairs, events, isomer_summary(rules23, eligible),
                          params),
        warnings=warnings, parameters=params,
        provenance=_provenance(table, started, params),
        model_levels=levels, chemistry_checks=checks)
    if save is not None:
        save(result)
    report(1.0, "complete", "Analysis complete")
    return result


def _assemble_rows(rows: pd.DataFrame, parts: list[pd.DataFrame],
                   params: AnalysisParams) -> pd.DataFrame:
    """Join every rule's per-row columns; invalid rows get nulls (booleans false)."""
    eligible = rows["_eligible"].to_numpy()
    own = [c for c in DERIVED_COLUMNS_V21 if c in rows.columns and c not in BOOLEAN_COLUMNS]
    columns = {column: _nulled(rows[column], ~eligible) for column in own}
    for part in parts:
        part = part.reindex(rows.index)
        for column in part.columns:
            columns[column] = _null_filled(column, part[column])
    out = pd.concat([rows.drop(columns=own), pd.DataFrame(columns, index=rows.index, copy=False)],
                    axis=1)
    if params.algorithm_version == "2.1":
        out = pd.concat([out, combine(out, params)], axis=1)
    else:
        out["status"] = final_status(out, params)
    if params.algorithm_version == "2.0":
        out["confidence"] = confidence(out)
    out["reasons"] = pd.Series(reasons(out), index=out.index, dtype=object)
    return out


def _without_clashing_extras(table: InputTable, params: AnalysisParams) -> InputTable:
    """The table with its extra columns that share a name with a column this algorithm adds
    beyond spec 13.1 renamed ``<name>_input``, as the reader renames those of 13.1 (a 2.x result
    re-imported as input has ``confidence``, ``rule1_basis``, ...; two columns of one name
    would make every later lookup ambiguous)."""
    taken = {column.lower() for column in _derived_columns(params)} - {
        column.lower() for column in RESULT_ROW_COLUMNS}
    clashing = [column for column in table.extra_columns if column.lower() in taken]
    if not clashing:
        return table
    names = {column: f"{column}_input" for column in clashing}
    pairs = ", ".join(f"'{old}' -> '{new}'" for old, new in names.items())
    return replace(table, frame=table.frame.rename(columns=names),
                   extra_columns=[names.get(column, column) for column in table.extra_columns],
                   warnings=[*table.warnings, AnalysisWarning(
                       "columns_renamed", "info",
                       f"Extra columns renamed because they clash with result columns: {pairs}")])


def _nulled(values: pd.Series, invalid: np.ndarray) -> pd.Series:
    """A derived column with nulls on the invalid rows (None in text columns)."""
    if values.dtype != object:
        return values.mask(invalid)
    text = values.to_numpy(dtype=object, copy=True)
    text[invalid] = None
    return pd.Series(text, index=values.index, dtype=object)


def _null_filled(column: str, values: pd.Series) -> pd.Series:
    """A rule's column on all rows: booleans false where missing, text None where missing, plain
    integers as floats (a column that can hold the nulls of invalid rows)."""
    if column in BOOLEAN_COLUMNS:
        return values.fillna(False).astype(bool)
    if pd.api.types.is_string_dtype(values.dtype):
        return _nulled(values.astype(object), pd.isna(values).to_numpy())
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":
        return values.astype(float)
    return values


def _output_columns(table: InputTable, params: AnalysisParams) -> list[str]:
    """Spec 13.1 order: input columns, extra columns, input problems, derived columns."""
    return [*INPUT_COLUMNS, *table.extra_columns, "input_problems", *_derived_columns(params)]


def _derived_columns(params: AnalysisParams) -> list[str]:
    """The rows table's derived columns of the algorithm the parameters ask for."""
    return {"1.0": DERIVED_COLUMNS, "2.0": DERIVED_COLUMNS_V2}.get(params.algorithm_version,
                                                                  DERIVED_COLUMNS_V21)


def _provenance(table: InputTable, started: str, params: AnalysisParams) -> dict:
    source = table.source
    return {
        "input_file_name": source.file_name,
        "input_sha256": source.sha256,
        "input_format": source.format,
        "input_rows": len(table.frame),
        "blank_rows_ignored": source.blank_rows_ignored,
        "algorithm_version": params.algorithm_version,
        "library_versions": library_versions(),
        "started_at": started,
        "finished_at": _utc_now(),
    }


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that can change a result."""
    versions = {"python": platform.python_version(), "ganglioside": __version__,
                "numpy": np.__version__, "pandas": pd.__version__}
    for name in ("scikit-learn", "openpyxl"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
