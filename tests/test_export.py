"""Exports (spec 14): CSV, XLSX, JSON and the JSON round trip used by the run store."""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from xml.etree import ElementTree
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from pandas.testing import assert_frame_equal

from ganglioside.analysis import analyze
from ganglioside.export import (export_file_name, result_from_json, result_tables, to_csv,
                                to_json, to_xlsx)
from ganglioside.params import AnalysisParams
from ganglioside.reader import read_table
from ganglioside.result import AnalysisResult, AnalysisWarning

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NASTY_NAMES = ["=HYPERLINK(\"http://x\")", "+GD1(36:1;O2)", "-2+3", "@SUM(A1)", "GQ1bα(36:1;O2)",
               "\tGM1(36:1;O2)", "\rGM3(36:1;O2)", "#N/A"]
N = len(NASTY_NAMES)
GROUP_COLUMNS = [
    "prefix", "n_rows", "n_anchors", "predictors", "cv_method", "r2_cv", "rmse_cv", "r2_train",
    "adjusted_r2", "bayes_alpha", "bayes_lambda", "intercept_std", "intercept_raw",
    *[f"{stat}_{predictor}" for predictor in ("log_p", "carbons", "double_bonds")
      for stat in ("coef_std", "slope_raw", "mean", "sd")],
    "equation_std", "equation_raw", "scale_s", "accepted", "reason", "notes", "n_valid",
    "n_outlier", "n_unverified", "n_anchor_disagrees"]
OAC_COLUMNS = ["oac_row_id", "oac_name", "oac_count", "base_row_id", "base_name", "rt_oac",
               "rt_base", "rt_shift", "verdict", "note"]
EVENT_COLUMNS = ["event_id", "tail", "parent_row_id", "parent_name", "fragment_row_ids",
                 "n_fragments", "rt_min", "rt_max", "summed_volume"]


def _ints(values) -> pd.arrays.IntegerArray:
    return pd.array(values, dtype="Int64")


def _text(values) -> pd.Series:
    return pd.Series(values, dtype=object)


