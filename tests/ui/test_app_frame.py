"""The frame (app.py): navigation, shared sidebar, declarative config."""

import tomllib

from apptest_support import REPO, by_key, completed_run, no_exception, open_page, page_links


def test_landing_page_is_analyze_with_the_shared_sidebar(app):
    no_exception(app)
    assert app.title[0].value == "Analyze a peak table"
    assert by_key(app.sidebar.text_input, "sidebar_user_name").value == ""


def test_user_name_is_remembered_across_pages(app):
    by_key(app.sidebar.text_input, "sidebar_user_name").set_value("Ada").run()
    open_page(app, "method")
    assert by_key(app.sidebar.text_input, "sidebar_user_name").value == "Ada"
    open_page(app, "history")
    assert by_key(app.sidebar.text_input, "sidebar_user_name").value == "Ada"


def test_sidebar_links_the_current_run(app, store):
    run_id = completed_run(store, "testwork_small.csv", name="Small check")
    open_page(app, "results", run_id)
    no_exception(app)
    links = page_links(app.sidebar)
    assert ("Small check", f"run={run_id}") in links, links


def test_config_hides_errors_and_usage_statistics():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["toolbarMode"] == "minimal"
    assert config["browser"]["gatherUsageStats"] is False
    assert config["server"]["maxUploadSize"] >= 100
    assert config["theme"]["chartCategoricalColors"][1:4] == ["#1f77b4", "#ff7f0e", "#2ca02c"]


def test_no_legacy_pages_folder_next_to_app():
    """A folder named pages/ beside app.py makes a freshly started server run its files as
    legacy pages, without the frame, until some session has run app.py (see tests/browser)."""
    assert not (REPO / "pages").exists()
