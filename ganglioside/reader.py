"""Reading the uploaded table (spec 2.1-2.3): CSV or XLSX in, one raw cell per column out.

The reader recognises the five input columns by their header aliases, types and renames the extra
columns, drops blank records and reports every structural problem at once as one InputError.
Cell values stay raw here; ``validation`` applies the cell rules of 2.4.
"""

from __future__ import annotations

import codecs
import dataclasses
import csv
import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .formatting import first_items
from .result import AnalysisWarning, SourceInfo
from .validation import INPUT_COLUMNS, cell_texts, is_empty, parse_numbers

HEADER_ALIASES: dict[str, str] = {
    alias: canonical
    for canonical, aliases in {
        "Name": ("name", "compound", "compound_name"),
        "RT": ("rt", "retention_time", "retention time"),
        "Volume": ("volume", "area", "peak_area", "peak area"),
        "Log P": ("log p", "logp", "log_p", "clogp"),
        "Anchor": ("anchor", "is_anchor", "training"),
    }.items()
    for alias in aliases
}
RESULT_ROW_COLUMNS = (  # spec 13.1, for renaming clashing extra columns
    "row_id", "line", "Name", "RT", "Volume", "Log P", "Anchor", "input_problems", "prefix",
    "core", "base_prefix", "category", "suffix", "tail", "isomer", "modifiers", "oac_count",
    "carbons", "double_bonds", "oxygens", "rule1_status", "anchor_disagrees", "predicted_rt",
    "residual", "z", "rule1_scale", "rule1_series_offset", "sugar_count", "sialic_acid_count",
    "can_have_isomers", "isomer_peaks", "name_peak_count", "peak_index", "rule4_verdict",
    "rule4_base_row_id", "rule4_rt_shift", "rule5_role", "rule5_event_id",
    "rule5_heads_event_id", "rule5_parent_row_id", "rule5_rt_diff", "status", "reasons",
)
_RESULT_COLUMNS_LOWER = frozenset(column.lower() for column in RESULT_ROW_COLUMNS)
DELIMITERS = (",", ";", "\t")
_SNIFF_CHARACTERS = 1 << 16  # the header line is looked for in this much text
_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls
_HANGUL_RANGES = ((0xAC00, 0xD7A3), (0x1100, 0x11FF), (0x3130, 0x318F), (0x3000, 0x303F),
                  (0xFF00, 0xFFEF))


@dataclass
class InputTable:
    """A table as read: ``line`` + the five input columns (raw cells) + extra columns.

    ``decimal_comma`` is True for semicolon-delimited CSV, whose numbers may be written ``9,572``.
    """

    frame: pd.DataFrame
    source: SourceInfo
    warnings: list[AnalysisWarning] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    decimal_comma: bool = False


@dataclass
class _RawTable:
    header: list[str]
    cells: pd.DataFrame      # positional columns 0..w-1, w may exceed len(header) (CSV)
    lines: np.ndarray


def read_table(source, filename: str | None = None, sheet: str | None = None) -> InputTable:
    """Read a CSV or XLSX table from a path, bytes or binary file object.

    Raises InputError listing every structural problem (spec 2.3); the message names the file.
    """
    raw, file_name = _read_source(source, filename)
    if raw.startswith(_XLSX_MAGIC):
        table, decimal_comma, file_format = _xlsx_raw_table(raw, sheet, file_name), False, "xlsx"
    elif raw.startswith(_OLE_MAGIC):
        raise InputError(["legacy Excel (.xls) files are not supported: save as .xlsx or .csv"],
                         file_name)
    else:
        text = decode_bytes(raw)
        delimiter = sniff_delimiter(text)
        table, file_format = _csv_raw_table(text, delimiter, file_name), "csv"
        decimal_comma = delimiter == ";"
    source_info = SourceInfo(file_name, hashlib.sha256(raw).hexdigest(), file_format)
    return _build(table, source_info, decimal_comma)


def table_from_frame(df: pd.DataFrame) -> InputTable:
    """Wrap an in-memory DataFrame (e.g. the demo table) with the same header and blank-row rules.

    Lines are numbered as if the frame were a CSV file with its header on line 1.
    """
    cells = df.copy()
    cells.columns = range(df.shape[1])
    cells.index = pd.RangeIndex(len(df))
    table = _RawTable(["" if column is None else str(column) for column in df.columns], cells,
                      np.arange(2, len(df) + 2))
    return _build(table, SourceInfo(), decimal_comma=False)


