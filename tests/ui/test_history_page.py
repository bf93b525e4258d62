"""History page: the lab's runs, filters, open, compare, delete, retention policy."""

from apptest_support import (by_key, completed_run, no_exception, open_page, page_links,
                             table_with, texts)

from ganglioside.runs.executors import SynchronousExecutor
from ganglioside.params import AnalysisParams


def select_rows(app, *positions):
    app.session_state["history_table"] = {"selection": {"rows": list(positions), "columns": [],
                                                         "cells": []}}
    return app.run()


def failed_run(store) -> str:
    run_id = store.create_run(b"this is not a table", "notes.csv", name="Broken upload")
    SynchronousExecutor(store).submit(run_id)
    return run_id


def test_empty_history_says_how_to_start(app):
    open_page(app, "history")
    no_exception(app)
    assert "No runs yet" in texts(app.info)


def test_runs_are_listed_newest_first_with_their_counts(app, store):
    first = completed_run(store, "testwork_small.csv", name="First", user="Ada")
    second = completed_run(store, "testwork_user.csv", name="Second")
    open_page(app, "history")
    no_exception(app)
    table = table_with(app, "Name", "Status", "Run id")
    assert table["Run id"].tolist() == [second, first]
    assert table["User"].tolist() == ["", "Ada"]
    rows = dict(zip(table["Run id"], table["Rows"]))
    assert rows[first] == store.get_run(first).summary["total_rows"]
    assert rows[second] == store.get_run(second).summary["total_rows"]
    assert all("completed" in status for status in table["Status"])


def test_filter_by_status_and_text(app, store):
    good = completed_run(store, "testwork_small.csv", name="Porcine brain")
    bad = failed_run(store)
    open_page(app, "history")
    by_key(app.multiselect, "history_status_filter").set_value(["failed"]).run()
    assert table_with(app, "Run id")["Run id"].tolist() == [bad]
    by_key(app.multiselect, "history_status_filter").set_value([]).run()
    by_key(app.text_input, "history_search").set_value("porcine").run()
    assert table_with(app, "Run id")["Run id"].tolist() == [good]
    by_key(app.text_input, "history_search").set_value("nothing like this").run()
    assert "No runs match" in texts(app.info)


def test_selected_run_can_be_opened_and_deleted_after_confirmation(app, store):
    run_id = completed_run(store, "testwork_small.csv", name="To delete")
    open_page(app, "history")
    select_rows(app, 0)
    no_exception(app)
    links = page_links(app)
    assert ("Open results", f"run={run_id}") in links, links
    by_key(app.button, "history_delete").click().run()
    assert store.get_run(run_id)  # nothing deleted before the confirmation
    by_key(app.button, "history_confirm_delete").click().run()
    assert store.list_runs() == [] and store.get_run(run_id).in_trash


def test_failed_run_shows_its_reason(app, store):
    failed_run(store)
    open_page(app, "history")
    select_rows(app, 0)
    assert "Cannot read" in texts(app.error)


def test_two_selected_runs_compare_their_parameters(app, store):
    completed_run(store, "testwork_small.csv", name="Default")
    completed_run(store, "testwork_small.csv", AnalysisParams(outlier_threshold=3.0), name="Strict")
    open_page(app, "history")
    select_rows(app, 0, 1)
    no_exception(app)
    comparison = table_with(app, "Parameter", "Differs").set_index("Parameter")
    assert comparison.loc["outlier_threshold", "Differs"]
    assert not comparison.loc["rt_tolerance", "Differs"]
    assert comparison.loc["outlier_threshold", "Strict"] == "3.0"


def test_retention_policy_is_shown(app, monkeypatch):
    monkeypatch.setenv("GANGLIOSIDE_RETENTION_DAYS", "7")
    open_page(app, "history")
    assert "7 days" in app.caption[0].value
    monkeypatch.setenv("GANGLIOSIDE_RETENTION_DAYS", "0")
    app.run()
    assert "kept forever" in app.caption[0].value