def make_rows() -> pd.DataFrame:
    """A rows table with every 13.1 column, two extra columns and awkward values."""
    columns = {
        "row_id": np.arange(N, dtype=np.int64), "line": np.arange(N, dtype=np.int64) + 2,
        "Name": _text(NASTY_NAMES),
        "RT": [0.1 + 0.2, 9.572, 10.0, 1e-7, 12.3456789012345, 8.0, np.nan, 11.25],
        "Volume": [530172.0, 1e20, np.nan, 0.0, 12.5, 3.0, 1.0, 7.0],
        "Log P": [-0.94, -5.88, 1.53, 2.0, -0.0, 7.74, np.nan, -1e-5],
        "Anchor": _text([True, False, True, None, False, True, False, False]),
        "Comment": _text(["=1+1", "-note", None, "plain, with comma", 'quote "q"',
                          "line\nbreak", "α", "@home"]),
        "Batch": [1.0, 2.5, np.nan, -3.0, 4.0, 5.0, 6.0, 7.0],
        "input_problems": _text([None] * 6 + ["line 8, RT: missing", None]),
        "prefix": _text(["GD1", "GD1", "GD1+OAc", "GM1", "GQ1bα", "GM1", None, "GM3"]),
        "core": _text(["GD1", "GD1", "GD1", "GM1", "GQ1bα", "GM1", None, "GM3"]),
        "base_prefix": _text(["GD1", "GD1", "GD1", "GM1", "GQ1", "GM1", None, "GM3"]),
        "category": _text(["GD", "GD", "GD", "GM", "GQ", "GM", None, "GM"]),
        "suffix": _text(["36:1;O2"] * 6 + [None, "d18:1/18:0"]),
        "tail": _text(["36:1;O2"] * 6 + [None, "36:1;O2"]),
        "isomer": _text([None, None, None, None, "bα", None, None, None]),
        "modifiers": _text(["", "", "OAc", "", "", "", None, ""]),
        "oac_count": _ints([0, 0, 1, 0, 0, 0, None, 0]),
        "carbons": _ints([36] * 6 + [None, 36]),
        "double_bonds": _ints([1] * 6 + [None, 1]),
        "oxygens": _ints([2] * 6 + [None, 2]),
        "rule1_status": _text(["valid", "outlier", "unverified", "valid", "outlier", "valid",
                               None, "unverified"]),
        "anchor_disagrees": [False, False, False, False, False, True, False, False],
        "predicted_rt": [0.3, 9.1, np.nan, 1e-7, 12.0, 7.5, np.nan, np.nan],
        "residual": [4e-17, 0.472, np.nan, 0.0, 0.3456789012345, 0.5, np.nan, np.nan],
        "z": [1e-15, np.inf, np.nan, 0.0, -np.inf, 2.5, np.nan, np.nan],
        "rule1_scale": [0.05, 0.05, np.nan, 0.279, 0.0, 0.2, np.nan, np.nan],
        "rule1_series_offset": [np.nan, 1.744, np.nan, np.nan, -0.245, np.nan, np.nan, np.nan],
        "sugar_count": _ints([6, 6, 6, 5, 8, 5, None, 3]),
        "sialic_acid_count": _ints([2, 2, 2, 1, 4, 1, None, 1]),
        "can_have_isomers": [True, True, True, False, True, False, False, False],
        "isomer_peaks": [True, True, False, False, False, False, False, False],
        "name_peak_count": _ints([2, 2, 1, 1, 1, 1, None, 1]),
        "peak_index": _ints([1, 2, 1, 1, 1, 1, None, 1]),
        "rule4_verdict": _text([None, None, "consistent", None, None, None, None, None]),
        "rule4_base_row_id": _ints([None, None, 0, None, None, None, None, None]),
        "rule4_rt_shift": [np.nan, np.nan, 0.1 + 0.2, np.nan, np.nan, np.nan, np.nan, np.nan],
        "rule5_role": _text(["parent", "fragment", "none", "none", "none", "none", None,
                             None]),
        "rule5_event_id": _ints([1, 1, None, None, None, None, None, None]),
        "rule5_heads_event_id": _ints([1, None, None, None, None, None, None, None]),
        "rule5_parent_row_id": _ints([None, 0, None, None, None, None, None, None]),
        "rule5_rt_diff": [np.nan, -0.08, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan],
        "status": _text(["valid", "fragment", "unverified", "valid", "outlier", "outlier",
                         "invalid", "unverified"]),
        "reasons": _text(["Rule 1: fits model GD1 (z = 0.000)", "Rule 5: in-source fragment",
                          "-starts with minus", "", "=cmd|' /C calc'!A0", "x | y",
                          "line 8, RT: missing", "Rule 1: unverified"]),
    }
    return pd.DataFrame(columns)


def make_groups() -> pd.DataFrame:
    groups = {column: np.full(2, np.nan) for column in GROUP_COLUMNS}
    groups.update({"prefix": pd.Series(["=GD1", "GM1"], dtype="str"), "n_rows": np.array([37, 3]),
                   "n_anchors": np.array([23, 1]), "predictors": _text(["Log P; double bonds", ""]),
                   "cv_method": _text(["5-fold", None]), "equation_std": _text(
                       ["RT = 10.7740 + 1.9231*z(Log P)", None]),
                   "equation_raw": _text(["RT = 7.2894 + 1.3519*Log P - 0.0721*double bonds",
                                          None]),
                   "accepted": np.array([True, False]),
                   "reason": _text(["", "1 of 3 required anchors"]),
                   "notes": _text(["", ""]), "n_valid": np.array([31, 1]),
                   "n_outlier": np.array([6, 0]), "n_unverified": np.array([0, 2]),
                   "n_anchor_disagrees": np.array([0, 0])})
    groups["r2_cv"][0], groups["rmse_cv"][0] = 0.9793, 0.279
    groups["slope_raw_log_p"][0], groups["intercept_raw"][0] = 1.3519, 7.2894
    groups["scale_s"][0] = 0.1 + 0.2
    return pd.DataFrame(groups)[GROUP_COLUMNS]


