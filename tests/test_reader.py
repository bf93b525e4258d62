"""Reading CSV/XLSX tables (spec 2.1-2.3): encodings, delimiters, headers, structural errors."""

from __future__ import annotations

import datetime
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganglioside.errors import InputError
from ganglioside.reader import list_sheets, read_table, table_from_frame

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HEADER = "Name,RT,Volume,Log P,Anchor"
ROW = "GD1(36:1;O2),9.5,1000,1.5,T"


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


def problems_of(data, filename: str = "t.csv", **kwargs) -> list[str]:
    with pytest.raises(InputError) as raised:
        read_table(data, filename, **kwargs)
    assert raised.value.file_name == filename
    assert f"'{filename}'" in str(raised.value)
    return raised.value.problems


# --- sample files -----------------------------------------------------------------------------

def test_small_sample_strips_the_bom_and_numbers_lines():
    path = DATA / "testwork_small.csv"
    table = read_table(path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert list(table.frame.columns) == ["line", "Name", "RT", "Volume", "Log P", "Anchor"]
    assert table.frame["line"].tolist() == [2, 3, 4, 5, 6]
    assert table.frame["Name"].tolist()[0] == "GD1a(36:1;O2)"
    assert table.frame["RT"].tolist()[0] == "9.572"
    assert table.source.file_name == "testwork_small.csv"
    assert table.source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (table.source.format, table.source.data_rows, table.source.blank_rows_ignored) == (
        "csv", 5, 0)
    assert table.warnings == [] and table.extra_columns == []
    assert isinstance(table.frame.index, pd.RangeIndex)


def test_user_sample_has_323_rows():
    table = read_table(str(DATA / "testwork_user.csv"))
    assert len(table.frame) == 323
    assert table.frame["line"].tolist() == list(range(2, 325))


@pytest.mark.parametrize("make_source", [
    lambda path: path, lambda path: str(path), lambda path: path.read_bytes(),
    lambda path: io.BytesIO(path.read_bytes()), lambda path: open(path, "rb")])
def test_every_kind_of_source_reads_the_same(make_source):
    path = DATA / "testwork_small.csv"
    source = make_source(path)
    table = read_table(source, filename="x.csv" if isinstance(source, (bytes, io.BytesIO))
                       else None)
    assert table.frame["Name"].tolist() == read_table(path).frame["Name"].tolist()
    if hasattr(source, "close"):
        source.close()


def test_missing_path_is_an_input_error():
    with pytest.raises(InputError, match="cannot open"):
        read_table("/nonexistent/table.csv")


# --- encodings, delimiters, quoting -----------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_unicode_encodings(encoding):
    text = f"{HEADER},Note\nGQ1bα(36:1;O2),9.5,1000,1.5,T,µ été\n"
    data = text.encode(encoding)
    if encoding == "utf-16-le":
        data = b"\xff\xfe" + data
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    table = read_table(data, "t.csv")
    assert table.frame["Name"].tolist() == ["GQ1bα(36:1;O2)"]
    assert table.frame["Note"].tolist() == ["µ été"]


def test_cp949_korean_file():
    data = f"{HEADER},비고\nGM1(36:1;O2),9.5,1000,1.5,T,돼지 뇌 시료\n".encode("cp949")
    table = read_table(data, "korean.csv")
    assert table.extra_columns == ["비고"]
    assert table.frame["비고"].tolist() == ["돼지 뇌 시료"]


@pytest.mark.parametrize("note", ["é", "Café à la crème", "Äa Öl", "naïve µg"])
def test_latin1_file(note):
    data = f"{HEADER},Remarque\nGM1(36:1;O2),9.5,1000,1.5,T,{note}\n".encode("latin-1")
    table = read_table(data, "latin.csv")
    assert table.frame["Remarque"].tolist() == [note]


def test_windows_1252_characters():
    data = f"{HEADER},Note\nGM1(36:1;O2),9.5,1000,1.5,T,“quoted” – 5 €\n".encode("cp1252")
    assert read_table(data, "w.csv").frame["Note"].tolist() == ["“quoted” – 5 €"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters_are_sniffed(delimiter):
    lines = [delimiter.join(["Name", "RT", "Volume", "Log P", "Anchor", "Batch"]),
             delimiter.join(['"GD1(36:1;O2)"', "9.5", "1000", "1.5", "T", "b1"])]
    table = read_table(csv_bytes(*lines), "t.csv")
    assert table.frame.iloc[0, 1:].tolist() == ["GD1(36:1;O2)", "9.5", "1000", "1.5", "T", "b1"]
    assert table.decimal_comma is (delimiter == ";")


def test_semicolon_file_with_decimal_commas_types_numeric_extra_columns():
    data = csv_bytes("Name;RT;Volume;Log P;Anchor;m/z", '"GD1(36:1;O2)";9,572;1000;-0,94;T;917,5')
    table = read_table(data, "eu.csv")
    assert table.frame["RT"].tolist() == ["9,572"]  # raw; validation reads the decimal comma
    assert table.frame["m/z"].tolist() == [917.5]
    assert table.frame["m/z"].dtype == np.float64


def test_rfc4180_quoting_and_multiline_records_keep_their_start_line():
    text = (f'{HEADER},Comment\n'
            '"GD1(36:1;O2)",9.5,1000,1.5,T,"a, b"\n'
            'GM1(36:1;O2),9.6,1000,1.5,T,"first\nsecond\r\nthird"\n'
            'GM3(36:1;O2),9.7,1000,1.5,F,"say ""hi"""\n'
            '\n'
            'GT1b(36:1;O2),9.8,1000,1.5,F,\n')
    table = read_table(text.encode(), "q.csv")
    assert table.frame["line"].tolist() == [2, 3, 6, 8]
    assert table.frame["Comment"].tolist() == ["a, b", "first\nsecond\r\nthird", 'say "hi"', None]
    assert table.source.blank_rows_ignored == 1


def test_crlf_and_cr_line_endings():
    for newline in ("\r\n", "\r"):
        text = newline.join([HEADER, ROW, "", ROW]) + newline
        assert read_table(text.encode(), "t.csv").frame["line"].tolist() == [2, 4]


# --- blank records, short records -------------------------------------------------------------

def test_blank_records_are_ignored_counted_and_still_numbered():
    data = csv_bytes(HEADER, ROW, "", ",,,,", " , ,\t, ,", ROW, "   ", ROW)
    table = read_table(data, "b.csv")
    assert table.frame["line"].tolist() == [2, 6, 8]
    assert table.source.blank_rows_ignored == 4
    assert table.source.data_rows == 3
    [warning] = table.warnings
    assert (warning.code, warning.severity) == ("blank_rows_ignored", "info")
    assert "4" in warning.message and "3, 4, 5, 7" in warning.message


def test_short_record_gets_empty_cells():
    table = read_table(csv_bytes(HEADER, "GD1(36:1;O2),9.5"), "s.csv")
    assert table.frame.iloc[0, 1:].tolist() == ["GD1(36:1;O2)", "9.5", None, None, None]


def test_surplus_empty_cells_are_not_a_problem():
    table = read_table(csv_bytes(HEADER, ROW + ",,"), "s.csv")
    assert len(table.frame) == 1


# --- header names -----------------------------------------------------------------------------

def test_header_aliases_are_matched_after_normalization():
    header = "\ufeff Compound ,Retention   Time,PEAK AREA,cLogP,Training"
    table = read_table(csv_bytes(header, ROW), "h.csv")
    assert list(table.frame.columns) == ["line", "Name", "RT", "Volume", "Log P", "Anchor"]
    assert table.frame["Volume"].tolist() == ["1000"]


@pytest.mark.parametrize("aliases", [
    ("name", "rt", "volume", "log p", "anchor"),
    ("compound_name", "retention_time", "area", "log_p", "is_anchor"),
    ("COMPOUND", "Retention Time", "Peak_Area", "LogP", "ANCHOR"),
    ("Name", "RT", "peak area", "Log  P", "training")])
def test_every_alias(aliases):
    table = read_table(csv_bytes(",".join(aliases), ROW), "a.csv")
    assert table.frame.iloc[0, 1:].tolist() == ["GD1(36:1;O2)", "9.5", "1000", "1.5", "T"]


def test_extra_columns_typed_renamed_and_named():
    header = f"Sample,{HEADER}, Score ,status,,,Reasons"
    rows = ["s1,GD1(36:1;O2),9.5,1000,1.5,T,1.5,ok,x,,r",
            "s2,GM1(36:1;O2),9.6,1000,1.5,F,,bad,,,",
            "s3,GM3(36:1;O2),9.7,1000,1.5,F,−2e3,,y,,"]
    table = read_table(csv_bytes(header, *rows), "e.csv")
    assert table.extra_columns == ["Sample", "Score", "status_input", "column_9",
                                   "Reasons_input"]
    frame = table.frame
    assert list(frame.columns) == ["line", "Name", "RT", "Volume", "Log P", "Anchor",
                                   *table.extra_columns]
    assert frame["Score"].dtype == np.float64
    assert frame["Score"].tolist()[0] == 1.5 and np.isnan(frame["Score"][1])
    assert frame["Score"][2] == -2000.0
    assert frame["status_input"].tolist() == ["ok", "bad", None]
    assert frame["column_9"].tolist() == ["x", None, "y"]
    [renamed] = [w for w in table.warnings if w.code == "columns_renamed"]
    assert renamed.severity == "info"
    assert "'status' -> 'status_input'" in renamed.message
    assert "'Reasons' -> 'Reasons_input'" in renamed.message


def test_text_extra_column_keeps_cells_unchanged():
    table = read_table(csv_bytes(f"{HEADER},Note", f"{ROW}, 12 ", f"{ROW},n/a"), "t.csv")
    assert table.frame["Note"].tolist() == [" 12 ", "n/a"]


# --- structural errors (spec 2.3) -------------------------------------------------------------

@pytest.mark.parametrize("data", [b"", b"\n\n", b"  \r\n , ,\n", b"\xef\xbb\xbf"])
def test_empty_file(data):
    assert problems_of(data) == ["file is empty"]


def test_header_only_has_no_data_rows():
    assert problems_of(csv_bytes(HEADER)) == ["no data rows"]
    assert problems_of(csv_bytes(HEADER, "", ",,,,")) == ["no data rows"]


def test_missing_required_columns_lists_missing_and_found():
    problems = problems_of(csv_bytes("Name,RT,Area,LogP2", "GD1(36:1;O2),9.5,1,2"))
    assert problems == ["missing required columns: Log P, Anchor (found: Name, RT, Area, LogP2)"]


def test_two_headers_for_one_column():
    problems = problems_of(csv_bytes("Name,RT,Volume,Log P,Anchor,Area", ROW + ",5"))
    assert problems == ["columns 'Volume' and 'Area' both map to Volume"]


def test_two_identical_extra_headers():
    problems = problems_of(csv_bytes(f"{HEADER},Comment,x,y,Comment", ROW + ",a,b,c,d"))
    assert problems == ["column 'Comment' appears twice (columns 6, 9)"]


def test_records_longer_than_the_header_list_first_ten_lines():
    rows = [ROW + ",extra"] * 12 + [ROW]
    problems = problems_of(csv_bytes(HEADER, *rows))
    assert problems == ["more cells than the header on lines 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 "
                        "and 2 more"]
    assert problems_of(csv_bytes(HEADER, ROW, ROW + ",x")) == [
        "more cells than the header on line 3"]


def test_all_structural_problems_are_collected():
    header = "Name,RT,Volume,Area,Note,Note"
    problems = problems_of(csv_bytes(header, "a,1,2,3,4,5,6"))
    assert problems == [
        "missing required columns: Log P, Anchor (found: Name, RT, Volume, Area, Note, Note)",
        "columns 'Volume' and 'Area' both map to Volume",
        "column 'Note' appears twice (columns 5, 6)",
        "more cells than the header on line 2",
    ]


def test_legacy_xls_and_broken_xlsx_are_input_errors():
    assert "legacy Excel" in problems_of(b"\xd0\xcf\x11\xe0" + b"\0" * 100, "old.xls")[0]
    assert "not a readable XLSX" in problems_of(b"PK\x03\x04garbage", "bad.xlsx")[0]
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("table.csv", HEADER)
    assert problems_of(plain_zip.getvalue(), "zip.xlsx") == [
        "this is a zip archive, not an Excel workbook"]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.text(alphabet=',;\t"\n\r x1.TFGD()', max_size=200).map(
    lambda text: (HEADER + "\n" + text).encode()))
def test_any_bytes_give_a_table_or_an_input_error(data):
    try:
        table = read_table(data, "fuzz.csv")
    except InputError as error:
        assert error.problems
    else:
        assert len(table.frame) == table.source.data_rows > 0


# --- XLSX -------------------------------------------------------------------------------------

def xlsx_bytes(sheets: dict[str, list[list]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


XLSX_HEADER = ["Name", "RT", "Volume", "Log P", "Anchor"]


def test_xlsx_first_sheet_keeps_python_cell_values_and_row_numbers():
    when = datetime.datetime(2024, 5, 1, 12, 0)
    data = xlsx_bytes({
        "Peaks": [XLSX_HEADER + ["Batch"],
                  ["GD1(36:1;O2)", 9.5, 1000, 1.5, True, 3],
                  [None, None, None, None, None, None],
                  ["GM1(36:1;O2)", "9.6", None, -0.5, 0, 4.5],
                  ["GM3(36:1;O2)", when, 10, "x", "T", None]],
        "Other": [["unrelated"]]})
    table = read_table(data, "book.xlsx")
    frame = table.frame
    assert table.source.format == "xlsx"
    assert frame["line"].tolist() == [2, 4, 5]
    assert frame["RT"].tolist() == [9.5, "9.6", when]
    assert frame["Anchor"].tolist() == [True, 0, "T"]
    assert frame["Batch"].dtype == np.float64
    assert table.source.blank_rows_ignored == 1
    assert table.source.sha256 == hashlib.sha256(data).hexdigest()


def test_xlsx_named_sheet_and_sheet_list():
    data = xlsx_bytes({"First": [["nothing"]], "Peaks": [XLSX_HEADER, ["GD1(36:1;O2)", 1, 2,
                                                                       3, "T"]]})
    assert list_sheets(data) == ["First", "Peaks"]
    assert read_table(data, "b.xlsx", sheet="Peaks").frame["Name"].tolist() == ["GD1(36:1;O2)"]
    assert problems_of(data, "b.xlsx", sheet="Nope") == [
        "sheet 'Nope' not found (sheets: 'First', 'Peaks')"]


def test_xlsx_without_a_chosen_sheet_reads_the_one_sheet_with_the_columns():
    data = xlsx_bytes({"First": [["nothing"]], "Peaks": [XLSX_HEADER, ["GD1(36:1;O2)", 1, 2,
                                                                       3, "T"]]})
    table = read_table(data, "b.xlsx")
    assert table.frame["Name"].tolist() == ["GD1(36:1;O2)"]
    [warning] = table.warnings
    assert (warning.code, warning.severity) == ("sheet_chosen", "info")
    assert "'Peaks'" in warning.message and "'First'" in warning.message


def test_xlsx_sheet_without_the_columns_names_the_sheets_that_have_them():
    row = ["GD1(36:1;O2)", 1, 2, 3, "T"]
    data = xlsx_bytes({"First": [["nothing"]], "A": [XLSX_HEADER, row], "B": [XLSX_HEADER, row]})
    missing, hint = problems_of(data, "b.xlsx")
    assert missing.startswith("missing required columns")
    assert "sheets 'A' and 'B' have them" in hint and "Worksheet" in hint and "--sheet" in hint
    one = xlsx_bytes({"First": [["nothing"]], "Peaks": [XLSX_HEADER, row]})
    assert "sheet 'Peaks' has them" in problems_of(one, "b.xlsx", sheet="First")[1]


def test_list_sheets_of_csv_is_empty():
    assert list_sheets(csv_bytes(HEADER, ROW)) == []


def test_empty_xlsx_sheet():
    assert problems_of(xlsx_bytes({"Empty": []}), "e.xlsx") == ["file is empty"]


# --- in-memory frames -------------------------------------------------------------------------

def test_table_from_frame_keeps_typed_cells_and_skips_blank_rows():
    df = pd.DataFrame({"compound": ["GD1(36:1;O2)", None, "GM1(36:1;O2)"],
                       "RT": [9.5, np.nan, 9.6], "Area": [1.0, np.nan, 2.0],
                       "logP": [1.0, np.nan, 2.0], "Anchor": [True, None, False],
                       "truth_kind": ["correct", None, "fragment"]})
    before = df.copy()
    table = table_from_frame(df)
    pd.testing.assert_frame_equal(df, before)
    assert table.frame["line"].tolist() == [2, 4]
    assert table.frame["RT"].tolist() == [9.5, 9.6]
    assert table.extra_columns == ["truth_kind"]
    assert table.source.data_rows == 2 and table.source.blank_rows_ignored == 1
    assert table.source.file_name is None and table.source.sha256 is None


def test_table_from_frame_structural_errors():
    with pytest.raises(InputError, match="missing required columns: Anchor"):
        table_from_frame(pd.DataFrame({"Name": ["x"], "RT": [1.0], "Volume": [1.0],
                                       "Log P": [1.0]}))
