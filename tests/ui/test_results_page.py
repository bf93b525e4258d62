"""Results page: summary cards, tabs, filters, linked selections, downloads, run states."""

import json

import pyarrow as pa
import pytest
from apptest_support import (by_key, completed_run, no_exception, open_page, page_links,
                             raw_texts, sample_bytes, table_with, texts)

import ui_helpers as ui
from ganglioside import presentation
from ganglioside.runs.store import RunStore

CARDS = {"Valid": ("valid",), "To check": ("outlier", "fragment", "possible isomer"),
         "Unverified": ("unverified",), "Invalid": ("invalid",)}


@pytest.fixture
def sample_run(store) -> str:
    return completed_run(store, "testwork_user.csv", name="Porcine brain")


@pytest.fixture
def results(app, sample_run):
    open_page(app, "results", sample_run)
    no_exception(app)
    return app


def metric(app, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def compounds(app):
    return table_with(app, "row_id", "status", "reasons")


def shown_columns(app, *columns: str) -> list[str]:
    """The on-screen labels of the columns a drawn table shows, in order."""
    frame = next(f for f in app.dataframe if set(columns) <= set(f.value.columns))
    order = list(frame.proto.column_order) or list(frame.value.columns)
    config = json.loads(frame.proto.columns)
    return [config.get(c, {}).get("label", c) for c in order]


def chart_tables(chart) -> list[pa.Table]:
    """The data tables a drawn Vega-Lite chart carries (Arrow streams in its proto)."""
    return [pa.ipc.open_stream(dataset.data.data).read_all() for dataset in chart.proto.datasets]


def open_tab(app, tab: str):
    app.session_state["results_tab"] = tab
    app.run()
    no_exception(app)
    return app


def test_summary_cards_reconcile_with_the_compounds_table(results, store, sample_run):
    result = store.load_result(sample_run)
    statuses = result.rows["status"].value_counts()
    for label, counted in CARDS.items():
        assert metric(results, label) == f"{sum(statuses.get(s, 0) for s in counted):,}"
    assert metric(results, "Rows") == f"{len(result.rows):,}"
    assert metric(results, "Success rate") == f"{100 * result.summary['success_rate']:.1f}%"
    assert f"{statuses['outlier']} outliers" in texts(results.caption)


def test_each_tab_draws_its_tables_and_charts(results, store, sample_run):
    assert [tab.label for tab in results.tabs] == ["Overview", "Regression", "Compounds",
                                                   "Fragments", "OAc"]
    result = store.load_result(sample_run)
    rule_counts = next(t.value for t in results.table if "Final status" in t.value.columns)
    assert list(rule_counts.columns) == ["Count", "What", "Final status"]
    off = rule_counts[rule_counts["What"] == "rows off every line of their head group"].iloc[0]
    became = int((result.rows["rule1_status"].eq("outlier")
                  & result.rows["status"].eq("fragment")).sum())
    assert f"{became} became fragments" in off["Final status"]
    open_tab(results, "Regression")
    groups = table_with(results, "prefix", "accepted", "equation_raw")
    assert groups["prefix"].tolist() == result.groups["prefix"].tolist()
    judged = groups.set_index("prefix")  # what 2.1 judged each head group with, and why:
    # GD1's first-eluting anchors span 4 Log P units, so they place its own line (2.0: pooled)
    assert judged.loc["GD1", "judged_by"] == "its own anchors' line"
    assert judged.loc["GD1", "isomer_lines"] >= 2
    assert judged.loc["GD2", "anchor_spread_s"] > judged.loc["GD2", "scale_s"] > 0.3
    labels = shown_columns(results, "prefix", "judged_by")
    assert {"Judged by", "Anchors", "Line fit (R²)", "Typical miss (min)", "Line"} <= set(labels)
    assert not [label for label in labels if "_" in label]
    assert {c.key for c in results.get("vega_lite_chart")} == {"results_chart_rt",
                                                                "results_chart_residual"}
    assert len(by_key(results.selectbox, "results_prefix").options) == len(result.groups)
    open_tab(results, "Compounds")
    assert len(compounds(results)) == len(result.rows)
    labels = shown_columns(results, "row_id", "status", "reasons")
    assert labels[0] == "Line" and "Why" in labels and "Rests on" in labels
    assert "row_id" not in labels and not [label for label in labels if "_" in label]
    open_tab(results, "Fragments")
    events = table_with(results, "event_id", "parent_line")
    assert events["event_id"].tolist() == result.fragment_events["event_id"].tolist()
    lines = result.rows.set_index("row_id")["line"]
    assert events["parent_line"].tolist() == \
        lines.loc[result.fragment_events["parent_row_id"]].tolist()
    open_tab(results, "OAc")
    assert len(table_with(results, "oac_line", "verdict")) == len(result.oac_pairs)


def test_the_open_tab_is_in_the_url(app, sample_run):
    app.query_params["results_tab"] = "Compounds"
    open_page(app, "results", sample_run)
    no_exception(app)
    assert table_with(app, "row_id", "status", "reasons") is not None


def test_downloads_are_offered_and_built_on_click(results):
    for kind in ("csv", "xlsx", "json"):
        button = by_key(results.get("download_button"), f"results_download_{kind}")
        assert button.proto.deferred_file_id, f"{kind} is built only when clicked"
    open_tab(results, "Regression")
    keys = {button.key for button in results.get("download_button")}
    assert {"results_chart_rt_png", "results_chart_rt_svg"} <= keys


def test_status_filter_and_search(results, store, sample_run):
    summary = store.load_result(sample_run).summary
    open_tab(results, "Compounds")
    by_key(results.multiselect, "results_status_filter").set_value(["outlier"]).run()
    shown = compounds(results)
    assert len(shown) == summary["outlier"] and set(shown["status"]) <= {"outlier"}
    by_key(results.multiselect, "results_status_filter").set_value([]).run()
    rows = store.load_result(sample_run).rows
    name = rows["Name"].iloc[0]
    by_key(results.text_input, "results_search").set_value(name.lower()).run()
    shown = compounds(results)
    assert rows["row_id"].iloc[0] in shown["row_id"].tolist()
    assert all(name in row.Name or name in row.reasons for row in shown.itertuples())
    assert len(shown) < len(rows)


def test_filters_survive_a_visit_to_another_tab(results):
    open_tab(results, "Compounds")
    by_key(results.multiselect, "results_status_filter").set_value(["outlier"]).run()
    open_tab(results, "Regression")
    open_tab(results, "Compounds")
    assert by_key(results.multiselect, "results_status_filter").value == ["outlier"]
    assert set(compounds(results)["status"]) == {"outlier"}


def test_rule_flag_filter(results, store, sample_run):
    rows = store.load_result(sample_run).rows
    open_tab(results, "Compounds")
    by_key(results.selectbox, "results_flag_filter").set_value("Rule 5: fragment").run()
    assert compounds(results)["row_id"].tolist() == \
        rows.loc[rows["rule5_role"] == "fragment", "row_id"].tolist()


def test_rows_selected_in_the_table_are_highlighted_in_the_charts(results):
    open_tab(results, "Regression")
    before = by_key(results.get("vega_lite_chart"), "results_chart_residual").proto.spec
    open_tab(results, "Compounds")
    shown = compounds(results)
    results.session_state["results_compounds_table"] = {
        "selection": {"rows": [0, 1, 2], "columns": [], "cells": []}}
    results.run()
    assert results.session_state["results_highlight"] == shown["row_id"].iloc[:3].tolist()
    open_tab(results, "Regression")
    chart = by_key(results.get("vega_lite_chart"), "results_chart_residual")
    assert chart.proto.spec != before
    points = next(table for table in chart_tables(chart) if "highlighted" in table.column_names)
    highlighted = points.filter(points["highlighted"]).column("row_id").to_pylist()
    assert sorted(highlighted) == sorted(shown["row_id"].iloc[:3].tolist())


def test_picking_a_fragment_event_lists_its_rows_with_their_fragment_probability(
        results, store, sample_run):
    result = store.load_result(sample_run)
    event = result.fragment_events.iloc[0]
    open_tab(results, "Fragments")
    results.session_state["results_events"] = {
        "selection": {"rows": [0], "columns": [], "cells": []}}
    results.run()
    no_exception(results)
    learned = next(w.message for w in result.warnings if w.code == "rule5_model")
    assert "the most in GM3 (" in learned  # head groups named in the upload, escaped
    assert ui.plain(learned) in [c.value for c in results.caption]
    members = table_with(results, "rule5_role", "rule5_fragment_probability", "row_id")
    assert members["row_id"].tolist() == [event["parent_row_id"], *event["fragment_row_ids"]]
    stored = result.rows.set_index("row_id").loc[members["row_id"], "rule5_fragment_probability"]
    assert members["rule5_fragment_probability"].tolist() == pytest.approx(
        stored.tolist(), nan_ok=True)


def test_points_picked_in_a_chart_filter_the_table(results, store, sample_run):
    rows = store.load_result(sample_run).rows
    picked = rows["row_id"].iloc[[3, 7]].tolist()
    open_tab(results, "Regression")
    results.session_state["results_chart_residual"] = {
        "selection": {"select": [{"row_id": picked[0]}, {"row_id": picked[1]}]}}
    results.run()
    assert results.session_state["results_picked"] == sorted(picked)
    open_tab(results, "Compounds")
    assert compounds(results)["row_id"].tolist() == sorted(picked)
    assert "picked in a chart" in texts(results.info)
    by_key(results.button, "results_clear_chart_selection").click().run()
    assert len(compounds(results)) == len(rows)


def test_long_tables_load_lazily_without_selection(results, monkeypatch):
    monkeypatch.setattr(ui, "SELECTABLE_ROWS", 10)
    open_tab(results, "Compounds")
    assert "Narrow the filters to select rows" in texts(results.caption)
    by_key(results.selectbox, "results_flag_filter").set_value("Rule 1: anchor disagrees").run()
    no_exception(results)


def test_result_is_read_from_the_store_once_per_run(app, sample_run, monkeypatch):
    calls = []
    original = RunStore.load_result
    monkeypatch.setattr(RunStore, "load_result",
                        lambda self, run_id: calls.append(run_id) or original(self, run_id))
    open_page(app, "results", sample_run)
    open_tab(app, "Compounds")
    by_key(app.multiselect, "results_status_filter").set_value(["valid"]).run()
    by_key(app.toggle, "results_all_columns").set_value(True).run()
    open_tab(app, "Regression")
    open_page(app, "history")
    open_page(app, "results", sample_run)
    no_exception(app)
    assert calls == [sample_run]


def test_unknown_run_is_reported_not_raised(app):
    open_page(app, "results", "0123456789abcdef")
    no_exception(app)
    assert "There is no run with id" in texts(app.error)


def test_without_a_run_the_page_explains_where_to_start(app):
    open_page(app, "results")
    no_exception(app)
    assert "No run selected" in texts(app.info)


def test_waiting_run_shows_progress(app, store):
    waiting = store.create_run(sample_bytes("testwork_small.csv"), "testwork_small.csv")
    open_page(app, "results", waiting)
    no_exception(app)
    assert app.get("progress")
    assert by_key(app.button, "results_cancel")


def test_failed_run_explains_why_and_offers_to_run_again(app, store):
    from ganglioside.runs.executors import SynchronousExecutor

    run_id = store.create_run(b"Name,RT\n", "empty.csv")
    SynchronousExecutor(store).submit(run_id)
    open_page(app, "results", run_id)
    no_exception(app)
    assert "missing required columns" in texts(app.error)
    links = page_links(app)
    assert ("Run it again with other settings…", f"run={run_id}") in links


def test_run_name_is_shown_literally(app, store):
    run_id = completed_run(store, "testwork_small.csv", name="**big** :red[x]")
    open_page(app, "results", run_id)
    assert raw_texts(app.title) == "\\*\\*big\\*\\* \\:red\\[x\\]"


def test_a_selected_row_is_explained_in_full_and_the_chart_follows_it(results, store,
                                                                      sample_run):
    rows = store.load_result(sample_run).rows
    open_tab(results, "Compounds")
    by_key(results.multiselect, "results_prefix_filter").set_value(["GM3"]).run()
    shown = compounds(results)
    results.session_state["results_compounds_table"] = {
        "selection": {"rows": [2], "columns": [], "cells": []}}
    results.run()
    no_exception(results)
    row = rows.set_index("row_id").loc[shown["row_id"].iloc[2]]
    pane = texts(results.get("markdown"))
    assert f"Line {row['line']} · {row['Name']}" in pane
    for note in presentation.reason_lines(row["reasons"], presentation.line_map(rows)):
        assert note in pane  # every note in full, rows written as the file's lines
    open_tab(results, "Regression")
    assert by_key(results.selectbox, "results_prefix").value == "GM3"
    title = json.loads(by_key(results.get("vega_lite_chart"), "results_chart_rt").proto.spec)
    assert title["title"]["text"].startswith("GM3")


def test_rests_on_filter_and_no_match(results, store, sample_run):
    rows = store.load_result(sample_run).rows
    open_tab(results, "Compounds")
    by_key(results.multiselect, "results_basis_filter").set_value(["weak isomer line"]).run()
    shown = compounds(results)
    assert len(shown) == rows["rule1_basis"].eq("weak isomer line").sum() > 0
    by_key(results.text_input, "results_search").set_value("no such peak").run()
    no_exception(results)
    assert "No rows match these filters." in texts(results.info)


def test_a_large_excel_file_is_built_in_the_background(results, store, sample_run,
                                                       monkeypatch):
    import time

    monkeypatch.setenv("GANGLIOSIDE_LARGE_EXPORT_ROWS", "0")
    results.run()
    prepare = [b for b in results.button if b.key == "results_prepare_xlsx"]
    assert prepare, "a large run offers Excel… instead of building it on click"
    prepare[0].click().run()
    deadline = time.monotonic() + 60
    while not [b for b in results.get("download_button") if b.key == "results_download_xlsx"]:
        assert time.monotonic() < deadline, "the Excel file was never offered"
        time.sleep(0.5)
        results.run()
    button = by_key(results.get("download_button"), "results_download_xlsx")
    assert not button.proto.deferred_file_id  # built already, handed over at once


def test_the_page_shows_no_stray_source_text(results):
    shown = texts(results.markdown) + texts(results.caption)
    assert "the variable lets tests" not in shown and '"""' not in shown


def test_a_link_to_the_tab_by_its_former_name_opens_that_tab(app, store, sample_run):
    app.query_params["results_tab"] = "O-acetylation"   # the OAc tab's name until it was shortened
    open_page(app, "results", sample_run)
    no_exception(app)
    assert len(table_with(app, "oac_line", "verdict")) == len(store.load_result(sample_run).oac_pairs)
    assert not any("Final status" in t.value.columns for t in app.table)
