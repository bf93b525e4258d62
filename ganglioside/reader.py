"""Reading the uploaded table (spec 2.1-2.3): CSV or XLSX in, one raw cell per column out.

The reader recognises the five input columns by their header aliases, types and renames the extra
columns, drops blank records and reports every structural problem at once as one InputError.
Cell values stay raw here; ``validation`` applies the cell rules of 2.4.

Nothing a file holds can make reading crash or stall: every limit of ``limits`` is checked before
the step it protects (the file's size before it is read, a workbook's inflated sizes before it is
inflated, cells and rows as records arrive), a record is kept only up to the header's width, blank
records are counted but not stored, and every refusal names the line and column it is about.
Reading takes time and memory linear in the file: about 130 bytes per cell (a Python string
each), about 20 times the size of a CSV file of short numbers; a workbook's XML is never held.
"""

from __future__ import annotations

import array
import codecs
import dataclasses
import csv
import hashlib
import io
import os
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import limits
from .errors import InputError
from .formatting import first_items
from .result import AnalysisWarning, SourceInfo
from .validation import (INPUT_COLUMNS, cell_texts, implausible_columns, is_empty,
                         parse_numbers)

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
_BINARY_SIGNATURES = (
    (b"\x89PNG", "a PNG image"), (b"%PDF", "a PDF document"), (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"), (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
    (b"\x1f\x8b", "a gzip archive"), (b"7z\xbc\xaf", "a 7-Zip archive"), (b"Rar!", "a RAR archive"),
    (b"BZh", "a bzip2 archive"), (b"\xfd7zXZ", "an xz archive"), (b"\x7fELF", "a program"),
    (b"SQLite format 3", "an SQLite database"), (b"PAR1", "a Parquet file"))
_BINARY_SHARE = 0.1  # a text table has no control bytes; binary data has ~12 % of them
_SNIFF_BYTES = 8192
_CONTROL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""C0 and C1 control characters and DEL; tab, line feed and carriage return are text."""
_KOREAN_OR_ASCII = re.compile("[\x00-\x7f\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\u3000-\u303f"
                              "\uff00-\uffef]*")
_LOCATIONS_SHOWN = 10


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
    cells: pd.DataFrame      # positional columns 0..len(header)-1, non-blank data records only
    lines: np.ndarray        # line of each record of ``cells``
    blank_lines: np.ndarray  # lines of the blank records after the header
    too_long_lines: list[int] = field(default_factory=list)  # records wider than the header
    warnings: list[AnalysisWarning] = field(default_factory=list)


def read_table(source, filename: str | None = None, sheet: str | None = None) -> InputTable:
    """Read a CSV or XLSX table from a path, bytes or binary file object.

    Raises InputError listing every structural problem (spec 2.3) or the limit a file breaks
    (``limits``); the message names the file. With ``sheet`` None a workbook is read from its
    first sheet, or from the one sheet that has the required columns when the first lacks them.
    """
    raw, file_name = _read_source(source, filename)
    if raw.startswith(_XLSX_MAGIC):
        table, decimal_comma, file_format = _xlsx_raw_table(raw, sheet, file_name), False, "xlsx"
    elif raw.startswith(_OLE_MAGIC):
        raise InputError(["legacy Excel (.xls) files are not supported: save as .xlsx or .csv"],
                         file_name)
    else:
        _refuse_binary(raw, file_name)
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
    blank = _all_empty(cells, list(cells.columns))
    lines = np.arange(2, len(df) + 2)
    table = _RawTable(["" if column is None else str(column) for column in df.columns],
                      cells[~blank].reset_index(drop=True), lines[~blank], lines[blank])
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
    """Decode CSV bytes: UTF-8 (BOM optional), UTF-16 with BOM or, recognised by its zero bytes,
    without one; else CP949 (Korean) if the result reads as Korean, else Windows-1252, else
    Latin-1 (which always succeeds)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace")
    utf16 = _utf16_without_bom(raw)
    if utf16:
        return raw.decode(utf16, errors="replace")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp949")
        if _KOREAN_OR_ASCII.fullmatch(text):
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
        name = filename or path.name
        try:
            _check_file_size(path.stat().st_size, name)
            return path.read_bytes(), name
        except OSError as error:
            raise InputError([f"cannot open the file: {error.strerror or error}"],
                             name) from None
    if isinstance(source, (bytes, bytearray, memoryview)):
        _check_file_size(len(source), filename)
        return bytes(source), filename
    name = filename or getattr(source, "name", None)
    name = os.path.basename(name) if isinstance(name, str) else None
    data = (source.getvalue() if hasattr(source, "getvalue")
            else source.read(limits.MAX_FILE_BYTES + 1))
    if isinstance(data, str):
        data = data.encode("utf-8")
    _check_file_size(len(data), name)
    return bytes(data), name


def _check_file_size(size: int, file_name: str | None) -> None:
    if size > limits.MAX_FILE_BYTES:
        raise InputError([f"the file has {_megabytes(size)}, more than the "
                          f"{_megabytes(limits.MAX_FILE_BYTES)} a table may have"], file_name)


def _megabytes(size: int) -> str:
    return f"{size / 2**20:,.0f} MB" if size >= 2**20 else f"{size:,} bytes"


def _refuse_binary(raw: bytes, file_name: str | None) -> None:
    """A file that is not text (an image, an archive, ...) is named as what it looks like."""
    kind = next((kind for magic, kind in _BINARY_SIGNATURES if raw.startswith(magic)), None)
    head = raw[:_SNIFF_BYTES]
    if kind is None and _utf16_without_bom(raw) is None and head:
        controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
        kind = "binary data" if controls > _BINARY_SHARE * len(head) else None
    if kind is not None:
        raise InputError([f"this is not a text table (it looks like {kind}): upload the peak "
                          "table as .csv or .xlsx"], file_name)


def _utf16_without_bom(raw: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when the zero bytes say so (ASCII text in UTF-16 has a zero in
    every other byte), else None."""
    head = raw[:_SNIFF_BYTES - _SNIFF_BYTES % 2]
    if len(head) < 4:
        return None
    even, odd = head[0::2].count(0), head[1::2].count(0)
    pairs = len(head) // 2
    if odd > 0.3 * pairs and even < 0.05 * pairs:
        return "utf-16-le"
    if even > 0.3 * pairs and odd < 0.05 * pairs:
        return "utf-16-be"
    return None


# --- records, kept up to the header's width ---------------------------------------------------

class _Records:
    """Collects the records of a sheet or CSV file as they are read, checking every limit.

    The first non-blank record is the header; blank records after it are counted by line, not
    kept; a data record is cut to the header's width, noting the line if a cut cell held
    anything. ``check_text`` (CSV files with a control character, every workbook) also checks
    each text cell for control characters."""

    def __init__(self, file_name: str | None, check_text: bool):
        self.file_name = file_name
        self.check_text = check_text
        self.header: list | None = None
        self.records: list[list] = []
        self.lines = array.array("q")
        self.blank_lines = array.array("q")
        self.too_long_lines: list[int] = []
        self.short_records = False
        self.count = 0  # records so far, blank ones (before the header too) included
        self.cells = 0
        self.long_cells: list[str] = []
        self.controls: list[str] = []

    def add(self, record: list | tuple, line: int) -> None:
        self.count += 1
        if self.count > limits.MAX_ROWS + 1:  # the header and MAX_ROWS rows
            self._refuse(f"more than {limits.MAX_ROWS:,} rows (line {line}): the limit of a "
                         "table")
        if _blank_record(record):
            if self.header is not None:
                self.blank_lines.append(line)
            return
        if self.header is None:
            self._set_header(record, line)
            return
        width = len(self.header)
        if len(record) > width:
            if not _blank_record(record[width:]):
                self.too_long_lines.append(line)
            record = record[:width]
        self.short_records |= len(record) < width
        self.cells += width
        if self.cells > limits.MAX_CELLS:
            self._refuse(f"more than {limits.MAX_CELLS:,} cells (line {line}): the limit of a "
                         f"table (rows x columns)")
        self._check_cells(record, line)
        self.records.append(record if isinstance(record, list) else list(record))
        self.lines.append(line)

    def table(self) -> _RawTable:
        if self.header is None:
            raise InputError(["file is empty"], self.file_name)
        problems = []
        for what, places in (("cells longer than the "
                              f"{limits.MAX_CELL_CHARACTERS:,} characters a cell may hold",
                              self.long_cells),
                             ("control characters, which a text table cannot hold",
                              self.controls)):
            if places:
                problems.append(f"{what}: {_places(places)}")
        if problems:
            raise InputError(problems, self.file_name)
        width = len(self.header)
        records = self.records
        if self.short_records:
            records = [record if len(record) == width else
                       [*record, *[None] * (width - len(record))] for record in records]
        cells = (pd.DataFrame(records, columns=range(width), dtype=object) if records
                 else pd.DataFrame(index=range(0), columns=range(width), dtype=object))
        return _RawTable(["" if cell is None else str(cell) for cell in self.header], cells,
                         np.frombuffer(self.lines, dtype="int64"),
                         np.frombuffer(self.blank_lines, dtype="int64"), self.too_long_lines)

    def _set_header(self, record, line: int) -> None:
        if len(record) > limits.MAX_COLUMNS:
            self._refuse(f"the header (line {line}) has {len(record):,} columns, more than the "
                         f"{limits.MAX_COLUMNS:,} a table may have")
        self.header = list(record)
        self._check_cells(self.header, line)

    def _check_cells(self, record, line: int) -> None:
        texts = [cell for cell in record if type(cell) is str]
        if not texts:
            return
        if max(map(len, texts)) > limits.MAX_CELL_CHARACTERS:
            self.long_cells += [self._place(record, position, line)
                                for position, cell in enumerate(record)
                                if type(cell) is str and len(cell) > limits.MAX_CELL_CHARACTERS]
        if self.check_text and _CONTROL_CHARACTERS.search("\n".join(texts)):
            for position, cell in enumerate(record):
                found = _CONTROL_CHARACTERS.search(cell) if type(cell) is str else None
                if found:
                    self.controls.append(f"U+{ord(found[0]):04X} at "
                                         + self._place(record, position, line))

    def _place(self, record, position: int, line: int) -> str:
        header = self.header if self.header is not None and record is not self.header else None
        name = header[position] if header is not None and position < len(header) else None
        column = f"'{name}'" if isinstance(name, str) and name.strip() else str(position + 1)
        return f"line {line}, column {column}"

    def _refuse(self, problem: str) -> None:
        raise InputError([problem], self.file_name)


def _places(places: list[str]) -> str:
    """``a; b; c`` for the first ten places, then ``and N more``."""
    shown = "; ".join(places[:_LOCATIONS_SHOWN])
    rest = len(places) - _LOCATIONS_SHOWN
    return f"{shown} and {rest} more" if rest > 0 else shown


def _blank_record(record) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in record)


# --- CSV ------------------------------------------------------------------------------------

def _csv_raw_table(text: str, delimiter: str, file_name: str | None) -> _RawTable:
    collected = _Records(file_name, check_text=bool(_CONTROL_CHARACTERS.search(text)))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        for record in reader:
            collected.add(record, start)
            start = reader.line_num + 1
    except csv.Error as error:
        raise InputError([f"line {start}: {_csv_error_text(error)}"], file_name) from None
    return collected.table()


def _csv_error_text(error: csv.Error) -> str:
    text = str(error)
    if "field limit" in text:
        return (f"a cell is longer than {csv.field_size_limit():,} characters (a cell may hold "
                f"{limits.MAX_CELL_CHARACTERS:,})")
    return f"the CSV text cannot be read ({text})"


# --- XLSX -----------------------------------------------------------------------------------

def _open_workbook(raw: bytes, file_name: str | None):
    import openpyxl  # imported here: CSV-only callers do not pay for it

    _check_package(raw, file_name)
    try:
        return openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as error:  # a damaged workbook fails in many ways inside openpyxl
        raise _unreadable_workbook(error, file_name) from None


def _check_package(raw: bytes, file_name: str | None) -> None:
    """Refuse a zip package that is no workbook, or inflates too far, before inflating it.

    The sizes checked are the ones the package declares; Python's zipfile, which openpyxl reads
    through, never inflates a part beyond its declared size."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            parts = archive.infolist()
    except Exception as error:  # a damaged zip fails in many ways (BadZipFile, NotImplemented...)
        raise _unreadable_workbook(error, file_name) from None
    problems = []
    if len(parts) > limits.MAX_XLSX_PARTS:
        problems.append(f"the workbook package has {len(parts):,} parts, more than "
                        f"{limits.MAX_XLSX_PARTS:,}")
    inflated = sum(part.file_size for part in parts)
    if inflated > limits.MAX_XLSX_EXPANDED_BYTES:
        problems.append(f"the workbook inflates to {_megabytes(inflated)}, more than the "
                        f"{_megabytes(limits.MAX_XLSX_EXPANDED_BYTES)} a workbook may")
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > limits.XLSX_RATIO_CHECKED_FROM and ratio > limits.MAX_XLSX_RATIO:
            problems.append(f"part '{part.filename}' inflates {ratio:,.0f} times (a workbook's "
                            f"parts: under {limits.MAX_XLSX_RATIO}): a zip bomb, not a table")
    if not problems and "xl/workbook.xml" not in {part.filename for part in parts}:
        problems.append("this is a zip archive, not an Excel workbook")
    if problems:
        raise InputError(problems, file_name)


def _unreadable_workbook(error: Exception, file_name: str | None) -> InputError:
    return InputError([f"not a readable XLSX workbook ({type(error).__name__}: {error})"],
                      file_name)


def _xlsx_raw_table(raw: bytes, sheet: str | None, file_name: str | None) -> _RawTable:
    workbook = _open_workbook(raw, file_name)
    try:
        names = list(workbook.sheetnames)
        if sheet is not None and sheet not in names:
            found = ", ".join(f"'{name}'" for name in names)
            raise InputError([f"sheet '{sheet}' not found (sheets: {found})"], file_name)
        chosen = sheet if sheet is not None else names[0]
        table = _sheet_table(workbook, chosen, raw, file_name)
        if _missing_columns(table.header) and len(names) > 1:
            table = _table_of_another_sheet(workbook, chosen, sheet is None, table, raw,
                                            file_name)
        return table
    except InputError:
        raise
    except Exception as error:  # damaged sheet XML, a chart sheet, ...
        raise _unreadable_workbook(error, file_name) from None
    finally:
        workbook.close()


def _sheet_table(workbook, title: str, raw: bytes, file_name: str | None) -> _RawTable:
    """One worksheet's records, read one row at a time (never padded to a declared range)."""
    worksheet = workbook[title]
    worksheet.reset_dimensions()  # the declared range may be wrong or absurdly large
    collected = _Records(file_name, check_text=True)
    line = 0
    try:
        for line, row in enumerate(worksheet.iter_rows(values_only=True), 1):
            collected.add(row, line)
    except (ValueError, TypeError, IndexError, KeyError, OverflowError) as error:
        raise InputError([_unreadable_cell(raw, worksheet, line, error)], file_name) from None
    return collected.table()


def _table_of_another_sheet(workbook, chosen: str, may_switch: bool, table: _RawTable,
                            raw: bytes, file_name: str | None) -> _RawTable:
    """The first (or the chosen) sheet lacks required columns: read the one other sheet that has
    them when no sheet was chosen (with an info warning), else refuse and say which sheets have
    them."""
    others = [name for name in workbook.sheetnames if name != chosen]
    fitting = [name for name in others if not _missing_columns(_sheet_header(workbook, name))]
    if may_switch and len(fitting) == 1:
        found = _sheet_table(workbook, fitting[0], raw, file_name)
        found.warnings.append(AnalysisWarning(
            "sheet_chosen", "info",
            f"Read sheet '{fitting[0]}': the first sheet, '{chosen}', does not have the columns "
            f"{', '.join(_missing_columns(table.header))}"))
        return found
    hint = (f"sheet {_quoted(fitting)} has them" if len(fitting) == 1
            else f"sheets {_quoted(fitting)} have them" if fitting
            else "no other sheet has them either")
    problems: list[str] = []
    _canonical_positions([str(cell).strip() for cell in table.header], problems)
    raise InputError([*problems, f"sheet '{chosen}' was read; {hint} (sheets: "
                      f"{_quoted(workbook.sheetnames)}): choose the sheet that holds the peak "
                      "table (Worksheet on the Analyze page, --sheet on the command line)"],
                     file_name)


def _quoted(names: Iterable[str]) -> str:
    names = [f"'{name}'" for name in names]
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)


def _sheet_header(workbook, title: str) -> list:
    worksheet = workbook[title]
    worksheet.reset_dimensions()
    try:
        for line, row in enumerate(worksheet.iter_rows(values_only=True), 1):
            if line > limits.MAX_ROWS:
                break
            if not _blank_record(row):
                return ["" if cell is None else str(cell) for cell in row]
    except (ValueError, TypeError, IndexError, KeyError, OverflowError):
        pass
    return []


def _missing_columns(header: list) -> list[str]:
    found = {HEADER_ALIASES.get(normalize_header(str(cell))) for cell in header if cell}
    return [column for column in INPUT_COLUMNS if column not in found]


_CELL_ELEMENT = re.compile(rb'<c\b([^>]*?)(?:/>|>(.*?)</c>)', re.DOTALL)
_ATTRIBUTE = re.compile(rb'\b(r|t)="([^"]*)"')
_VALUE = re.compile(rb'<v>([^<]*)</v>')
_XLSX_NUMBER = re.compile(rb'\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*')


def _unreadable_cell(raw: bytes, worksheet, line: int, error: Exception) -> str:
    """Name the cell whose stored value a reader cannot take (``<v>NaN</v>`` in a numeric cell,
    a boolean that is not 0 or 1); only run when reading the sheet has failed."""
    path = getattr(worksheet, "_worksheet_path", None)
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            xml = archive.read(path) if path else b""
    except Exception:  # the sheet cannot be read again: the message names the row instead
        xml = b""
    for match in _CELL_ELEMENT.finditer(xml):
        attributes = dict(_ATTRIBUTE.findall(match[1]))
        value = _VALUE.search(match[2] or b"")
        kind = attributes.get(b"t", b"n")
        if value is None or kind not in (b"n", b"b"):
            continue
        text = value[1]
        bad = (not _XLSX_NUMBER.fullmatch(text) if kind == b"n"
               else text.strip() not in (b"0", b"1"))
        if bad:
            cell = attributes.get(b"r", b"?").decode("ascii", "replace")
            shown = text[:40].decode("utf-8", "replace")
            return f"cell {cell}: '{shown}' is not a value Excel stores in a number cell"
    return (f"line {line + 1}: a cell cannot be read ({type(error).__name__}: "
            f"{str(error)[:200]})")


# --- header, blank rows, extra columns -------------------------------------------------------

def _build(table: _RawTable, source: SourceInfo, decimal_comma: bool) -> InputTable:
    """Header matching, structural checks, blank rows and extra columns (spec 2.1-2.3).

    Columns are built once each and joined once, so the work is linear in the columns too."""
    problems: list[str] = []
    header = [cell.strip() for cell in table.header]
    canonical_positions = _canonical_positions(header, problems)
    cells = table.cells
    extras = _extra_columns(header, canonical_positions,
                            lambda position: bool(is_empty(cells[position]).all()), problems)
    if table.too_long_lines:
        problems.append(_lines_problem("more cells than the header",
                                       np.asarray(table.too_long_lines)))
    if len(cells) == 0:
        problems.append("no data rows")
    if problems:
        raise InputError(problems, source.file_name)

    columns = {"line": pd.Series(table.lines.astype("int64"), index=cells.index)}
    columns |= {canonical: cells[canonical_positions[canonical]] for canonical in INPUT_COLUMNS}
    columns |= _typed_extras(cells, extras.columns, decimal_comma)
    frame = pd.DataFrame(columns).reset_index(drop=True)
    implausible = implausible_columns(frame, decimal_comma)
    if implausible:
        raise InputError(implausible, source.file_name)

    warnings = [*table.warnings, *_blank_warning(table.blank_lines), *extras.warnings]
    source = dataclasses.replace(source, data_rows=len(frame),
                                 blank_rows_ignored=len(table.blank_lines))
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
            if len(quoted) > _LOCATIONS_SHOWN:
                columns = first_items([position + 1 for position in duplicates])
                problems.append(f"{len(quoted):,} columns map to {canonical} (columns {columns})")
                continue
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
            problems.append(f"column '{name}' appears {times} (columns {first_items(columns)})")
    warnings = []
    if renamed:
        pairs = ", ".join(f"'{old}' -> '{new}'" for old, new in renamed)
        warnings.append(AnalysisWarning(
            "columns_renamed", "info",
            f"Extra columns renamed because they clash with result columns: {pairs}"))
    return _Extras(dict(named), warnings)


def _typed_extras(cells: pd.DataFrame, columns: dict[str, int],
                  decimal_comma: bool) -> dict[str, pd.Series]:
    """Each extra column as numbers (float) if every non-empty cell reads as a number (2.4), else
    as text or None. All extra columns are parsed together, as one long column."""
    if not columns:
        return {}
    block = cells[list(columns.values())].to_numpy(dtype=object)
    count, rows = len(columns), len(cells)
    parsed = parse_numbers(pd.Series(block.ravel(order="F"), dtype=object), decimal_comma)
    numeric = ~parsed.invalid.reshape(count, rows).any(axis=1)
    values = parsed.values.to_numpy().reshape(count, rows)
    texts = np.empty((count, rows), dtype=object)
    if not numeric.all():
        text_block = block[:, ~numeric]
        texts[~numeric] = cell_texts(pd.Series(text_block.ravel(order="F"), dtype=object)
                                     ).reshape(text_block.shape[1], rows)
    return {name: (pd.Series(values[i], index=cells.index, dtype="float64") if numeric[i]
                   else pd.Series(texts[i], index=cells.index, dtype=object))
            for i, name in enumerate(columns)}


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
