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
    parsed_names = [parsed_by_name[name] for name in unique_names]
    fields = _name_fields(parsed_names)

    columns = {"row_id": np.arange(len(frame), dtype="int64"),
               "line": frame["line"].to_numpy(dtype="int64")}
    columns |= {column: checked.values[column].reset_index(drop=True) for column in INPUT_COLUMNS}
    columns |= {column: frame[column].reset_index(drop=True) for column in table.extra_columns}
    columns["input_problems"] = checked.problems.reset_index(drop=True)
    columns |= {column: _spread(values, codes) for column, values in fields.items()
                if not column.startswith("_")}
    columns["_eligible"] = eligible
    columns |= {column: _spread(fields[column], codes)
                for column in ("_neutral_core", "_non_oac_key")}
    rows = pd.DataFrame(columns)  # built at once: linear in the number of extra columns

    modifier_counts = _modifier_counts(parsed_names, codes)
    warnings = [*table.warnings, *_invalid_rows_warning(rows),
                *_unknown_head_group_warning(rows),
                *_unknown_modifier_warning(rows, codes, parsed_names),
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


def _rows_warning(code: str, severity: str, rows: pd.DataFrame, mask: np.ndarray,
                  describe) -> list[AnalysisWarning]:
    """One warning about the rows in ``mask``; ``describe(count, lines_text)`` writes it."""
    count = int(mask.sum())
    if count == 0:
        return []
    lines = rows["line"].to_numpy()[mask].tolist()
    lines_text = f"line{'s' if count > 1 else ''} {first_items(lines)}"
    return [AnalysisWarning(code, severity, describe(count, lines_text),
                            tuple(rows["row_id"].to_numpy()[mask].tolist()))]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _invalid_rows_warning(rows: pd.DataFrame) -> list[AnalysisWarning]:
    return _rows_warning(
        "invalid_rows", "warning", rows, ~rows["_eligible"].to_numpy(),
        lambda count, lines: f"{_plural(count, 'row')} with input problems "
                             f"{'is' if count == 1 else 'are'} marked invalid ({lines})")


def _unknown_head_group_warning(rows: pd.DataFrame) -> list[AnalysisWarning]:
    mask = rows["_eligible"].to_numpy() & (
        rows["category"] == composition.UNKNOWN_CATEGORY).to_numpy(dtype=bool)
    cores = list(pd.unique(rows["core"].to_numpy()[mask]))
    return _rows_warning(
        "unknown_head_group", "warning", rows, mask,
        lambda count, lines: f"Head group{'s' if len(cores) > 1 else ''} not recognised as a "
                             f"ganglioside: {first_items(cores)}; {_plural(count, 'row')} "
                             f"({lines}) get category Unknown and no sugar or sialic-acid counts")


def _unknown_modifier_warning(rows: pd.DataFrame, codes: np.ndarray,
                              parsed_names: list[ParsedName]) -> list[AnalysisWarning]:
    unknown_per_name = [composition.unknown_modifier_names(parsed) for parsed in parsed_names]
    flagged = np.array([bool(names) for names in unknown_per_name], dtype=bool)
    mask = codes >= 0
    mask[mask] = flagged[codes[mask]]
    names = list(dict.fromkeys(name for per_name in unknown_per_name for name in per_name))
    return _rows_warning(
        "unknown_modifier", "warning", rows, mask,
        lambda count, lines: f"Unknown modifier{'s' if len(names) > 1 else ''} "
                             f"{first_items(names)}: the sugar and sialic-acid counts of "
                             f"{_plural(count, 'row')} ({lines}) cannot be known")


def _duplicate_names_warning(rows: pd.DataFrame) -> list[AnalysisWarning]:
    codes, names = pd.factorize(rows["Name"])
    repeated = np.bincount(codes[codes >= 0], minlength=len(names)) > 1
    mask = codes >= 0
    mask[mask] = repeated[codes[mask]]
    distinct = list(names[repeated])
    verb = "occurs" if len(distinct) == 1 else "occur"
    return _rows_warning(
        "duplicate_names", "info", rows, mask,
        lambda count, lines: f"{_plural(len(distinct), 'name')} {verb} more than once "
                             f"({count} rows, all kept: {lines}): {first_items(distinct)}")
