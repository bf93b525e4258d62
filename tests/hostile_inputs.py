"""Hostile inputs for the reader and the pipeline (issue 13), and the check each must pass.

``hostile_cases()`` builds one file per family of attack: the cases of the issue and their
relatives. Sizes follow ``ganglioside.limits`` at call time, so a test that lowers the limits
gets small files and ``bench/hostile.py`` gets files at the real limits. ``check_case`` runs a
case through reading, analysis (both algorithms) and every export, and says what happened:
read, or refused with located messages. Anything else (another exception) is a failure.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import openpyxl

from ganglioside import limits
from ganglioside.analysis import analyze
from ganglioside.errors import InputError
from ganglioside.export import to_csv, to_json, to_xlsx
from ganglioside.params import AnalysisParams
from ganglioside.reader import read_table

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "testwork_user.csv"
HEADER = ["Name", "RT", "Volume", "Log P", "Anchor"]
ROW = ["GD1(36:1;O2)", 9.5, 1000, 1.5, "T"]

_LOCATED = re.compile(r"\blines? \d|\bcell [A-Z]{1,3}\d|\bcolumns? [A-Z'\d]|\bsheets? '|"
                      r"\bpart '")
_FILE_LEVEL = ("file is empty", "no data rows", "this is not a text table",
               "this is a zip archive", "the file has", "the workbook", "legacy Excel",
               "not a readable XLSX workbook", "missing required columns", "cannot open",
               "more than")
"""Problems about the file as a whole: the file is where they are."""


@dataclass
class Case:
    """One hostile file, built when first used; ``expect`` is "refused", "read" or None (either
    is fine)."""

    label: str
    file_name: str
    build: bytes | Callable[[], bytes]
    expect: str | None = None
    sheet: str | None = None

    @cached_property
    def data(self) -> bytes:
        return self.build() if callable(self.build) else self.build


@dataclass
class Outcome:
    label: str
    result: str               # "read" or "refused"
    problems: list[str]
    rows: int = 0


def is_located(problem: str) -> bool:
    """A refusal names its line, cell or column, or is about the whole file."""
    return bool(_LOCATED.search(problem)) or problem.startswith(_FILE_LEVEL)


def check_case(case: Case, analyse: bool = True) -> Outcome:
    """Read the case; when it reads, analyse it with both algorithms, export every format and
    read the CSV export back. Raises AssertionError on anything but a located InputError."""
    try:
        table = read_table(case.data, case.file_name, case.sheet)
    except InputError as error:
        unlocated = [problem for problem in error.problems if not is_located(problem)]
        assert error.problems and not unlocated, f"{case.label}: unlocated {unlocated}"
        assert case.expect != "read", f"{case.label}: refused {error.problems}"
        return Outcome(case.label, "refused", error.problems)
    assert case.expect != "refused", f"{case.label}: was read"
    if analyse:
        for version in ("2.0", "1.0"):
            result = analyze(table, AnalysisParams(algorithm_version=version))
            csv_bytes = to_csv(result)
            to_json(result)
            if version == "2.0":  # the workbook writer does not depend on the algorithm
                to_xlsx(result)
            assert len(read_table(csv_bytes, "export.csv").frame) == len(result.rows)
    return Outcome(case.label, "read", [], len(table.frame))


# --- building blocks --------------------------------------------------------------------------

def csv_file(header: list, rows: list[list], encoding: str = "utf-8") -> bytes:
    lines = [",".join(map(str, header))] + [",".join(map(str, row)) for row in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


def sample_lines() -> list[str]:
    return SAMPLE.read_text(encoding="utf-8-sig").splitlines()


def with_cell(lines: list[str], line: int, column: int, value: str) -> bytes:
    """The sample with one cell replaced (line 1-based, column 0-based)."""
    changed = list(lines)
    cells = changed[line - 1].split(",")
    cells[column] = value
    changed[line - 1] = ",".join(cells)
    return ("\n".join(changed) + "\n").encode()


def xlsx_file(rows: list[list], title: str = "Peaks") -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def replace_in_sheet(data: bytes, old: bytes, new: bytes) -> bytes:
    """The workbook with its first sheet's XML edited (a cell value no writer would write)."""
    return _rewrite_part(data, "xl/worksheets/sheet1.xml", lambda xml: xml.replace(old, new, 1))


