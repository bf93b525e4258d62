"""Step 1 of the pipeline: cell rules, row problems, name parsing and counts (spec 2.4-4).

Every distinct name is parsed once; the per-name fields are then spread to the rows by
position, so a million rows with a few thousand distinct names stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.extensions import take

from . import composition
from .errors import NameParseError
from .formatting import first_items
from .names import ParsedName, parse_name
from .reader import InputTable
from .result import AnalysisWarning
from .validation import INPUT_COLUMNS, check_cells


@dataclass
class Preprocessed:
    """Rows with parsed inputs and name fields, modifier counts per row, and step-1 warnings."""

    rows: pd.DataFrame
    modifier_counts: pd.DataFrame
    warnings: list[AnalysisWarning]


def preprocess(table: InputTable) -> Preprocessed:
    """Apply spec 2.4-2.6, 3 and 4 to a table read by ``reader``; the table is not modified."""
    frame = table.frame
    parsed_by_name: dict[str, ParsedName | NameParseError] = {}
    checked = check_cells(frame, table.decimal_comma,
                          lambda name: _parse_error(name, parsed_by_name))
    eligible = checked.problems.isna().to_numpy()
    codes, unique_names = pd.factorize(checked.values["Name"].where(eligible))
    fields = _name_fields([parsed_by_name[name] for name in unique_names])

    rows = pd.DataFrame({"row_id": np.arange(len(frame), dtype="int64"),
                         "line": frame["line"].to_numpy(dtype="int64")})
    for column in INPUT_COLUMNS:
        rows[column] = checked.values[column].reset_index(drop=True)
    for column in table.extra_columns:
        rows[column] = frame[column].reset_index(drop=True)
    rows["input_problems"] = checked.problems.reset_index(drop=True)
    for column, values in fields.items():
        if column.startswith("_"):
            continue
        rows[column] = _spread(values, codes)
    rows["_eligible"] = eligible
    for column in ("_neutral_core", "_non_oac_key"):
        rows[column] = _spread(fields[column], codes)

    modifier_counts = _modifier_counts([parsed_by_name[name] for name in unique_names], codes)
    warnings = [*table.warnings, *_invalid_rows_warning(rows),
                *_unknown_head_group_warning(rows),
                *_unknown_modifier_warning(rows, codes, unique_names, parsed_by_name),
                *_duplicate_names_warning(rows)]
    return Preprocessed(rows=rows, modifier_counts=modifier_counts, warnings=warnings)


def _parse_error(name: str, cache: dict[str, ParsedName | NameParseError]) -> str | None:
    try:
        cache[name] = parse_name(name)
    except NameParseError as error:
        cache[name] = error
        return error.detail
    return None


def _name_fields(parsed_names: list[ParsedName]) -> dict[str, pd.Series]:
    """Every derived column for each distinct name, in output order, with its output dtype."""
    counts = [composition.sugar_and_sialic_counts(parsed) for parsed in parsed_names]
    text = {
        "prefix": [parsed.prefix for parsed in parsed_names],
        "core": [parsed.core for parsed in parsed_names],
        "base_prefix": [parsed.base_prefix for parsed in parsed_names],
        "category": [parsed.category for parsed in parsed_names],
        "suffix": [parsed.suffix for parsed in parsed_names],
        "tail": [parsed.tail for parsed in parsed_names],
        "isomer": [parsed.isomer for parsed in parsed_names],
        "modifiers": [parsed.modifiers_text for parsed in parsed_names],
    }
    integers = {
        "oac_count": [parsed.oac_count for parsed in parsed_names],
        "carbons": [parsed.carbons for parsed in parsed_names],
        "double_bonds": [parsed.double_bonds for parsed in parsed_names],
        "oxygens": [parsed.oxygens for parsed in parsed_names],
        "sugar_count": [sugars for sugars, _ in counts],
        "sialic_acid_count": [sialic for _, sialic in counts],
    }
    fields = {column: pd.Series(values, dtype=object) for column, values in text.items()}
    fields |= {column: pd.Series(values, dtype="Int64") for column, values in integers.items()}
    fields["can_have_isomers"] = pd.Series(
        [composition.can_have_isomers(parsed.base_prefix) for parsed in parsed_names], dtype=bool)
    fields["_neutral_core"] = pd.Series(
        [composition.neutral_core_sugars(parsed) for parsed in parsed_names], dtype="Int64")
    fields["_non_oac_key"] = pd.Series(
        [composition.non_oac_key(parsed) for parsed in parsed_names], dtype=object)
    return fields


def _spread(values: pd.Series, codes: np.ndarray):
    """values[code] per row; null (False for booleans) where code is -1 (not eligible)."""
    if isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
        return values.array.take(codes, allow_fill=True)
    if values.dtype == bool:
        return take(values.to_numpy(), codes, allow_fill=True, fill_value=False)
    with_null = np.append(values.to_numpy(dtype=object), None)  # code -1 picks the None
    return pd.Series(with_null[codes], dtype=object)


def _modifier_counts(parsed_names: list[ParsedName], codes: np.ndarray) -> pd.DataFrame:
    """Summed count of each modifier name per row (0 where absent or not eligible)."""
    totals = [composition.modifier_totals(parsed) for parsed in parsed_names]
    names = sorted({name for per_name in totals for name in per_name})
    per_unique = np.zeros((len(totals) + 1, len(names)), dtype="int64")  # last row: ineligible
    for index, per_name in enumerate(totals):
        for column, name in enumerate(names):
            per_unique[index, column] = per_name.get(name, 0)
    matrix = per_unique[np.where(codes >= 0, codes, len(totals))]
    return pd.DataFrame(matrix, columns=names,
                        index=pd.RangeIndex(len(codes), name="row_id"))


def _lines_text(rows: pd.DataFrame) -> str:
    lines = rows["line"].tolist()
    return f"line{'s' if len(lines) > 1 else ''} {first_items(lines)}"


def _row_ids(rows: pd.DataFrame) -> tuple[int, ...]:
    return tuple(rows["row_id"].tolist())


def _invalid_rows_warning(rows: pd.DataFrame) -> list[AnalysisWarning]:
    invalid = rows[~rows["_eligible"]]
    if invalid.empty:
        return []
    count = len(invalid)
    subject = "1 row has" if count == 1 else f"{count} rows have"
    return [AnalysisWarning(
        "invalid_rows", "warning",
        f"{subject} input problems and {'is' if count == 1 else 'are'} marked invalid "
        f"({_lines_text(invalid)})", _row_ids(invalid))]


def _unknown_head_group_warning(rows: pd.DataFrame) -> list[AnalysisWarning]:
    unknown = rows[rows["_eligible"] & (rows["category"] == composition.UNKNOWN_CATEGORY)]
    if unknown.empty:
        return []
    cores = list(pd.unique(unknown["core"]))
    count = len(unknown)
    return [AnalysisWarning(
        "unknown_head_group", "warning",
        f"Head group{'s' if len(cores) > 1 else ''} not recognised as a ganglioside: "
        f"{first_items(cores)}; {count} row{'s' if count > 1 else ''} "
        f"({_lines_text(unknown)}) get category Unknown and no sugar or sialic-acid counts",
        _row_ids(unknown))]


def _unknown_modifier_warning(rows: pd.DataFrame, codes: np.ndarray, unique_names,
                              parsed_by_name: dict) -> list[AnalysisWarning]:
    unknown_per_name = [composition.unknown_modifier_names(parsed_by_name[name])
                        for name in unique_names]
    flagged = np.array([bool(names) for names in unknown_per_name] + [False], dtype=bool)
    affected = rows[flagged[np.where(codes >= 0, codes, len(unknown_per_name))]]
    if affected.empty:
        return []
    names = list(dict.fromkeys(name for code in pd.unique(codes[codes >= 0])
                               for name in unknown_per_name[code]))
    count = len(affected)
    return [AnalysisWarning(
        "unknown_modifier", "warning",
        f"Unknown modifier{'s' if len(names) > 1 else ''} {first_items(names)}: the sugar and "
        f"sialic-acid counts of {count} row{'s' if count > 1 else ''} "
        f"({_lines_text(affected)}) cannot be known", _row_ids(affected))]


def _duplicate_names_warning(rows: pd.DataFrame) -> list[AnalysisWarning]:
    names = rows["Name"].dropna()
    repeated = names[names.duplicated(keep=False)]
    if repeated.empty:
        return []
    distinct = list(pd.unique(repeated))
    count = len(distinct)
    return [AnalysisWarning(
        "duplicate_names", "info",
        f"{count} name{'s occur' if count > 1 else ' occurs'} more than once "
        f"({len(repeated)} rows; all are kept): {first_items(distinct)}",
        _row_ids(rows.loc[repeated.index]))]
