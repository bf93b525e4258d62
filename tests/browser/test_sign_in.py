"""Signing in with OpenID Connect in a real browser: a provider made for testing
(oidc-provider-mock) on loopback, Streamlit's st.login configured through a temporary
secrets.toml, and three people in three browser contexts: Alice starts a run, Bob (a member)
is offered no way to delete it, the PI (an admin) moves it to the trash and restores it, and the
audit trail records all of it."""

from __future__ import annotations

import secrets

import browser_support
import pytest
from browser_support import Server, free_port, shot, wait_idle
from oidc_provider_mock import User, run_server_in_thread
from playwright.sync_api import expect

from ganglioside.runs.access import PermissionDenied, actor_for
from ganglioside.runs.store import RunStore

pytestmark = pytest.mark.browser

PEOPLE = {"alice": ("alice@lab.example", "Alice"), "bob": ("bob@lab.example", "Bob"),
          "pi": ("pi@lab.example", "PI")}
ROW = 35  # height of a table row, and of the header, in pixels


@pytest.fixture
def provider():
    users = [User(sub=sub, claims={"email": email, "name": name}) for sub, (email, name) in PEOPLE.items()]
    with run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def lab_server(provider, tmp_path, monkeypatch):
    """The dashboard with [auth] pointing at the provider, and the PI as its admin."""
    port = free_port()
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(f"""[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "{secrets.token_hex(32)}"
client_id = "ganglioside-dashboard"
client_secret = "{secrets.token_hex(16)}"
server_metadata_url = "{provider}/.well-known/openid-configuration"
""")
    monkeypatch.setattr(browser_support, "free_port", lambda: port)
    started = Server(tmp_path / "runs.db", tmp_path / "streamlit.log",
                     STREAMLIT_SECRETS_FILES=str(secrets_file),
                     GANGLIOSIDE_ADMINS="PI@lab.example")
    yield started
    started.stop()


def sign_in(browser, server, who: str):
    """A new browser context signed in as ``who``; its page is on the dashboard."""
    context = browser.new_context(viewport=browser_support.VIEWPORT)
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(server.url)
    click(page, "sign_in")
    page.get_by_role("button", name=who, exact=True).click()   # the provider's user list
    page.wait_for_url(f"{server.url}/**")
    wait_idle(page)
    email, name = PEOPLE[who]
    expect(page.get_by_text(f"Signed in as {name} ({shown(email)})")).to_be_visible()
    return page


def shown(email: str) -> str:
    """An email as the pages show it (``ui.plain``: a word joiner keeps it from linking)."""
    return email.replace("@", "@\u2060")


def click(page, key: str) -> None:
    page.locator(f".st-key-{key} button[data-testid^='stBaseButton']:visible").first.click()


def select_first_history_row(page, server) -> None:
    page.goto(f"{server.url}/history")
    wait_idle(page)
    box = page.locator(".st-key-history_table [data-testid='stDataFrameResizable']").bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + ROW + ROW // 2)   # the row's selection box
    wait_idle(page)


def test_members_and_admins_through_a_real_identity_provider(lab_server, browser):
    alice = sign_in(browser, lab_server, "alice")
    expect(alice.get_by_text("· member")).to_be_visible()
    click(alice, "analyze_demo")
    wait_idle(alice)
    click(alice, "analyze_run")
    alice.wait_for_url("**/results?run=*", timeout=120_000)
    run_id = alice.url.rsplit("run=", 1)[1]
    store = RunStore(lab_server.db_path)
    assert store.get_run(run_id).owner == "alice@lab.example"
    shot(alice, "20_signed_in_alice")

    bob = sign_in(browser, lab_server, "bob")
    select_first_history_row(bob, lab_server)
    expect(bob.get_by_text(f"Only its owner ({shown('alice@lab.example')}) or an admin")
           ).to_be_visible()
    expect(bob.get_by_role("link", name="alice@lab.example")).to_have_count(0)  # no mailto
    expect(bob.locator(".st-key-history_delete")).to_have_count(0)
    expect(bob.locator(".st-key-history_cancel")).to_have_count(0)
    shot(bob, "21_bob_sees_no_delete")
    with pytest.raises(PermissionDenied, match="alice@lab.example"):  # nor by any request
        store.delete_run(run_id, actor_for("bob@lab.example"))

    pi = sign_in(browser, lab_server, "pi")
    expect(pi.get_by_text("· admin")).to_be_visible()
    select_first_history_row(pi, lab_server)
    click(pi, "history_delete")
    click(pi, "history_confirm_delete")
    expect(pi.get_by_text(f"Moved to the trash: run {run_id}.")).to_be_visible()
    expect(pi.locator(".st-key-history_delete")).to_have_count(0)   # nothing selected after
    assert store.get_run(run_id).in_trash

    pi.locator(".st-key-history_view").get_by_text("Trash").click()
    wait_idle(pi)
    box = pi.locator(".st-key-history_table [data-testid='stDataFrameResizable']").bounding_box()
    pi.mouse.click(box["x"] + 16, box["y"] + ROW + ROW // 2)
    wait_idle(pi)
    expect(pi.get_by_text("Audit trail")).to_be_visible()
    shot(pi, "22_admin_trash_with_audit")
    click(pi, "history_restore")
    expect(pi.get_by_text(f"Restored: run {run_id}.")).to_be_visible()
    assert not store.get_run(run_id).in_trash
    assert [(e.action, e.actor) for e in store.audit_trail(run_id)] == [
        ("submitted", "alice@lab.example"), ("deleted", "pi@lab.example"),
        ("restored", "pi@lab.example")]

    bob.reload()   # Bob's view follows: the run is back, still not his to delete
    select_first_history_row(bob, lab_server)
    expect(bob.locator(".st-key-history_delete")).to_have_count(0)
    for page in (alice, bob, pi):
        page.context.close()
