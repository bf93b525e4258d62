"""Analyze page: demo and uploads end to end, input errors, parameters, duplicates, run again."""

import io

import openpyxl
import pandas as pd
import pytest
from apptest_support import (DATA, by_key, completed_run, no_exception, open_page, raw_texts,
                             sample_bytes, table_with, texts)

from ganglioside.runs.executors import SynchronousExecutor
from ganglioside.params import ALGORITHM_VERSIONS, AnalysisParams


def upload(app, name: str, data: bytes | None = None):
    uploader = by_key(app.file_uploader, "analyze_upload")
    uploader.set_value((name, sample_bytes(name) if data is None else data, "text/csv"))
    return app.run()


def metric(app, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def run_button(app):
    return by_key(app.button, "analyze_run")


def submitted_run(app, store):
    run_button(app).click().run()
    no_exception(app)
    return store.get_run(app.query_params["run"])


def test_demo_data_runs_end_to_end_and_opens_in_results(app, store):
    from ganglioside.demo import make_demo_table

    by_key(app.button, "analyze_demo").click().run()
    no_exception(app)
    assert metric(app, "Rows") == f"{len(make_demo_table(300, seed=0)):,}"
    record = submitted_run(app, store)
    assert record.status == "completed", record.error
    assert record.file_name == "demo_gangliosides.csv"
    # a run finished within a second opens its results at once, without a progress bar
    assert [tab.label for tab in app.tabs][:1] == ["Overview"]
    assert metric(app, "Rows") == f"{record.summary['total_rows']:,}"


def test_sample_upload_preview_matches_what_the_run_reads(app, store):
    upload(app, "testwork_user.csv")
    no_exception(app)
    raw = pd.read_csv(DATA / "testwork_user.csv")
    assert metric(app, "Rows") == f"{len(raw):,}"
    preview = table_with(app, "line", "Name", "RT")
    assert preview["Name"].tolist() == raw["Name"].head(len(preview)).tolist()
    anchors_shown = metric(app, "Anchors")
    app.user = {"is_logged_in": True, "email": "ada@lab.example", "name": "Ada"}
    by_key(app.text_input, "analyze_run_name").set_value("Porcine brain").run()
    record = submitted_run(app, store)
    assert record.status == "completed", record.error
    assert (record.name, record.user, record.owner, record.file_name) == (
        "Porcine brain", "Ada", "ada@lab.example", "testwork_user.csv")
    assert anchors_shown == f"{record.summary['anchors']:,}"


def test_bad_file_shows_its_error_and_cannot_run(app, store):
    upload(app, "peaks.csv", b"Compound;Mass\nGD1;3\n")
    no_exception(app)
    assert "missing required columns" in texts(app.error)
    assert run_button(app).disabled
    assert store.list_runs() == []


def test_text_from_the_file_is_never_rendered_as_markdown(app):
    upload(app, "evil.csv", b"**Name** :red[x],RT\nGD1,1\n")
    message = raw_texts(app.error)
    assert "\\*\\*Name\\*\\*" in message and "\\:red\\[x\\]" in message


def test_row_problems_are_listed_before_running(app):
    data = sample_bytes("testwork_small.csv").replace(b"9.572", b"soon", 1)
    upload(app, "small.csv", data)
    no_exception(app)
    assert metric(app, "Row problems") == "1"
    problems = next(t.value for t in app.table if "Problem" in t.value.columns)
    assert problems.index.tolist() == [2]  # the file's line
    assert "RT" in problems["Problem"].iloc[0] and "soon" in problems["Problem"].iloc[0]
    assert not run_button(app).disabled


def test_changed_parameters_reach_the_core(app, store):
    upload(app, "testwork_small.csv")
    by_key(app.number_input, "analyze_param_outlier_threshold").set_value(3.5)
    by_key(app.number_input, "analyze_param_min_anchors").set_value(4)
    by_key(app.toggle, "analyze_param_apply_fragment_status").set_value(False)
    by_key(app.selectbox, "analyze_param_algorithm_version").set_value(ALGORITHM_VERSIONS[-1])
    by_key(app.selectbox, "analyze_sample_type").set_value("porcine")
    app.run()
    record = submitted_run(app, store)
    used = store.load_result(record.id).parameters
    assert (used.outlier_threshold, used.min_anchors, used.apply_fragment_status,
            used.algorithm_version, used.sample_type) == (3.5, 4, False, ALGORITHM_VERSIONS[-1],
                                                          "porcine")


def test_parameter_widgets_follow_the_specs_and_reset(app):
    upload(app, "testwork_small.csv")
    threshold = by_key(app.number_input, "analyze_param_r2_threshold")
    assert (threshold.min, threshold.max, threshold.value) == (0.5, 0.999,
                                                               AnalysisParams().r2_threshold)
    threshold.set_value(0.9).run()
    by_key(app.button, "analyze_reset").click().run()
    assert by_key(app.number_input, "analyze_param_r2_threshold").value == 0.7


def test_inconsistent_parameters_are_refused_before_running(app, store):
    upload(app, "testwork_small.csv")
    by_key(app.number_input, "analyze_param_oac_shift_min").set_value(1.8).run()
    assert "oac_shift_max" in texts(app.error)
    assert run_button(app).disabled


def test_duplicate_submission_is_refused(app, store):
    waiting = store.create_run(sample_bytes("testwork_small.csv"), "testwork_small.csv")
    upload(app, "testwork_small.csv")
    run_button(app).click().run()
    no_exception(app)
    assert "already pending" in texts(app.warning)
    assert app.query_params["run"] == waiting
    assert [r.id for r in store.list_runs()] == [waiting]


def test_a_waiting_run_shows_progress_and_can_be_cancelled(app, store):
    waiting = store.create_run(sample_bytes("testwork_small.csv"), "testwork_small.csv")
    app.query_params["run"] = waiting
    app.run()
    no_exception(app)
    assert app.get("progress"), "a pending run shows a progress bar"
    by_key(app.button, "analyze_cancel").click().run()
    assert store.get_run(waiting).status == "cancelled"
    assert "cancelled" in texts(app.warning)


def test_failed_run_shows_the_reason(app, store):
    run_id = store.create_run(b"Name,RT\n", "empty.csv")
    SynchronousExecutor(store).submit(run_id)
    app.query_params["run"] = run_id
    app.run()
    assert "The analysis failed" in texts(app.error)
    assert "missing required columns" in texts(app.error)


def test_run_again_uses_the_stored_input_with_new_parameters(app, store):
    first = completed_run(store, "testwork_small.csv", AnalysisParams(outlier_threshold=3.0))
    app.query_params["run"] = first
    app.run()
    no_exception(app)
    assert run_button(app).label == "Run again with these settings"
    threshold = by_key(app.number_input, "analyze_param_outlier_threshold")
    assert threshold.value == 3.0
    threshold.set_value(2.0).run()
    by_key(app.button, "analyze_reset").click().run()
    assert by_key(app.number_input, "analyze_param_outlier_threshold").value == \
        AnalysisParams().outlier_threshold
    by_key(app.number_input, "analyze_param_outlier_threshold").set_value(2.0).run()
    again = submitted_run(app, store)
    assert again.id != first
    assert again.input_sha256 == store.get_run(first).input_sha256
    assert again.parameters["outlier_threshold"] == 2.0


def test_a_link_to_another_run_replaces_the_demo_choice(app, store):
    by_key(app.button, "analyze_demo").click().run()
    record = submitted_run(app, store)
    assert app.query_params["run"] == record.id
    open_page(app, "analyze", record.id)             # back from its results
    assert run_button(app).label == "Run analysis"   # still the demo, ready for new settings
    other = completed_run(store, "testwork_small.csv")
    app.query_params["run"] = other                  # e.g. "Run again…" from History
    app.run()
    assert run_button(app).label == "Run again with these settings"
    assert "testwork_small.csv" in texts(app.caption)


@pytest.fixture
def workbook() -> bytes:
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["Exported from the instrument"])
    peaks = book.create_sheet("Peaks")
    for record in pd.read_csv(DATA / "testwork_small.csv").itertuples(index=False):
        if peaks.max_row == 1 and peaks.cell(1, 1).value is None:
            peaks.append(["Name", "RT", "Volume", "Log P", "Anchor"])
        peaks.append(list(record))
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def test_excel_upload_reads_the_one_sheet_with_the_columns(app, store, workbook):
    upload(app, "peaks.xlsx", workbook)
    sheet = by_key(app.selectbox, "analyze_sheet")
    assert sheet.options == ["Automatic (the sheet with the columns)", "Notes", "Peaks"]
    assert not app.error
    assert "Read sheet 'Peaks'" in texts(app.info)
    assert metric(app, "Rows") == "5"
    record = submitted_run(app, store)
    assert record.status == "completed"


def test_a_chosen_sheet_without_the_columns_points_to_the_selector(app, workbook):
    upload(app, "peaks.xlsx", workbook)
    by_key(app.selectbox, "analyze_sheet").set_value("Notes").run()
    no_exception(app)
    error = texts(app.error)
    assert "missing required columns" in error and "Worksheet on the Analyze page" in error
    by_key(app.selectbox, "analyze_sheet").set_value("Peaks").run()
    assert metric(app, "Rows") == "5" and not app.error


def test_an_image_named_csv_is_not_a_text_table(app):
    upload(app, "peaks.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    no_exception(app)
    error = texts(app.error)
    assert "not a text table" in error and "PNG" in error
    assert "more cells" not in error and "found:" not in error


def test_file_size_in_one_format(app):
    upload(app, "testwork_user.csv", sample_bytes("testwork_user.csv"))
    size = len(sample_bytes("testwork_user.csv"))
    assert size > 1000
    assert f"({size / 1000:.1f} kB)" in texts(app.caption)