def make_oac_pairs() -> pd.DataFrame:
    return pd.DataFrame({
        "oac_row_id": np.array([2]), "oac_name": _text(["GD1+OAc(36:1;O2)"]),
        "oac_count": np.array([1]), "base_row_id": _ints([0]),
        "base_name": _text(["=HYPERLINK(\"http://x\")"]), "rt_oac": [10.0],
        "rt_base": [0.1 + 0.2], "rt_shift": [9.7], "verdict": _text(["consistent"]),
        "note": _text(["Rule 4: consistent, RT +9.700 min vs row 0"])})


def make_events() -> pd.DataFrame:
    ids = _text([[1, 5], [2]])
    return pd.DataFrame({
        "event_id": np.array([1, 2]), "tail": _text(["36:1;O2", "38:1;O2"]),
        "parent_row_id": np.array([0, 3]), "parent_name": _text(["+GD1(36:1;O2)", "GM1"]),
        "fragment_row_ids": ids, "n_fragments": np.array([2, 1]),
        "rt_min": [10.0, 9.9], "rt_max": [10.09, 10.0], "summed_volume": [2100.0, 650.5]})


def make_levels() -> pd.DataFrame:
    return pd.DataFrame({"level": pd.Series(["pooled", "self"], dtype="str"),
                         "n": np.array([49, 3]), "r2_cv": [0.9655, np.nan],
                         "rmse_cv": [0.322, 0.1 + 0.2]})


def make_checks() -> pd.DataFrame:
    return pd.DataFrame({"check": _text(["sugar_order"]), "subject": _text(["=36:1;O2"]),
                         "n": np.array([10]), "value": [-0.74], "expected": _text(["r < 0"]),
                         "flagged": np.array([True]), "note": _text(["Pearson r = -0.74"])})


def make_result(**changes) -> AnalysisResult:
    parts = dict(
        rows=make_rows(), groups=make_groups(), oac_pairs=make_oac_pairs(),
        fragment_events=make_events(), model_levels=make_levels(),
        chemistry_checks=make_checks(),
        summary={"total_rows": N, "anchors": np.int64(3), "valid": 2, "success_rate": 0.1 + 0.2,
                 "groups": 2},
        warnings=[AnalysisWarning("invalid_rows", "warning", "1 invalid row (line 8)", (6,)),
                  AnalysisWarning("few_anchors", "info", "=CV R² 0.998 from only 3 anchors",
                                  (), "=GD1")],
        parameters=AnalysisParams(outlier_threshold=3.0, sample_type="porcine"),
        provenance={"input_file_name": "my data.csv", "input_sha256": "ab" * 32,
                    "input_format": "csv", "input_rows": N, "blank_rows_ignored": 0,
                    "algorithm_version": "1.0",
                    "library_versions": {"python": "3.11", "pandas": "3.1"},
                    "started_at": "2025-11-28T21:35:07Z", "finished_at": "2025-11-28T21:35:08Z"})
    parts.update(changes)
    return AnalysisResult(**parts)


def assert_results_equal(restored: AnalysisResult, original: AnalysisResult) -> None:
    assert list(result_tables(restored)) == list(result_tables(original))
    for name, table in result_tables(original).items():
        assert_frame_equal(getattr(restored, name), table, check_exact=True)
    assert restored.summary == original.summary
    assert restored.warnings == original.warnings
    assert restored.parameters == original.parameters
    assert restored.provenance == original.provenance


def _with_infinities_as_nan(result: AnalysisResult) -> AnalysisResult:
    rows = result.rows.copy()
    rows["z"] = rows["z"].replace([np.inf, -np.inf], np.nan)
    return make_result(rows=rows)


# --- file names -------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "kind", "expected"), [
    ("testwork_user.csv", "csv", "testwork_user_results.csv"),
    ("run.2025.xlsx", "xlsx", "run.2025_results.xlsx"),
    (None, "json", "ganglioside_results.json"),
    ("", "csv", "ganglioside_results.csv"),
    ("C:\\Users\\me\\peaks.csv", "csv", "peaks_results.csv"),
    ("dir/sub/peaks", "json", "peaks_results.json"),
    ('bad:"name"?.csv', "csv", "bad__name___results.csv"),
])
def test_export_file_name(name, kind, expected):
    assert export_file_name(name, kind) == expected