def _rewrite_part(data: bytes, name: str, change) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    parts[name] = change(parts[name])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for part, content in parts.items():
            target.writestr(part, content)
    return buffer.getvalue()


def zip_bomb(inflated_bytes: int) -> bytes:
    """A workbook whose sheet is ``inflated_bytes`` of whitespace (deflates ~1,000 times)."""
    base = xlsx_file([HEADER, ROW])

    def inflate(xml: bytes) -> bytes:
        head, tail = xml.split(b"<sheetData>", 1)
        return head + b"<sheetData>" + b" " * inflated_bytes + tail

    return _rewrite_part(base, "xl/worksheets/sheet1.xml", inflate)


def rows_bomb(rows: int) -> bytes:
    """A workbook of ``rows`` identical rows without row numbers (deflates ~1,000 times)."""
    row = b"<row><c t=\"inlineStr\"><is><t>GD1(36:1;O2)</t></is></c><c><v>9.5</v></c></row>"

    def inflate(xml: bytes) -> bytes:
        head, tail = xml.split(b"</sheetData>", 1)
        return head + row * rows + b"</sheetData>" + tail

    return _rewrite_part(xlsx_file([HEADER]), "xl/worksheets/sheet1.xml", inflate)


def lying_sizes(declared: int) -> bytes:
    """A workbook whose sheet declares ``declared`` bytes inflated: a zip that lies."""
    data = bytearray(xlsx_file([HEADER, ROW]))
    name = b"xl/worksheets/sheet1.xml"
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(name))
    struct.pack_into("<I", data, central + 24, declared)  # central directory: inflated size
    return bytes(data)


def unknown_zip_version() -> bytes:
    """A workbook whose sheet needs a zip version no reader has (Python: NotImplementedError)."""
    data = bytearray(xlsx_file([HEADER, ROW]))
    name = b"xl/worksheets/sheet1.xml"
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(name))
    struct.pack_into("<H", data, central + 6, 99)  # central directory: version needed
    return bytes(data)


def many_parts(count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx_file([HEADER, ROW]))) as source, \
            zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
        for number in range(count):
            target.writestr(f"xl/media/image{number}.bin", b"")
    return buffer.getvalue()


def far_cell(row: int, column: int) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(ROW)
    sheet.cell(row=row, column=column, value="x")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def declared_dimension() -> bytes:
    """A small sheet that declares the whole grid (A1:XFD1048576) as its used range."""
    return replace_in_sheet(xlsx_file([HEADER, ROW]), b'<dimension ref="A1:E2"',
                            b'<dimension ref="A1:XFD1048576"')


def entity_bomb() -> bytes:
    """A sheet whose XML expands one entity into 10^9 characters ("billion laughs")."""
    entities = b"".join(b'<!ENTITY e%d "%s">' % (level, b"&e%d;" % (level - 1) * 10)
                        for level in range(1, 10))
    doctype = b'<!DOCTYPE worksheet [<!ENTITY e0 "lollollollol">' + entities + b"]>"

    def expand(xml: bytes) -> bytes:
        body = xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml
        return doctype + body.replace(b"GD1(36:1;O2)", b"&e9;", 1)

    return _rewrite_part(xlsx_file([HEADER, ROW]), "xl/worksheets/sheet1.xml", expand)


def png() -> bytes:
    return (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + zlib.compress(bytes(range(256)) * 40))


# --- the cases ----------------------------------------------------------------------------------

