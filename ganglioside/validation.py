"""Cell rules (spec 2.4) and row-level problem notes (spec 2.5), vectorised over whole columns.

Cells arrive raw: text from a CSV file, python objects from an XLSX sheet (str, int, float, bool,
datetime, None) or typed columns of an in-memory DataFrame. Every function here works on a whole
column; per-value python work is done once per distinct value where that is simpler.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from .limits import IMPLAUSIBLE_COLUMN_SHARE, MAX_ABS_LOG_P, MAX_RT_MINUTES, MAX_VOLUME

NAME_MAX_LENGTH = 256
ANCHOR_TRUE = frozenset({"t", "true", "1", "yes", "y"})
ANCHOR_FALSE = frozenset({"f", "false", "0", "no", "n"})
ANCHOR_CHOICES = "T/F, true/false, 1/0, yes/no, y/n"
UNICODE_MINUS = "\u2212"
INPUT_COLUMNS = ("Name", "RT", "Volume", "Log P", "Anchor")

_FLOAT_MAX = sys.float_info.max
_FEWEST_JUDGED = 3  # a column of one or two numbers is judged row by row only
_RANGES = {"RT": f"retention times lie in 0-{MAX_RT_MINUTES:g} min",
           "Volume": f"peak volumes lie in 0-{MAX_VOLUME:g}",
           "Log P": f"Log P lies within ±{MAX_ABS_LOG_P:g}"}
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_CELL_TEXT, _CELL_NUMBER, _CELL_EMPTY, _CELL_BOOL, _CELL_OTHER = range(5)


@dataclass
class ParsedColumn:
    """A column after the cell rules: parsed ``values``, which cells were ``missing`` (empty) or
    ``invalid`` (not acceptable), and the raw ``cells``."""

    values: pd.Series
    missing: np.ndarray
    invalid: np.ndarray
    cells: pd.Series

    def invalid_texts(self) -> np.ndarray:
        """Trimmed text of the invalid cells, as the user wrote them (for notes)."""
        return cell_texts(self.cells[self.invalid], strip=True)


@dataclass
class CheckedCells:
    """The five input columns parsed (Name, RT, Volume, Log P, Anchor) and each row's
    ``input_problems`` note (None when the row has no problem)."""

    values: pd.DataFrame
    problems: pd.Series


def normalize_name(value: object) -> str | None:
    """Spec 2.4 Name: NFKC, format characters (Cf) removed, trimmed; None if empty."""
    if _is_null(value):
        return None
    text = unicodedata.normalize("NFKC", value if isinstance(value, str) else str(value))
    text = "".join(char for char in text if unicodedata.category(char) != "Cf").strip()
    return text or None


def normalize_names(column: pd.Series) -> pd.Series:
    """normalize_name over a column (computed once per distinct value); object dtype."""
    codes, uniques = pd.factorize(column.astype(object), use_na_sentinel=True)
    normalized = np.array([normalize_name(value) for value in uniques] + [None], dtype=object)
    return pd.Series(normalized[codes], index=column.index, dtype=object)


def is_empty(column: pd.Series) -> np.ndarray:
    """True where a cell is empty: null, or text that is empty after trimming."""
    if column.dtype != object and not pd.api.types.is_string_dtype(column):
        return column.isna().to_numpy()
    kinds = _cell_kinds(column)
    empty = kinds == _CELL_EMPTY
    texts = kinds == _CELL_TEXT
    if texts.any():
        empty[texts] = (_text_series(column.to_numpy(object)[texts]).str.strip() == "").to_numpy()
    return empty


def parse_numbers(column: pd.Series, decimal_comma: bool = False) -> ParsedColumn:
    """Spec 2.4 numbers: finite floats; thousands separators, nan, inf, overflow, booleans,
    dates and XLSX error cells are invalid. ``decimal_comma`` reads ``1,5`` as 1.5."""
    size = len(column)
    values = np.full(size, np.nan)
    if is_bool_dtype(column.dtype):
        missing = column.isna().to_numpy()
        return _parsed(values, missing, ~missing, column)
    if is_numeric_dtype(column.dtype):
        values = column.to_numpy(dtype="float64", na_value=np.nan).copy()
        missing = np.isnan(values)
        invalid = np.isinf(values)
        values[invalid] = np.nan
        return _parsed(values, missing, invalid, column)
    kinds = _cell_kinds(column)
    cells = column.to_numpy(object)
    missing = kinds == _CELL_EMPTY
    invalid = (kinds == _CELL_OTHER) | (kinds == _CELL_BOOL)
    numbers = kinds == _CELL_NUMBER
    values[numbers] = np.asarray(cells[numbers], dtype="float64") if numbers.any() else []
    texts = kinds == _CELL_TEXT
    if texts.any():
        text_values, text_missing, text_invalid = _parse_number_texts(cells[texts], decimal_comma)
        values[texts], missing[texts], invalid[texts] = text_values, text_missing, text_invalid
    not_finite = ~missing & ~invalid & ~np.isfinite(values)
    invalid |= not_finite
    values[invalid | missing] = np.nan
    return _parsed(values, missing, invalid, column)


def parse_anchors(column: pd.Series) -> ParsedColumn:
    """Spec 2.4 Anchor: the T/F vocabulary, boolean cells, numeric 1/0; values True/False/None."""
    if is_bool_dtype(column.dtype):
        missing = column.isna().to_numpy()
        values = column.astype(object).where(~missing, None).to_numpy(dtype=object)
        return _parsed(values, missing, np.zeros(len(column), bool), column)
    kinds = _cell_kinds(column)
    cells = column.to_numpy(object)
    values = np.full(len(cells), None, dtype=object)
    booleans, numbers, texts = (kinds == _CELL_BOOL), (kinds == _CELL_NUMBER), (kinds == _CELL_TEXT)
    values[booleans] = [bool(cell) for cell in cells[booleans]]
    numeric = np.asarray(cells[numbers], dtype="float64")
    values[numbers] = np.where(numeric == 1, True, np.where(numeric == 0, False, None))
    lowered = _text_series(cells[texts]).str.strip().str.lower()
    values[texts] = np.where(lowered.isin(ANCHOR_TRUE), True,
                             np.where(lowered.isin(ANCHOR_FALSE), False, None))
    missing = kinds == _CELL_EMPTY
    missing[texts] = (lowered == "").to_numpy(dtype=bool)
    invalid = (values == None) & ~missing  # noqa: E711  (element-wise test on an object array)
    return _parsed(values, missing, invalid, column)


def check_cells(frame: pd.DataFrame, decimal_comma: bool = False,
                name_error: Callable[[str], str | None] | None = None) -> CheckedCells:
    """Apply spec 2.4 to the five input columns of ``frame`` (which also has ``line``) and build
    each row's spec 2.5 note. ``name_error(name)`` returns the 3.5 detail of a name that does
    not parse, else None; it is called once per distinct name."""
    lines = frame["line"].astype("int64")
    names = normalize_names(frame["Name"])
    rt = parse_numbers(frame["RT"], decimal_comma)
    volume = parse_numbers(frame["Volume"], decimal_comma)
    log_p = parse_numbers(frame["Log P"], decimal_comma)
    anchor = parse_anchors(frame["Anchor"])
    notes = [
        _name_notes(names, name_error),
        _number_notes("RT", rt, required=True),
        _number_notes("Volume", volume, required=False),
        _number_notes("Log P", log_p, required=True),
        _anchor_notes(anchor),
    ]
    problems = _join_notes(lines, notes)
    values = pd.DataFrame({
        "Name": names,
        "RT": rt.values.astype("float64"),
        "Volume": volume.values.astype("float64"),
        "Log P": log_p.values.astype("float64"),
        "Anchor": anchor.values.astype(object),
    }, index=frame.index)
    return CheckedCells(values=values, problems=problems)


def implausible_columns(frame: pd.DataFrame, decimal_comma: bool = False) -> list[str]:
    """Structural problems: RT, Volume or Log P columns most of whose numbers are out of range.

    One absurd value is a row problem (2.5); a column that is mostly out of range holds
    something else (RT in seconds, peak areas under the RT header), and analysing it row by row
    would only mark the whole table invalid, so the table is refused with a sentence that says
    what the column seems to hold."""
    numbers = {column: parse_numbers(frame[column], decimal_comma)
               for column in ("RT", "Volume", "Log P")}
    problems = []
    for column, parsed in numbers.items():
        present = ~parsed.missing & ~parsed.invalid
        values = parsed.values.to_numpy()[present]
        bad = _out_of_range(column, values)
        if len(values) >= _FEWEST_JUDGED and bad.sum() > IMPLAUSIBLE_COLUMN_SHARE * len(values):
            problems.append(_implausible_text(column, int(bad.sum()), values, numbers))
    return problems


def _implausible_text(column: str, bad: int, values: np.ndarray,
                      numbers: dict[str, ParsedColumn]) -> str:
    median = float(np.partition(values, len(values) // 2)[len(values) // 2])  # no overflow
    text = (f"column {column}: {bad:,} of its {len(values):,} numbers are out of range "
            f"(median {median:.6g}; {_RANGES[column]})")
    if column != "RT":
        return text
    others = [other for other in ("Volume", "Log P") if _look_like_rt(numbers[other])]
    if median > MAX_RT_MINUTES and others:
        return text + (f": the {others[0]} column holds numbers like retention times: are the "
                       f"RT and {others[0]} headers swapped?")
    if median > MAX_RT_MINUTES:
        return text + ": RT must be in minutes (is it in seconds, or a peak area?)"
    return text


def _look_like_rt(parsed: ParsedColumn) -> bool:
    values = parsed.values.to_numpy()[~parsed.missing & ~parsed.invalid]
    return len(values) > 0 and _out_of_range("RT", values).mean() <= IMPLAUSIBLE_COLUMN_SHARE


def cell_texts(column: pd.Series, strip: bool = False) -> np.ndarray:
    """Every cell as text (object array): None if empty, other values through ``str``."""
    kinds = _cell_kinds(column)
    cells = column.to_numpy(object)
    texts = np.full(len(cells), None, dtype=object)
    is_text = kinds == _CELL_TEXT
    text_cells = _text_series(cells[is_text])
    trimmed = text_cells.str.strip()
    texts[is_text] = np.where(trimmed == "", None, trimmed if strip else text_cells)
    others = (kinds != _CELL_TEXT) & (kinds != _CELL_EMPTY)
    texts[others] = [str(cell) for cell in cells[others]]
    return texts


def number_text(value: float) -> str:
    """A parsed number for messages: ``0``, ``-1.5``, ``2.5e-07`` (integers without ``.0``)."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