def test_export_file_name_from_result_and_rejects_unknown_kind():
    assert export_file_name(make_result(), "xlsx") == "my data_results.xlsx"
    assert export_file_name(make_result(provenance={}), "csv") == "ganglioside_results.csv"
    with pytest.raises(ValueError, match="unknown export kind"):
        export_file_name("a.csv", "pdf")


# --- JSON -------------------------------------------------------------------------------------

def test_json_is_strict_and_has_the_spec_keys():
    data = to_json(make_result())
    document = json.loads(data, parse_constant=lambda name: pytest.fail(f"non-strict {name}"))
    assert list(document) == ["format", "algorithm_version", "parameters", "provenance",
                              "summary", "warnings", "rows", "groups", "oac_pairs",
                              "fragment_events", "model_levels", "chemistry_checks",
                              "column_types"]
    assert document["format"] == "ganglioside-analysis-result"
    assert document["algorithm_version"] == "2.1" == make_result().parameters.algorithm_version
    assert document["parameters"]["outlier_threshold"] == 3.0
    assert document["warnings"][0] == {"code": "invalid_rows", "severity": "warning",
                                       "message": "1 invalid row (line 8)", "row_ids": [6],
                                       "prefix": None}
    assert list(document["rows"][0]) == list(make_rows().columns)
    assert document["fragment_events"][0]["fragment_row_ids"] == [1, 5]
    assert document["summary"]["anchors"] == 3
    assert document["column_types"]["rows"]["oac_count"] == "Int64"
    assert document["column_types"]["groups"]["prefix"] == "str"
    assert list(document["column_types"]["fragment_events"]) == EVENT_COLUMNS


def test_json_writes_non_finite_and_missing_as_null_and_text_unchanged():
    rows = json.loads(to_json(make_result()))["rows"]
    assert [row["z"] for row in rows[:3]] == [1e-15, None, None]
    assert rows[4]["z"] is None and rows[6]["RT"] is None
    assert rows[3]["Anchor"] is None and rows[0]["Anchor"] is True
    assert rows[0]["Name"] == "=HYPERLINK(\"http://x\")" and rows[4]["Name"] == "GQ1bα(36:1;O2)"
    assert rows[6]["oac_count"] is None and rows[0]["oac_count"] == 0
    assert rows[0]["can_have_isomers"] is True


def test_json_is_utf8_without_escapes_and_floats_are_shortest_round_trip():
    text = to_json(make_result()).decode("utf-8")
    assert "GQ1bα" in text
    assert '"RT":0.30000000000000004' in text
    assert '"Volume":1e+20' in text
    rows = json.loads(text)["rows"]
    assert rows[4]["RT"] == 12.3456789012345 and rows[0]["residual"] == 4e-17


def test_json_round_trip_restores_every_table_with_its_dtypes():
    original = make_result()
    restored = result_from_json(to_json(original))
    expected = _with_infinities_as_nan(original)
    expected.summary = {**original.summary, "anchors": 3}
    assert_results_equal(restored, expected)
    assert restored.rows["oac_count"].dtype == "Int64"
    assert restored.rows["row_id"].dtype == np.int64
    assert restored.rows["Name"].dtype == object and restored.rows["Anchor"].dtype == object
    assert restored.rows["Anchor"].tolist()[:4] == [True, False, True, None]
    assert restored.rows["Comment"].tolist()[2] is None
    assert restored.rows["Batch"].dtype == np.float64
    assert restored.fragment_events["fragment_row_ids"].tolist() == [[1, 5], [2]]
    assert restored.groups["prefix"].dtype == "str" and restored.model_levels["n"].dtype == np.int64
    assert isinstance(restored.warnings[0], AnalysisWarning)
    assert restored.parameters.sample_type == "porcine"


def test_json_round_trip_is_bit_identical_for_finite_floats():
    values = np.random.default_rng(7).normal(scale=1e3, size=N) ** 3
    rows = make_rows().assign(RT=values, residual=values / 7)
    restored = result_from_json(to_json(make_result(rows=rows)))
    assert np.array_equal(restored.rows["RT"].to_numpy().view(np.int64), values.view(np.int64))
    assert np.array_equal(restored.rows["residual"].to_numpy(), values / 7)