def list_sheets(source) -> list[str]:
    """Worksheet names of an XLSX workbook, in order; [] for a CSV file."""
    raw, file_name = _read_source(source, None)
    if not raw.startswith(_XLSX_MAGIC):
        return []
    workbook = _open_workbook(raw, file_name)
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def decode_bytes(raw: bytes) -> str:
    """Decode CSV bytes: UTF-8 (BOM optional), UTF-16 with BOM, else CP949 (Korean) if the
    result reads as Korean, else Windows-1252, else Latin-1 (which always succeeds)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp949")
        if all(_is_korean(char) for char in text if ord(char) > 0x7F):
            return text
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def sniff_delimiter(text: str) -> str:
    """The delimiter (comma, semicolon or tab) that splits the header into the most cells."""
    head = io.StringIO(text[:_SNIFF_CHARACTERS], newline="")
    first_line = next((line for line in head if line.strip()), "")
    counts = [len(next(csv.reader([first_line], delimiter=delimiter), []))
              for delimiter in DELIMITERS]
    return DELIMITERS[counts.index(max(counts))]


def normalize_header(header: str) -> str:
    """Spec 2.2 matching form: BOM removed, trimmed, whitespace collapsed, lower case."""
    return " ".join(header.lstrip("\ufeff").split()).lower()


# --- sources ---------------------------------------------------------------------------------

def _read_source(source, filename: str | None) -> tuple[bytes, str | None]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            return path.read_bytes(), filename or path.name
        except OSError as error:
            raise InputError([f"cannot open the file: {error.strerror or error}"],
                             filename or path.name) from None
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), filename
    data = source.getvalue() if hasattr(source, "getvalue") else source.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    name = filename or getattr(source, "name", None)
    return bytes(data), (os.path.basename(name) if isinstance(name, str) else None)


def _is_korean(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _HANGUL_RANGES)


def _csv_raw_table(text: str, delimiter: str, file_name: str | None) -> _RawTable:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = list(reader)
        if reader.line_num == len(records):  # every record on one physical line
            lines = np.arange(1, len(records) + 1)
        else:
            lines = _record_start_lines(text, delimiter)
    except csv.Error as error:
        raise InputError([f"the CSV text cannot be read: {error}"], file_name) from None
    return _raw_table(records, lines, file_name)


def _raw_table(records: list[list], lines: np.ndarray, file_name: str | None) -> _RawTable:
    """The first non-blank record is the header; the records after it are data."""
    header_index = next((index for index, record in enumerate(records)
                         if not _blank_record(record)), None)
    if header_index is None:
        raise InputError(["file is empty"], file_name)
    header = ["" if cell is None else str(cell) for cell in records[header_index]]
    data = _padded(records[header_index + 1:])
    cells = pd.DataFrame(data, dtype=object) if data else pd.DataFrame(index=range(0))
    return _RawTable(header, cells, np.asarray(lines[header_index + 1:], dtype="int64"))


def _padded(records: list[list]) -> list[list]:
    """Records of equal length: short ones get empty (None) cells at the end."""
    lengths = set(map(len, records))
    if len(lengths) <= 1:
        return records
    width = max(lengths)
    return [record if len(record) == width else [*record, *[None] * (width - len(record))]
            for record in records]


def _record_start_lines(text: str, delimiter: str) -> np.ndarray:
    """Physical line on which every record starts (records may span lines inside quotes)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    starts = []
    while True:
        start = reader.line_num + 1
        if next(reader, None) is None:
            return np.array(starts, dtype="int64")
        starts.append(start)


def _open_workbook(raw: bytes, file_name: str | None):
    import openpyxl  # imported here: CSV-only callers do not pay for it

    try:
        return openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as error:  # a damaged workbook fails in many ways inside openpyxl
        raise _unreadable_workbook(error, file_name) from None


def _unreadable_workbook(error: Exception, file_name: str | None) -> InputError:
    return InputError([f"not a readable XLSX workbook ({type(error).__name__}: {error})"],
                      file_name)


def _xlsx_raw_table(raw: bytes, sheet: str | None, file_name: str | None) -> _RawTable:
    workbook = _open_workbook(raw, file_name)
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            found = ", ".join(f"'{name}'" for name in workbook.sheetnames)
            raise InputError([f"sheet '{sheet}' not found (sheets: {found})"], file_name)
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        worksheet.reset_dimensions()
        rows = [list(row) for row in worksheet.iter_rows(values_only=True)]
    except InputError:
        raise
    except Exception as error:  # damaged sheet XML, a chart sheet, ...
        raise _unreadable_workbook(error, file_name) from None
    finally:
        workbook.close()
    return _raw_table(rows, np.arange(1, len(rows) + 1), file_name)


def _blank_record(row: list) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row)


# --- header, blank rows, extra columns -------------------------------------------------------