# --- helpers ---------------------------------------------------------------------------------

def _is_null(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, (float, np.floating)) and np.isnan(value))


def _text_series(texts: np.ndarray) -> pd.Series:
    """Text cells as a pandas ``str`` Series, whose string methods are vectorised."""
    return pd.Series(texts, dtype="str")


def _cell_kind(value: object) -> int:
    if isinstance(value, str):
        return _CELL_TEXT
    if _is_null(value):
        return _CELL_EMPTY
    if isinstance(value, (bool, np.bool_)):
        return _CELL_BOOL
    if isinstance(value, (float, np.floating)):
        return _CELL_NUMBER
    if isinstance(value, (int, np.integer)):
        return _CELL_NUMBER if abs(value) <= _FLOAT_MAX else _CELL_OTHER  # overflow: not a number
    return _CELL_OTHER


def _cell_kinds(column: pd.Series) -> np.ndarray:
    """Kind of every cell: text, number, empty or other (bool, date, ...)."""
    cells = column.to_numpy(object)
    inferred = pd.api.types.infer_dtype(cells, skipna=True)
    kinds = np.full(len(cells), _CELL_TEXT, dtype=np.int8)
    if inferred == "string":
        kinds[pd.isna(cells)] = _CELL_EMPTY
        return kinds
    if inferred == "empty":
        kinds[:] = _CELL_EMPTY
        return kinds
    return np.fromiter((_cell_kind(cell) for cell in cells), dtype=np.int8, count=len(cells))