def test_json_escapes_every_character_json_requires():
    rows = make_rows()
    awkward = ["back\\slash", "ctrl\x01char\x1f", 'q"uote', "tab\there", "line\u2028sep",
               "nul\x00", "\r\n", "}{],"]
    rows["Comment"] = pd.Series(awkward, dtype=object)
    original = make_result(rows=rows)
    data = to_json(original)
    assert json.loads(data)["rows"][1]["Comment"] == awkward[1]
    restored = result_from_json(data)
    assert restored.rows["Comment"].tolist() == awkward


def test_json_round_trip_keeps_columns_of_empty_tables():
    empty = make_result(oac_pairs=make_oac_pairs().iloc[:0], groups=make_groups().iloc[:0],
                        fragment_events=make_events().iloc[:0], warnings=[],
                        model_levels=pd.DataFrame(), chemistry_checks=pd.DataFrame())
    restored = result_from_json(to_json(empty))
    for table, columns in (("oac_pairs", OAC_COLUMNS), ("groups", GROUP_COLUMNS),
                           ("fragment_events", EVENT_COLUMNS), ("model_levels", [])):
        frame = getattr(restored, table)
        assert list(frame.columns) == columns and len(frame) == 0
        assert_frame_equal(frame, getattr(empty, table).reset_index(drop=True),
                           check_index_type=False)


def test_result_from_json_rejects_other_documents():
    with pytest.raises(ValueError, match="ganglioside-analysis-result"):
        result_from_json(b'{"format": "something else"}')
    with pytest.raises(ValueError):
        result_from_json(b"[1, 2]")


def test_json_of_a_large_result_is_strict_and_restores(monkeypatch):
    monkeypatch.setattr("ganglioside.export.CHUNK_ROWS", 3)  # several chunks per table
    rows = pd.concat([make_rows()] * 4, ignore_index=True).assign(row_id=np.arange(4 * N))
    original = make_result(rows=rows)
    document = json.loads(to_json(original))
    assert [row["row_id"] for row in document["rows"]] == list(range(4 * N))
    restored = result_from_json(to_json(original))
    assert_frame_equal(restored.rows.drop(columns="z"), rows.drop(columns="z"))


# --- CSV --------------------------------------------------------------------------------------