def hostile_cases(sample_rows: int | None = None) -> Iterator[Case]:
    """Every family of hostile input the issue names, sized by ``limits`` at call time; the
    cases made from the lab's sample use its first ``sample_rows`` rows (all by default)."""
    lines = sample_lines()
    lines = lines[:1 + sample_rows] if sample_rows else lines
    sample = "\n".join(lines).encode()
    header = lines[0].split(",")
    swapped = ",".join(header[:1] + [header[2], header[1]] + header[3:])
    yield Case("sample", "sample.csv", sample, "read")
    yield Case("RT and Volume headers swapped", "swapped.csv",
               "\n".join([swapped] + lines[1:]).encode(), "refused")
    yield Case("RT in milliseconds", "ms.csv", _scaled_rt(lines, 60_000), "refused")
    for value in ("1e9", "1e18", "1e308", "-1e308", "1e999", "1e-320", "nan", "inf", "0x10",
                  "\"1,5\"", "١٢"):
        yield Case(f"RT {value}", "rt.csv", with_cell(lines, 2, 1, value), "read")
    for column, value in ((2, "1e300"), (2, "-0"), (3, "1e300"), (3, "-1e300"), (4, "\u200b")):
        yield Case(f"{header[column]} {value}", "cell.csv", with_cell(lines, 3, column, value),
                   "read")
    for name in ("GM1(99999999999999999999:1;O2)", "GM1(9223372036854775808:1;O2)",
                 "GM1(36:1;O999999999999999)", "GM1+99999999999999999999OAc(36:1;O2)",
                 "GM1(36:99999999999:O2)", "GM1(" + "9" * 250 + ":1)", "GM1(18:1/" + "9" * 30
                 + ":0)", "GM1+2OAc+" + "OAc+" * 60 + "OAc(36:1;O2)", "\u202eGM1(36:1;O2)",
                 "GM1(36:1;O2)" + "\u0301" * 300, "=HYPERLINK(\"http://evil.example\")",
                 "http://evil.example"):
        yield Case(f"name {name[:30]}", "name.csv", with_cell(lines, 2, 0, name), "read")
    for character in ("\x00", "\x07", "\x1b[31m", "\x7f", "\x85"):
        yield Case(f"control {character!r} in a name", "control.csv",
                   with_cell(lines, 4, 0, "GM1" + character + "(36:1;O2)"), "refused")
    yield Case("control in the header", "control.csv",
               "\n".join(["Name\x00," + lines[0]] + lines[1:]).encode(), "refused")
    yield Case("UTF-16 LE without BOM", "utf16.csv", sample.decode().encode("utf-16-le"), "read")
    yield Case("UTF-16 BE without BOM", "utf16.csv", sample.decode().encode("utf-16-be"), "read")
    yield Case("UTF-32", "utf32.csv", sample.decode().encode("utf-32"), "refused")
    for label, data in (("PNG", png()), ("PDF", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"),
                        ("gzip", b"\x1f\x8b\x08\x00" + zlib.compress(sample)),
                        ("random bytes", bytes((i * 7919) % 256 for i in range(4096))),
                        ("legacy xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512)),
                        ("ELF", b"\x7fELF\x02\x01\x01" + bytes(200))):
        yield Case(f"binary {label} named .csv", "peaks.csv", data, "refused")
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("peaks.csv", sample)
    yield Case("zip archive named .xlsx", "peaks.xlsx", plain_zip.getvalue(), "refused")
    yield from _size_cases(lines, header)
    yield from _workbook_cases()


def _scaled_rt(lines: list[str], factor: float) -> bytes:
    rows = [line.split(",") for line in lines[1:]]
    for row in rows:
        row[1] = repr(float(row[1]) * factor)
    return "\n".join([lines[0]] + [",".join(row) for row in rows]).encode()


def _size_cases(lines: list[str], header: list[str]) -> Iterator[Case]:
    rows = [line.split(",") for line in lines[1:]]
    wide = min(10_000, limits.MAX_COLUMNS - len(header))
    yield Case(f"{wide:,} extra columns", "wide.csv",
               lambda: csv_file(header + [f"x{i}" for i in range(wide)],
                                [row + [str(i)] * wide for i, row in enumerate(rows[:20])]),
               "read")
    yield Case("header wider than the limit", "wide.csv",
               lambda: csv_file(header + ["x"] * limits.MAX_COLUMNS, rows[:2]), "refused")
    yield Case("one ragged row of a million cells", "ragged.csv",
               lambda: csv_file(header, [rows[0] + ["1"] * max(10, limits.MAX_CELLS // 20)]
                                + rows[1:5]),
               "refused")
    yield Case("short rows", "short.csv", csv_file(header, [row[:2] for row in rows[:20]]),
               "read")
    yield Case("more rows than the limit (blank lines)", "blank.csv",
               lambda: (lines[0] + "\n" + lines[1] + "\n" + "\n" * limits.MAX_ROWS).encode(),
               "refused")
    yield Case("more cells than the limit", "cells.csv",
               lambda: csv_file(header + ["x"] * 15,
                                [rows[0] + ["1"] * 15] * (limits.MAX_CELLS // 20 + 2)),
               "refused")
    big = limits.MAX_CELL_CHARACTERS
    yield Case("a cell one character over the limit", "long.csv",
               lambda: csv_file(header + ["Note"], [rows[0] + ["x" * (big + 1)]] + rows[1:3]),
               "refused")
    yield Case("a cell over the CSV field limit", "field.csv",
               lambda: csv_file(header + ["Note"], [rows[0] + ["x" * 140_000]] + rows[1:3]),
               "refused")
    yield Case("an unclosed quote", "quote.csv",
               csv_file(header, [rows[0], ['"' + rows[1][0]] + rows[1][1:]] + rows[2:]), None)
    yield Case("only delimiters", "commas.csv", b"," * 100_000, "refused")
    yield Case("a long line without delimiters", "line.csv", b"a" * 200_000, "refused")
    yield Case("one input column under every header", "names.csv",
               lambda: csv_file(["Name"] * (limits.MAX_COLUMNS - 4) + header[1:],
                                [["x"] * (limits.MAX_COLUMNS - 4) + rows[0][1:]]), "refused")
    yield Case("a header repeated as extra columns", "dup.csv",
               csv_file(header + ["Note"] * 1000, [rows[0] + ["1"] * 1000]), "refused")
    yield Case("file over the size limit", "big.csv",
               lambda: lines[0].encode() + b"\n" + b" " * (limits.MAX_FILE_BYTES + 1), "refused")


def _workbook_cases() -> Iterator[Case]:
    yield Case("workbook", "peaks.xlsx", xlsx_file([HEADER, ROW]), "read")
    yield Case("far cell XFD1048576", "far.xlsx", lambda: far_cell(1_048_576, 16_384), "refused")
    yield Case("far row A1048576", "far.xlsx", lambda: far_cell(1_048_576, 1), None)
    yield Case("far column XFD2", "far.xlsx", far_cell(2, 16_384), "refused")
    yield Case("declared range A1:XFD1048576", "dim.xlsx", declared_dimension(), "read")
    base = xlsx_file([HEADER, ROW])
    for value in (b"NaN", b"inf", b"1e999", b"0x1F", b""):
        yield Case(f"numeric cell <v>{value.decode()}</v>", "nan.xlsx",
                   replace_in_sheet(base, b"<v>9.5</v>", b"<v>" + value + b"</v>"), None)
    yield Case("boolean cell 7", "bool.xlsx",
               replace_in_sheet(base, b'<c r="B2" t="n"><v>9.5</v>', b'<c r="B2" t="b"><v>7</v>'),
               None)
    yield Case("shared string out of range", "sst.xlsx",
               replace_in_sheet(base, b'<c r="B2" t="n"><v>9.5</v>',
                                b'<c r="B2" t="s"><v>99999</v>'), None)
    yield Case("control character in a workbook cell", "ctl.xlsx",
               replace_in_sheet(base, b"GD1(36:1;O2)", b"GD1_x0000_(36:1;O2)"), None)
    yield Case("zip bomb (whitespace)", "bomb.xlsx",
               lambda: zip_bomb(4 * limits.XLSX_RATIO_CHECKED_FROM), "refused")
    yield Case("zip bomb (identical rows)", "rows.xlsx",
               lambda: rows_bomb(max(30_000, limits.MAX_ROWS * 2)), "refused")
    yield Case("XML entity expansion (billion laughs)", "lol.xlsx", entity_bomb(), "refused")
    yield Case("zip that lies about its sizes", "lie.xlsx", lying_sizes(10), "refused")
    yield Case("zip declaring a huge part", "huge.xlsx",
               lying_sizes(limits.MAX_XLSX_EXPANDED_BYTES + 1), "refused")
    yield Case("too many parts", "parts.xlsx", lambda: many_parts(limits.MAX_XLSX_PARTS + 1),
               "refused")
    yield Case("zip needing an unknown version", "version.xlsx", unknown_zip_version(),
               "refused")
    yield Case("not a zip behind the zip magic", "bad.xlsx", b"PK\x03\x04" + bytes(100),
               "refused")
