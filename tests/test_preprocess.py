"""Step 1: cell rules (2.4), row problems (2.5), parsed fields and counts, warnings (13.6)."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganglioside.preprocess import preprocess
from ganglioside.reader import read_table, table_from_frame
from ganglioside.validation import check_cells, parse_numbers

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HEADER = "Name,RT,Volume,Log P,Anchor"

ROW_COLUMNS = ["row_id", "line", "Name", "RT", "Volume", "Log P", "Anchor"]
DERIVED_COLUMNS = ["input_problems", "prefix", "core", "base_prefix", "category", "suffix",
                   "tail", "isomer", "modifiers", "oac_count", "carbons", "double_bonds",
                   "oxygens", "sugar_count", "sialic_acid_count", "can_have_isomers"]
INTERNAL_COLUMNS = ["_eligible", "_neutral_core", "_non_oac_key"]


def run(*lines: str, header: str = HEADER):
    data = ("\n".join([header, *lines]) + "\n").encode()
    return preprocess(read_table(data, "t.csv"))


def problems(*lines: str, header: str = HEADER) -> list[str | None]:
    return run(*lines, header=header).rows["input_problems"].tolist()


def one_problem(name="GD1(36:1;O2)", rt="9.5", volume="1000", log_p="1.5", anchor="T"):
    [note] = problems(",".join([name, rt, volume, log_p, anchor]))
    return note


# --- sample files -----------------------------------------------------------------------------

def test_worked_example_parse_table():
    result = preprocess(read_table(DATA / "testwork_small.csv"))
    rows = result.rows
    expected = {
        "prefix": ["GD1a", "GM1a", "GM3", "GD3", "GT1b"],
        "isomer": ["a", "a", None, None, "b"],
        "base_prefix": ["GD1", "GM1", "GM3", "GD3", "GT1"],
        "category": ["GD", "GM", "GM", "GD", "GT"],
        "sugar_count": [6, 5, 3, 4, 7],
        "sialic_acid_count": [2, 1, 1, 2, 3],
        "can_have_isomers": [True, False, False, False, True],
    }
    for column, values in expected.items():
        assert rows[column].tolist() == values, column
    assert rows["input_problems"].isna().all()
    assert rows["line"].tolist() == [2, 3, 4, 5, 6]
    assert rows["Anchor"].tolist() == [True, False, False, True, True]
    assert rows["RT"].tolist() == [9.572, 10.452, 10.606, 10.126, 8.701]
    assert rows["Log P"].tolist() == [1.53, 4.00, 7.74, 5.27, -0.94]
    assert rows["tail"].unique().tolist() == ["36:1;O2"]
    assert result.warnings == []
    assert result.modifier_counts.shape == (5, 0)


def test_user_sample():
    result = preprocess(read_table(DATA / "testwork_user.csv"))
    rows = result.rows
    assert len(rows) == 323
    assert rows["Anchor"].sum() == 49
    assert rows["input_problems"].isna().all() and rows["_eligible"].all()
    assert rows["prefix"].nunique() == 29
    assert rows["can_have_isomers"].sum() == 179
    assert rows["category"].ne("Unknown").all()
    assert rows["sugar_count"].notna().all()
    assert [w.code for w in result.warnings] == ["duplicate_names"]
    counts = result.modifier_counts
    assert set(counts.columns) == {"Hex", "HexNAc", "OAc", "dHex"}
    assert (counts["OAc"] == rows["oac_count"].astype(int)).all()


def test_columns_order_and_dtypes():
    result = run("GD1a+dHex+2OAc(36:1;O2),9.5,1000,1.5,T", ",9.6,,1.5,F",
                 header=f"{HEADER},Batch,Note")
    rows = result.rows
    assert list(rows.columns) == [*ROW_COLUMNS, "Batch", "Note", *DERIVED_COLUMNS,
                                  *INTERNAL_COLUMNS]
    assert str(rows["row_id"].dtype) == "int64" and str(rows["line"].dtype) == "int64"
    for column in ("RT", "Volume", "Log P"):
        assert rows[column].dtype == np.float64
    for column in ("Name", "Anchor", "input_problems", "prefix", "core", "base_prefix",
                   "category", "suffix", "tail", "isomer", "modifiers", "_non_oac_key"):
        assert rows[column].dtype == object, column
    for column in ("oac_count", "carbons", "double_bonds", "oxygens", "sugar_count",
                   "sialic_acid_count", "_neutral_core"):
        assert str(rows[column].dtype) == "Int64", column
    assert rows["can_have_isomers"].dtype == bool and rows["_eligible"].dtype == bool
    first = rows.iloc[0]
    assert (first["modifiers"], first["oac_count"], first["sugar_count"], first["_neutral_core"],
            first["_non_oac_key"]) == ("dHex+2OAc", 2, 7, 4, "dHex")


def test_invalid_rows_have_null_derived_columns():
    rows = run("GD1(36:1;O2),,1000,1.5,T", ",9.5,,1,").rows
    text_columns = ["prefix", "core", "base_prefix", "category", "suffix", "tail", "isomer",
                    "modifiers", "_non_oac_key"]
    int_columns = ["oac_count", "carbons", "double_bonds", "oxygens", "sugar_count",
                   "sialic_acid_count", "_neutral_core"]
    assert rows["Name"].tolist() == ["GD1(36:1;O2)", None]
    assert rows["Anchor"].tolist() == [True, None]
    for column in text_columns:
        assert rows[column].tolist() == [None, None], column
    for column in int_columns:
        assert rows[column].isna().all(), column
    assert rows["can_have_isomers"].tolist() == [False, False]
    assert rows["_eligible"].tolist() == [False, False]


def test_the_callers_table_is_not_modified():
    table = read_table(DATA / "testwork_small.csv")
    before = table.frame.copy()
    preprocess(table)
    pd.testing.assert_frame_equal(table.frame, before)


# --- row problems (spec 2.5) ------------------------------------------------------------------

@pytest.mark.parametrize("cells, note", [
    (dict(name=""), "line 2, Name: empty"),
    (dict(name="  \u200b "), "line 2, Name: empty"),
    (dict(name="G" * 250 + "(36:1;O2)"), "line 2, Name: longer than 256 characters"),
    (dict(name="GD1"), "line 2, Name: 'GD1' cannot be parsed: no lipid part in parentheses"),
    (dict(name="GD1+0OAc(36:1;O2)"),
     "line 2, Name: 'GD1+0OAc(36:1;O2)' cannot be parsed: modifier count must be at least 1"),
    (dict(rt=""), "line 2, RT: missing"),
    (dict(rt="  "), "line 2, RT: missing"),
    (dict(rt="abc"), "line 2, RT: 'abc' is not a number"),
    (dict(rt="0"), "line 2, RT: 0 is not positive"),
    (dict(rt="-1.5"), "line 2, RT: -1.5 is not positive"),
    (dict(rt="\u22122"), "line 2, RT: -2 is not positive"),
    (dict(rt="nan"), "line 2, RT: 'nan' is not a number"),
    (dict(rt="inf"), "line 2, RT: 'inf' is not a number"),
    (dict(rt="1e999"), "line 2, RT: '1e999' is not a number"),
    (dict(rt='"1,000"'), "line 2, RT: '1,000' is not a number"),
    (dict(rt="1 000"), "line 2, RT: '1 000' is not a number"),
    (dict(rt="1_000"), "line 2, RT: '1_000' is not a number"),
    (dict(rt="0x10"), "line 2, RT: '0x10' is not a number"),
    (dict(volume="big"), "line 2, Volume: 'big' is not a number"),
    (dict(volume="-5"), "line 2, Volume: -5 is negative"),
    (dict(log_p=""), "line 2, Log P: missing"),
    (dict(log_p="?"), "line 2, Log P: '?' is not a number"),
    (dict(anchor=""), "line 2, Anchor: missing"),
    (dict(anchor="maybe"),
     "line 2, Anchor: 'maybe' is not one of T/F, true/false, 1/0, yes/no, y/n"),
    (dict(anchor="2"), "line 2, Anchor: '2' is not one of T/F, true/false, 1/0, yes/no, y/n"),
])
def test_each_row_problem_note(cells, note):
    assert one_problem(**cells) == note


def test_all_problems_of_a_row_in_column_order():
    note = one_problem(name="", rt="x", volume="-1", log_p="", anchor="?")
    assert note == ("line 2, Name: empty; line 2, RT: 'x' is not a number; "
                    "line 2, Volume: -1 is negative; line 2, Log P: missing; "
                    "line 2, Anchor: '?' is not one of T/F, true/false, 1/0, yes/no, y/n")


@pytest.mark.parametrize("text, value", [
    ("9.5", 9.5), (" 9.5 ", 9.5), ("+9.5", 9.5), ("1e1", 10.0), ("1E+1", 10.0), (".5", 0.5),
    ("5.", 5.0), ("2.5e-1", 0.25)])
def test_accepted_numbers(text, value):
    rows = run(f"GD1(36:1;O2),{text},{text},{text},T").rows
    assert rows["input_problems"].isna().all()
    assert rows[["RT", "Volume", "Log P"]].iloc[0].tolist() == [value] * 3


def test_unicode_minus_and_empty_volume():
    rows = run("GD1(36:1;O2),9.5,,\u22120.94,T").rows
    assert rows["input_problems"].isna().all()
    assert rows["Log P"][0] == -0.94 and np.isnan(rows["Volume"][0])


@pytest.mark.parametrize("text, value", [
    ("T", True), ("t", True), (" TRUE ", True), ("1", True), ("Yes", True), ("y", True),
    ("F", False), ("false", False), ("0", False), ("NO", False), ("n", False)])
def test_anchor_vocabulary(text, value):
    assert run(f"GD1(36:1;O2),9.5,1,1,{text}").rows["Anchor"].tolist() == [value]


def test_name_is_normalized():
    rows = run("  ＧＤ１ａ(36:1;O2)\u200b ,9.5,1,1,T", "GD1a-alpha (36:1; O2),9.5,1,1,T").rows
    assert rows["Name"].tolist() == ["GD1a(36:1;O2)", "GD1a-alpha (36:1; O2)"]
    assert rows["prefix"].tolist() == ["GD1a", "GD1aα"]
    assert rows["suffix"].tolist() == ["36:1;O2", "36:1;O2"]


def test_semicolon_file_reads_decimal_commas():
    header = "Name;RT;Volume;Log P;Anchor"
    result = run('"GD1(36:1;O2)";9,572;1000;-0,94;T', '"GM1(36:1;O2)";1.234,5;1;1;F',
                 header=header)
    rows = result.rows
    assert rows["RT"][0] == 9.572 and rows["Log P"][0] == -0.94
    assert rows["input_problems"].tolist() == [None, "line 3, RT: '1.234,5' is not a number"]


def test_comma_file_does_not_read_decimal_commas():
    assert one_problem(rt='"9,5"') == "line 2, RT: '9,5' is not a number"


# --- XLSX and in-memory cells -----------------------------------------------------------------

def test_xlsx_cell_rules():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    rows = [["Name", "RT", "Volume", "Log P", "Anchor"],
            ["GD1(36:1;O2)", 9.5, 1000, -1, True],
            ["GD1(36:1;O2)", 9.5, None, 1, 1],
            ["GD1(36:1;O2)", 9.5, 10, 1.5, 0],
            ["GD1(36:1;O2)", True, 10, 1.5, 2],
            ["GD1(36:1;O2)", datetime.datetime(2024, 1, 2), 10, "#DIV/0!", "yes"],
            [12345, 9.5, 10, 1.5, "F"]]
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = preprocess(read_table(buffer.getvalue(), "b.xlsx"))
    out = result.rows
    assert out["Anchor"].tolist()[:3] == [True, True, False]
    assert out["RT"].tolist()[:3] == [9.5, 9.5, 9.5]
    assert np.isnan(out["Volume"][1])
    assert out["input_problems"].tolist()[:3] == [None, None, None]
    assert out["input_problems"][3] == (
        "line 5, RT: 'True' is not a number; "
        "line 5, Anchor: '2' is not one of T/F, true/false, 1/0, yes/no, y/n")
    assert out["input_problems"][4] == ("line 6, RT: '2024-01-02 00:00:00' is not a number; "
                                        "line 6, Log P: '#DIV/0!' is not a number")
    assert out["input_problems"][5] == (
        "line 7, Name: '12345' cannot be parsed: no lipid part in parentheses")


def test_in_memory_frame_with_typed_columns():
    df = pd.DataFrame({"Name": ["GD1(36:1;O2)", "GM1(36:1;O2)", "GM3(36:1;O2)"],
                       "RT": [9.5, -1.0, np.inf], "Volume": [1.0, np.nan, 2.0],
                       "Log P": [1.0, 2.0, 3.0], "Anchor": ["T", "F", "T"],
                       "flag": [True, False, True]})
    result = preprocess(table_from_frame(df))
    assert result.rows["input_problems"].tolist() == [
        None, "line 3, RT: -1 is not positive", "line 4, RT: 'inf' is not a number"]
    bools = pd.DataFrame({**{column: df[column] for column in ("Name", "Log P", "Volume")},
                          "RT": [True, False, True], "Anchor": [True, False, True]})
    rows = preprocess(table_from_frame(bools)).rows
    assert rows["Anchor"].tolist() == [True, False, True]
    assert rows["input_problems"][0] == "line 2, RT: 'True' is not a number"


# --- modifier counts and warnings -------------------------------------------------------------

def test_modifier_counts_per_row():
    result = run("GD1+OAc+OAc+dHex(36:1;O2),9.5,1,1,T", "GD1+2OAc(36:1;O2),9.5,1,1,T",
                 "GM1(36:1;O2),9.5,1,1,T", "GM1+Hex(36:1;O2),,1,1,T")
    counts = result.modifier_counts
    assert counts.index.tolist() == [0, 1, 2, 3]
    assert sorted(counts.columns) == ["OAc", "dHex"]  # Hex only on an invalid row
    assert counts["OAc"].tolist() == [2, 2, 0, 0]
    assert counts["dHex"].tolist() == [1, 0, 0, 0]


def test_warnings_in_order_with_row_ids():
    lines = ["GD1(36:1;O2),9.5,1,1,T", "", "Cer(36:1;O2),9.5,1,1,T", "GD1+Sia2(36:1;O2),9,1,1,F",
             "GD1(36:1;O2),,1,1,T", "GD1A(36:1;O2),9.5,1,1,T", "GD1(36:1;O2),9.7,1,1,T",
             "Cer+Foo(36:1;O2),9.5,1,1,T"]
    result = run(*lines)
    codes = [w.code for w in result.warnings]
    assert codes == ["blank_rows_ignored", "invalid_rows", "unknown_head_group",
                     "unknown_modifier", "duplicate_names"]
    by_code = {w.code: w for w in result.warnings}
    invalid = by_code["invalid_rows"]
    assert (invalid.severity, invalid.row_ids) == ("warning", (3,))
    assert "line 6" in invalid.message
    head = by_code["unknown_head_group"]
    assert head.row_ids == (1, 4, 6) and "Cer, GD1A" in head.message
    assert "lines 4, 7, 9" in head.message
    modifier = by_code["unknown_modifier"]
    assert modifier.row_ids == (2, 6) and "Sia2, Foo" in modifier.message
    duplicate = by_code["duplicate_names"]
    assert duplicate.severity == "info"
    assert duplicate.row_ids == (0, 3, 5)
    assert duplicate.message == ("1 name occurs more than once (3 rows, all kept: lines 2, 6, 8): "
                                 "GD1(36:1;O2)")


def test_warning_lists_show_ten_lines_then_the_rest():
    rows = [f"GD1(36:1;O2),{'' if i % 2 else '9.5'},1,1,T" for i in range(30)]
    invalid = next(w for w in run(*rows).warnings if w.code == "invalid_rows")
    assert "lines 3, 5, 7, 9, 11, 13, 15, 17, 19, 21 and 5 more" in invalid.message
    assert len(invalid.row_ids) == 15 and invalid.message.startswith("15 rows")


def test_parsing_uses_one_parse_per_distinct_name(monkeypatch):
    import ganglioside.preprocess as module

    calls = []
    real = module.parse_name
    monkeypatch.setattr(module, "parse_name", lambda text: calls.append(text) or real(text))
    run(*["GD1(36:1;O2),9.5,1,1,T"] * 50, *["bad,9.5,1,1,T"] * 20)
    assert sorted(calls) == ["GD1(36:1;O2)", "bad"]


# --- properties of the cell rules -------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_written_floats_read_back_exactly(value):
    texts = [repr(value), f"{value:e}", f"{value:.17g}", repr(value).replace("-", "\u2212")]
    parsed = parse_numbers(pd.Series(texts, dtype=object))
    assert not parsed.invalid.any() and not parsed.missing.any()
    assert parsed.values.tolist() == [float(text.replace("\u2212", "-")) for text in texts]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(*[st.text(max_size=12)] * 5), min_size=1, max_size=8))
def test_any_cell_text_gives_values_or_notes(records):
    frame = pd.DataFrame(records, columns=["Name", "RT", "Volume", "Log P", "Anchor"],
                         dtype=object)
    frame.insert(0, "line", range(2, len(records) + 2))
    checked = check_cells(frame)
    for row, note in zip(checked.values.itertuples(index=False), checked.problems):
        if note is None:
            assert row.RT > 0 and np.isfinite(row.RT) and np.isfinite(row._3)
            assert row.Anchor in (True, False)
        else:
            assert note.startswith("line ")


def test_object_cells_of_an_in_memory_frame():
    df = pd.DataFrame({"Name": ["GD1(36:1;O2)"] * 4,
                       "RT": pd.Series([10 ** 400, pd.NaT, np.float32(2.5), np.int64(3)],
                                       dtype=object),
                       "Volume": [1.0] * 4, "Log P": [1.0] * 4,
                       "Anchor": pd.Series([np.True_, 1.0, 0, None], dtype=object)})
    rows = preprocess(table_from_frame(df)).rows
    assert rows["input_problems"].tolist() == [
        f"line 2, RT: '{10 ** 400}' is not a number", "line 3, RT: missing", None,
        "line 5, Anchor: missing"]
    assert rows["RT"].tolist()[2:] == [2.5, 3.0]
    assert rows["Anchor"].tolist()[:3] == [True, True, False]