def _csv_records(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_has_bom_header_crlf_and_one_record_per_row():
    data = to_csv(make_result())
    assert data.startswith(b"\xef\xbb\xbfrow_id,line,Name,RT,Volume,Log P,Anchor,Comment,Batch,")
    assert b"\r\n" in data
    records = _csv_records(data)
    assert records[0] == list(make_rows().columns)
    assert len(records) == N + 1 and all(len(record) == len(records[0]) for record in records)


def test_csv_numbers_are_shortest_round_trip_and_never_guarded():
    records = _csv_records(to_csv(make_result()))
    column = {name: [record[i] for record in records[1:]] for i, name in enumerate(records[0])}
    assert column["RT"][:4] == ["0.30000000000000004", "9.572", "10", "1e-7"]
    assert column["Volume"][:4] == ["530172", "1e+20", "", "0"]
    assert column["Log P"][:2] == ["-0.94", "-5.88"] and column["Log P"][7] == "-0.00001"
    assert column["z"][:5] == ["1e-15", "inf", "", "0", "-inf"]
    assert column["Batch"][3] == "-3"
    assert column["row_id"] == [str(i) for i in range(N)]
    assert column["oac_count"][6] == "" and column["carbons"][0] == "36"
    assert all(float(text) == value for text, value in zip(column["RT"], make_rows()["RT"])
               if text)


def test_csv_booleans_anchor_and_nulls():
    records = _csv_records(to_csv(make_result()))
    column = {name: [record[i] for record in records[1:]] for i, name in enumerate(records[0])}
    assert column["Anchor"][:4] == ["T", "F", "T", ""]
    assert column["can_have_isomers"][:4] == ["true", "true", "true", "false"]
    assert column["isomer"][0] == "" and column["rule1_status"][6] == ""


def test_csv_guards_every_text_cell_a_spreadsheet_would_run():
    records = _csv_records(to_csv(make_result()))
    column = {name: [record[i] for record in records[1:]] for i, name in enumerate(records[0])}
    assert column["Name"] == ["'=HYPERLINK(\"http://x\")", "'+GD1(36:1;O2)", "'-2+3",
                              "'@SUM(A1)", "GQ1bα(36:1;O2)", "'\tGM1(36:1;O2)", "'\rGM3(36:1;O2)",
                              "#N/A"]
    assert column["Comment"] == ["'=1+1", "'-note", "", "plain, with comma", 'quote "q"',
                                 "line\nbreak", "α", "'@home"]
    assert column["reasons"][2] == "'-starts with minus"
    assert column["reasons"][4] == "'=cmd|' /C calc'!A0"


def test_csv_guards_header_cells():
    rows = make_rows().rename(columns={"Comment": "=Comment"})
    header = _csv_records(to_csv(make_result(rows=rows)))[0]
    assert header[7] == "'=Comment"


def test_csv_reimports_through_the_reader():
    table = read_table(to_csv(make_result()), filename="x_results.csv")
    frame = table.frame
    assert len(frame) == N and frame["line"].tolist()[:6] == [2, 3, 4, 5, 6, 7]
    assert frame["Name"].tolist()[:2] == ["'=HYPERLINK(\"http://x\")", "'+GD1(36:1;O2)"]
    assert frame["RT"].tolist()[:2] == ["0.30000000000000004", "9.572"]
    assert frame["Log P"].tolist()[:2] == ["-0.94", "-5.88"]
    assert frame["Anchor"].tolist()[:4] == ["T", "F", "T", ""]
    assert frame["Comment"].tolist()[:6] == ["'=1+1", "'-note", None, "plain, with comma",
                                             'quote "q"', "line\nbreak"]
    assert frame["Batch"].tolist()[3] == -3.0
    assert "status_input" in table.extra_columns


# --- XLSX -------------------------------------------------------------------------------------

def _workbook(result: AnalysisResult | None = None):
    return load_workbook(io.BytesIO(to_xlsx(result or make_result())))


def _sheet_rows(sheet) -> list[tuple]:
    return [tuple(cell for cell in row) for row in sheet.iter_rows()]


def test_xlsx_sheets_in_spec_order_with_headers():
    book = _workbook()
    assert book.sheetnames == ["Compounds", "Regression", "O-acetylation", "Fragments",
                               "Summary", "Parameters & provenance", "Model levels",
                               "Chemistry checks"]
    compounds = book["Compounds"]
    assert [cell.value for cell in compounds[1]] == list(make_rows().columns)
    assert compounds.max_row == N + 1
    assert [cell.value for cell in book["Regression"][1]] == GROUP_COLUMNS
    assert [cell.value for cell in book["O-acetylation"][1]] == OAC_COLUMNS
    assert [cell.value for cell in book["Fragments"][1]] == EVENT_COLUMNS
    assert compounds["A1"].font.bold and compounds.freeze_panes == "A2"
    assert compounds.column_dimensions["C"].width >= len("=HYPERLINK(\"http://x\")")


def test_xlsx_cells_are_typed_and_text_is_never_a_formula():
    book = _workbook()
    compounds = book["Compounds"]
    header = [cell.value for cell in compounds[1]]
    cell = {name: [row[i] for row in list(compounds.iter_rows(min_row=2))]
            for i, name in enumerate(header)}
    assert [c.value for c in cell["Name"]] == NASTY_NAMES
    assert all(c.data_type == "s" for c in cell["Name"])
    # openpyxl writes 16 significant digits (Excel itself shows 15)
    assert cell["RT"][0].value == pytest.approx(0.1 + 0.2, rel=1e-15)
    assert cell["RT"][0].data_type == "n" and cell["RT"][4].value == 12.3456789012345
    assert cell["Log P"][0].value == -0.94 and cell["Log P"][0].data_type == "n"
    assert cell["Volume"][2].value is None
    assert cell["row_id"][3].value == 3 and cell["oac_count"][6].value is None
    assert [c.value for c in cell["Anchor"][:4]] == ["T", "F", "T", None]
    isomers = cell["can_have_isomers"][0]
    assert isomers.value is True and isomers.data_type == "b"
    assert [c.value for c in cell["z"][:2]] == [1e-15, "inf"]
    assert cell["Comment"][0].value == "=1+1" and cell["Comment"][0].data_type == "s"
    for row in book.worksheets:
        for line in row.iter_rows():
            assert all(c.data_type != "f" for c in line)


def test_xlsx_xml_holds_no_formula_element():
    with zipfile.ZipFile(io.BytesIO(to_xlsx(make_result()))) as archive:
        sheets = [name for name in archive.namelist() if name.startswith("xl/worksheets/")]
        assert len(sheets) == 8
        for name in sheets:
            assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name)