def _build(table: _RawTable, source: SourceInfo, decimal_comma: bool) -> InputTable:
    """Header matching, structural checks, blank rows and extra columns (spec 2.1-2.3)."""
    problems: list[str] = []
    header = [cell.strip() for cell in table.header]
    canonical_positions = _canonical_positions(header, problems)
    cells = table.cells
    width = len(header)
    for position in range(cells.shape[1], width):
        cells[position] = None
    surplus = [position for position in cells.columns if position >= width]
    too_long = ~_all_empty(cells, surplus) if surplus else np.zeros(len(cells), bool)
    blank = _all_empty(cells, list(cells.columns))
    kept = np.flatnonzero(~blank)
    extras = _extra_columns(header, canonical_positions,
                            lambda position: _all_empty(cells.iloc[kept], [position]).all(),
                            problems)
    if too_long.any():
        problems.append(_lines_problem("more cells than the header", table.lines[too_long]))
    if len(kept) == 0:
        problems.append("no data rows")
    if problems:
        raise InputError(problems, source.file_name)

    data = cells.iloc[kept].reset_index(drop=True)
    frame = pd.DataFrame({"line": table.lines[kept].astype("int64")})
    for canonical in INPUT_COLUMNS:
        frame[canonical] = data[canonical_positions[canonical]]
    for name, position in extras.columns.items():
        frame[name] = _typed_extra(data[position], decimal_comma)

    warnings = _blank_warning(table.lines[blank]) + extras.warnings
    source = dataclasses.replace(source, data_rows=len(frame), blank_rows_ignored=int(blank.sum()))
    return InputTable(frame=frame, source=source,
                      warnings=warnings, extra_columns=list(extras.columns),
                      decimal_comma=decimal_comma)


def _all_empty(cells: pd.DataFrame, positions: list) -> np.ndarray:
    """Rows whose cells at ``positions`` are all empty; a column is only read for the rows that
    are still all empty, so usually just the first column is checked."""
    result = np.ones(len(cells), dtype=bool)
    for position in positions:
        candidates = np.flatnonzero(result)
        if len(candidates) == 0:
            break
        result[candidates] = is_empty(cells[position].iloc[candidates])
    return result


def _canonical_positions(header: list[str], problems: list[str]) -> dict[str, int]:
    positions: dict[str, list[int]] = {}
    for position, cell in enumerate(header):
        canonical = HEADER_ALIASES.get(normalize_header(cell))
        if canonical:
            positions.setdefault(canonical, []).append(position)
    missing = [canonical for canonical in INPUT_COLUMNS if canonical not in positions]
    if missing:
        found = ", ".join(cell for cell in header if cell)
        problems.append(f"missing required columns: {', '.join(missing)} (found: {found})")
    for canonical in INPUT_COLUMNS:
        duplicates = positions.get(canonical, [])
        if len(duplicates) > 1:
            quoted = [f"'{header[position]}'" for position in duplicates]
            both = "both" if len(quoted) == 2 else "all"
            problems.append(f"columns {', '.join(quoted[:-1])} and {quoted[-1]} {both} map to "
                            f"{canonical}")
    return {canonical: places[0] for canonical, places in positions.items()}


@dataclass
class _Extras:
    columns: dict[str, int]            # output name -> cell position, in file order
    warnings: list[AnalysisWarning]


def _extra_columns(header: list[str], canonical_positions: dict[str, int],
                   column_is_empty: Callable[[int], bool], problems: list[str]) -> _Extras:
    canonical = set(canonical_positions.values()) | {
        position for position, cell in enumerate(header)
        if HEADER_ALIASES.get(normalize_header(cell))}
    named: list[tuple[str, int]] = []
    renamed: list[tuple[str, str]] = []
    for position, cell in enumerate(header):
        if position in canonical:
            continue
        if not cell:
            if column_is_empty(position):
                continue
            cell = f"column_{position + 1}"
        elif cell.lower() in _RESULT_COLUMNS_LOWER:
            renamed.append((cell, f"{cell}_input"))
            cell = f"{cell}_input"
        named.append((cell, position))
    by_name: dict[str, list[int]] = {}
    for name, position in named:
        by_name.setdefault(name, []).append(position + 1)
    for name, columns in by_name.items():
        if len(columns) > 1:
            times = "twice" if len(columns) == 2 else f"{len(columns)} times"
            problems.append(f"column '{name}' appears {times} "
                            f"(columns {', '.join(map(str, columns))})")
    warnings = []
    if renamed:
        pairs = ", ".join(f"'{old}' -> '{new}'" for old, new in renamed)
        warnings.append(AnalysisWarning(
            "columns_renamed", "info",
            f"Extra columns renamed because they clash with result columns: {pairs}"))
    return _Extras(dict(named), warnings)


def _typed_extra(column: pd.Series, decimal_comma: bool) -> pd.Series:
    """Numbers (float) if every non-empty cell reads as a number (2.4), else text or None."""
    parsed = parse_numbers(column, decimal_comma)
    if not parsed.invalid.any():
        return parsed.values.astype("float64")
    return pd.Series(cell_texts(column), index=column.index, dtype=object)


def _lines_problem(what: str, lines: np.ndarray) -> str:
    plural = "s" if len(lines) > 1 else ""
    return f"{what} on line{plural} {first_items([int(line) for line in lines])}"


def _blank_warning(lines: np.ndarray) -> list[AnalysisWarning]:
    if len(lines) == 0:
        return []
    count = len(lines)
    rows = "row was" if count == 1 else "rows were"
    plural = "s" if count > 1 else ""
    return [AnalysisWarning(
        "blank_rows_ignored", "info",
        f"{count} blank {rows} ignored (line{plural} {first_items([int(n) for n in lines])})")]
