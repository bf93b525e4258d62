"""The frame (app.py): navigation, shared sidebar, declarative config."""

import ast
import getpass
import tomllib

from apptest_support import (REPO, by_key, completed_run, no_exception, open_page, page_links,
                             raw_texts, texts)


def test_landing_page_is_analyze_with_the_shared_sidebar(app):
    no_exception(app)
    assert app.title[0].value == "Analyze a peak table"
    login = getpass.getuser()  # embedded single-user mode: the OS user, an admin
    assert f"Signed in as **{login}** · admin" in raw_texts(app.sidebar.caption)
    assert not app.sidebar.text_input  # no free-text name any more


def test_signed_in_user_is_shown_on_every_page(app):
    app.user = {"is_logged_in": True, "email": "ada@lab.example", "name": "Ada"}
    for page in ("analyze", "results", "history", "method"):
        open_page(app, page)
        no_exception(app)
        assert "Ada (ada@lab.example)" in texts(app.sidebar.caption)
        assert by_key(app.sidebar.button, "sidebar_sign_out")


def test_sidebar_links_the_current_run(app, store):
    run_id = completed_run(store, "testwork_small.csv", name="Small check")
    open_page(app, "results", run_id)
    no_exception(app)
    links = page_links(app.sidebar)
    assert ("Small check", f"run={run_id}") in links, links


def test_config_is_hardened_for_a_shared_server():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["toolbarMode"] == "minimal"
    assert config["browser"]["gatherUsageStats"] is False
    assert config["server"]["maxUploadSize"] >= 100
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["enableCORS"] is True
    assert config["server"]["address"] == "127.0.0.1"
    assert config["theme"]["chartCategoricalColors"][1:4] == ["#1f77b4", "#ff7f0e", "#2ca02c"]


def test_no_legacy_pages_folder_next_to_app():
    """A folder named pages/ beside app.py makes a freshly started server run its files as
    legacy pages, without the frame, until some session has run app.py (see tests/browser)."""
    assert not (REPO / "pages").exists()


def test_no_page_script_draws_a_stray_string():
    """Streamlit's magic draws every bare expression of a page script as Markdown: a string
    meant as documentation after an assignment (not the file's or a function's docstring)
    shows up on the page."""
    scripts = [REPO / "app.py", *sorted((REPO / "app_pages").glob("*.py"))]
    stray = [f"{script.name}:{node.lineno}" for script in scripts
             for node in ast.parse(script.read_text()).body[1:]
             if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)]
    assert len(scripts) >= 5 and stray == []