def test_xlsx_package_is_well_formed_xml():
    with zipfile.ZipFile(io.BytesIO(to_xlsx(make_result()))) as archive:
        assert archive.testzip() is None
        parts = {name: ElementTree.fromstring(archive.read(name)) for name in archive.namelist()}
    types = [override.get("PartName") for override in parts["[Content_Types].xml"]]
    sheets = [f"/xl/worksheets/sheet{n}.xml" for n in range(1, 9)]
    assert [t for t in types if t and "worksheets" in t] == sheets
    assert len(parts["xl/workbook.xml"][0]) == 8


def test_xlsx_cuts_text_longer_than_a_cell_holds():
    rows = make_rows()
    rows.loc[0, "Comment"] = "x" * 40_000
    book = _workbook(make_result(rows=rows))
    assert book["Compounds"]["H2"].value == "x" * 32_767


def test_xlsx_fragments_summary_and_parameters():
    book = _workbook()
    fragments = _sheet_rows(book["Fragments"])
    assert fragments[1][4].value == "1;5" and fragments[2][4].value == "2"
    assert fragments[1][3].value == "+GD1(36:1;O2)"
    summary = [[c.value for c in row] for row in book["Summary"].iter_rows()]
    assert summary[:3] == [["key", "value", None, None, None], ["total_rows", N, None, None, None],
                           ["anchors", 3, None, None, None]]
    start = summary.index(["code", "severity", "message", "row_ids", "prefix"])
    assert summary[start - 1] == [None] * 5
    assert summary[start + 1] == ["invalid_rows", "warning", "1 invalid row (line 8)", "6", None]
    assert summary[start + 2][2] == "=CV R² 0.998 from only 3 anchors"
    params = dict(row for row in book["Parameters & provenance"].iter_rows(min_row=2,
                                                                           values_only=True))
    assert params["outlier_threshold"] == 3 and params["apply_fragment_status"] is True
    assert params["sample_type"] == "porcine" and params["input_file_name"] == "my data.csv"
    assert params["library_versions.pandas"] == "3.1"


def test_xlsx_replaces_characters_xml_cannot_hold():
    rows = make_rows()
    rows.loc[3, "Comment"] = "bell\x07here"
    book = _workbook(make_result(rows=rows))
    assert book["Compounds"]["H5"].value == "bell\ufffdhere"


# --- end to end on the sample file --------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_result() -> AnalysisResult:
    return analyze(read_table(DATA / "testwork_user.csv"))


def test_sample_json_round_trip_is_exact(sample_result):
    restored = result_from_json(to_json(sample_result))
    assert_results_equal(restored, sample_result)


def test_sample_exports_are_consistent(sample_result):
    records = _csv_records(to_csv(sample_result))
    assert len(records) == len(sample_result.rows) + 1
    assert records[0] == list(sample_result.rows.columns)
    status = records[0].index("status")
    assert [record[status] for record in records[1:]] == sample_result.rows["status"].tolist()
    book = _workbook(sample_result)
    assert book["Compounds"].max_row == len(sample_result.rows) + 1
    assert book["Regression"].max_row == len(sample_result.groups) + 1
    assert book["Fragments"].max_row == len(sample_result.fragment_events) + 1


def test_sample_csv_reimports_and_reanalyzes_identically(sample_result):
    again = analyze(read_table(to_csv(sample_result), "again.csv"))
    assert again.rows["status"].tolist() == sample_result.rows["status"].tolist()
    assert math.isclose(again.summary["success_rate"], sample_result.summary["success_rate"])