def _parse_number_texts(texts: np.ndarray, decimal_comma: bool
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    stripped = _text_series(texts).str.strip()
    missing = (stripped == "").to_numpy()
    candidate = stripped.str.replace(UNICODE_MINUS, "-", regex=False)
    if decimal_comma:
        candidate = candidate.str.replace(",", ".", regex=False)
    well_formed = candidate.str.fullmatch(_NUMBER).to_numpy(dtype=bool)
    values = np.full(len(texts), np.nan)
    if well_formed.any():
        values[well_formed] = np.asarray(candidate.to_numpy(object)[well_formed], dtype="float64")
    return values, missing, ~well_formed & ~missing


def _parsed(values: np.ndarray, missing: np.ndarray, invalid: np.ndarray,
            column: pd.Series) -> ParsedColumn:
    return ParsedColumn(values=pd.Series(values, index=column.index),
                        missing=np.asarray(missing, dtype=bool),
                        invalid=np.asarray(invalid, dtype=bool), cells=column)


def _empty_notes(size: int) -> np.ndarray:
    return np.full(size, None, dtype=object)


def _name_notes(names: pd.Series, name_error: Callable[[str], str | None] | None) -> np.ndarray:
    notes = _empty_notes(len(names))
    notes[names.isna().to_numpy()] = "Name: empty"
    codes, uniques = pd.factorize(names)
    unique_notes = []
    for name in uniques:
        if len(name) > NAME_MAX_LENGTH:
            unique_notes.append(f"Name: longer than {NAME_MAX_LENGTH} characters")
        else:
            detail = name_error(name) if name_error else None
            unique_notes.append(f"Name: '{name}' cannot be parsed: {detail}" if detail else None)
    present = codes >= 0
    notes[present] = np.array(unique_notes + [None], dtype=object)[codes[present]]
    return notes


def _out_of_range(column_name: str, values: np.ndarray) -> np.ndarray:
    """Where a parsed RT, Volume or Log P lies outside its range (spec 2.4 and limits.py)."""
    with np.errstate(invalid="ignore"):
        bad = np.zeros(len(values), dtype=bool)
        for mask, _ in _range_checks(column_name, values):
            bad |= mask
    return bad


def _range_checks(column_name: str, values: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """(mask, note) of each range a column's numbers must lie in: the spec's lower bounds, and
    the upper bounds of limits.py that no lab value reaches (README, Input)."""
    values = np.asarray(values, dtype="float64")
    with np.errstate(invalid="ignore"):
        if column_name == "RT":
            return [(values <= 0, "is not positive"),
                    (values > MAX_RT_MINUTES, f"is above {MAX_RT_MINUTES:g} min (24 h): "
                                              "not a retention time in minutes")]
        if column_name == "Volume":
            return [(values < 0, "is negative"),
                    (values > MAX_VOLUME, f"is above {MAX_VOLUME:g}")]
        return [(np.abs(values) > MAX_ABS_LOG_P, f"is outside ±{MAX_ABS_LOG_P:g}")]


def _number_notes(column_name: str, parsed: ParsedColumn, required: bool) -> np.ndarray:
    notes = _empty_notes(len(parsed.missing))
    if required:
        notes[parsed.missing] = f"{column_name}: missing"
    if parsed.invalid.any():
        texts = parsed.invalid_texts()
        notes[parsed.invalid] = f"{column_name}: '" + texts + "' is not a number"
    for mask, note in _range_checks(column_name, parsed.values):
        bad = mask & ~parsed.missing & ~parsed.invalid
        notes[bad] = [f"{column_name}: {number_text(value)} {note}"
                      for value in parsed.values[bad]]
    return notes


def _anchor_notes(parsed: ParsedColumn) -> np.ndarray:
    notes = _empty_notes(len(parsed.missing))
    notes[parsed.missing] = "Anchor: missing"
    if parsed.invalid.any():
        texts = parsed.invalid_texts()
        notes[parsed.invalid] = "Anchor: '" + texts + f"' is not one of {ANCHOR_CHOICES}"
    return notes


def _join_notes(lines: pd.Series, notes: list[np.ndarray]) -> pd.Series:
    """Prefix every note with its line and join a row's notes with '; ' (column order)."""
    stacked = np.vstack(notes)
    has_problem = pd.notna(stacked).any(axis=0)
    problems = np.full(len(lines), None, dtype=object)
    if has_problem.any():
        prefix = "line " + _text_series(lines[has_problem].astype(str).to_numpy(object)) + ", "
        joined = pd.Series(None, index=prefix.index, dtype="str")
        for column_notes in stacked[:, has_problem]:
            note = prefix + _text_series(column_notes)  # null where the column has no problem
            joined = (joined + "; " + note).fillna(joined).fillna(note)
        problems[has_problem] = joined.to_numpy(dtype=object)
    return pd.Series(problems, index=lines.index, dtype=object)
