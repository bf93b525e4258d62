"""Run store results: the Parquet format restores every table exactly; old JSON runs still load."""

from __future__ import annotations

import dataclasses
import io
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ganglioside import analyze, read_table
from ganglioside.export import result_from_json, result_tables, to_json
from ganglioside.params import AnalysisParams
from ganglioside.result import AnalysisResult, AnalysisWarning
from ganglioside.runs.store import RunStore
from tests.store_support import query

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def store(db_target):
    store = RunStore(db_target)
    yield store
    store.close()


OWNER = "kim@lab.example"


def complete(store: RunStore, result: AnalysisResult) -> str:
    run_id = store.create_run(b"Name,RT\n", "table.csv", result.parameters, owner=OWNER)
    store.complete_run(store.claim_run(run_id), result)
    return run_id


def stored_blob(store: RunStore, run_id: str) -> bytes:
    [(data,)] = query(store, "SELECT data FROM results WHERE run_id = :run_id", run_id=run_id)
    return bytes(data)


def assert_same_result(loaded: AnalysisResult, original: AnalysisResult,
                       owner: str | None = OWNER) -> None:
    """Every table equal with its dtypes, object cells of the same Python types; rest equal, the
    provenance with the owner and submitter the store adds (``owner``; None: none added)."""
    tables = result_tables(original)
    assert list(result_tables(loaded)) == list(tables)
    for name, frame in tables.items():
        restored = getattr(loaded, name)
        pd.testing.assert_frame_equal(restored, frame, check_exact=True, obj=name)
        for column in frame.columns[frame.dtypes == object]:
            assert (list(restored[column].map(type)) == list(frame[column].map(type))), \
                f"{name}.{column}: cell types differ"
    assert loaded.summary == original.summary
    assert loaded.warnings == original.warnings
    assert loaded.parameters == original.parameters
    added = {"owner": owner, "submitter": owner} if owner else {}
    assert loaded.provenance == {**original.provenance, **added}


@pytest.mark.parametrize("params", [AnalysisParams(algorithm_version="1.0"), AnalysisParams()],
                         ids=["algorithm-1.0", "default"])
def test_real_analysis_round_trips_exactly(store, params):
    result = analyze(read_table(DATA / "testwork_user.csv"), params)
    assert len(result.rows) == 323 and len(result.fragment_events) > 0
    run_id = complete(store, result)
    assert_same_result(store.load_result(run_id), result)
    fragment_ids = store.load_result(run_id).fragment_events["fragment_row_ids"]
    assert all(isinstance(cell, list) for cell in fragment_ids)


def nasty_result() -> AnalysisResult:
    text = ["=1+2", "+cmd", "-x", "@SUM(A1)", "\ttab", "line\nbreak", "ünï ☃", "", None]
    n = len(text)
    rows = pd.DataFrame({
        "row_id": np.arange(n, dtype="int64"),
        "Name": pd.Series(text, dtype=object),
        "label": pd.Series(["=A", None, "b", "", "c", "d", "e", "f", "=g"], dtype="str"),
        "RT": [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-300, 1e300, 0.1 + 0.2, 5.0],
        "count": pd.array([1, None, 3, None, 5, 6, 7, 8, -9], dtype="Int64"),
        "no_count": pd.array([None] * n, dtype="Int64"),
        "no_value": np.full(n, np.nan),
        "no_text": pd.Series([None] * n, dtype=object),
        "Anchor": pd.Series([True, False, None] * 3, dtype=object),
        "flag": [True, False, True] * 3,
        "ids": pd.Series([[1, 2], [], [3]] * 3, dtype=object),
    })
    empty_with_columns = pd.DataFrame({
        "prefix": pd.Series([], dtype="str"), "n": pd.Series([], dtype="int64"),
        "r2": pd.Series([], dtype="float64"), "base": pd.array([], dtype="Int64"),
        "note": pd.Series([], dtype=object), "accepted": pd.Series([], dtype=bool)})
    events = pd.DataFrame({"event_id": [0, 1], "fragment_row_ids": pd.Series([[], [4, 5]],
                                                                              dtype=object)})
    labelled = pd.DataFrame({"value": [1.5, np.nan, np.inf],
                             "level": pd.Series(["a", None, "=c"], index=[7, 3, 5], dtype=object)},
                            index=[7, 3, 5])
    return AnalysisResult(
        rows=rows, groups=empty_with_columns, oac_pairs=pd.DataFrame(), fragment_events=events,
        summary={"total_rows": n, "success_rate": 0.5, "note": "=SUM(1)"},
        warnings=[AnalysisWarning("odd", "warning", "=cmd|' /C calc'!A0", (1, 2), "GM1"),
                  AnalysisWarning("plain", "info", "nothing")],
        parameters=AnalysisParams(sample_type="human", r2_threshold=0.8),
        provenance={"input_file_name": "=evil.csv", "library_versions": {"pandas": "3"}},
        model_levels=labelled, chemistry_checks=pd.DataFrame(columns=["check", "note"]))


def test_nasty_values_round_trip_exactly(store):
    result = nasty_result()
    loaded = store.load_result(complete(store, result))
    assert_same_result(loaded, result)
    assert list(loaded.rows["Name"]) == ["=1+2", "+cmd", "-x", "@SUM(A1)", "\ttab",
                                         "line\nbreak", "ünï ☃", "", None]
    assert np.signbit(loaded.rows["RT"].iloc[3]) and np.isposinf(loaded.rows["RT"].iloc[1])


def test_result_is_one_archive_of_a_document_and_parquet_tables(store):
    result = nasty_result()
    blob = stored_blob(store, complete(store, result))
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        names = archive.namelist()
        assert archive.testzip() is None
    table_fields = [field.name for field in dataclasses.fields(AnalysisResult)
                    if isinstance(getattr(result, field.name), pd.DataFrame)]
    assert len(table_fields) == 6
    assert names == ["result.json"] + [f"{name}.parquet" for name in table_fields]


def test_run_stored_in_the_old_json_format_still_loads(store):
    result = analyze(read_table(DATA / "testwork_small.csv"))
    run_id = complete(store, result)
    query(store, "UPDATE results SET data = :data WHERE run_id = :run_id",
          data=zlib.compress(to_json(result), 6), run_id=run_id)
    assert_same_result(store.load_result(run_id), result_from_json(to_json(result)), owner=None)


def test_a_result_that_cannot_be_stored_leaves_the_run_processing_without_result(store):
    result = dataclasses.replace(nasty_result(), oac_pairs=pd.DataFrame(
        {"mixed": pd.Series([1, "one"], dtype=object)}))  # no Parquet type holds both
    run_id = store.create_run(b"Name,RT\n", "table.csv")
    claim = store.claim_run(run_id)
    with pytest.raises(pa.ArrowException):
        store.complete_run(claim, result)
    assert store.get_run(run_id).status == "processing"
    assert store.load_result(run_id) is None
    assert query(store, "SELECT count(*) FROM results") == [(0,)]
