"""Who is signed in, and what members and admins see and may do on every page (AppTest's
``at.user`` stands for the identity provider)."""

from __future__ import annotations

import pytest
from streamlit import config

from ganglioside.runs.access import actor_for
from apptest_support import by_key, completed_run, no_exception, open_page, texts

ALICE = {"is_logged_in": True, "email": "alice@lab.example", "name": "Alice"}
BOB = {"is_logged_in": True, "email": "bob@lab.example", "name": "Bob"}
PI = {"is_logged_in": True, "email": "pi@lab.example", "name": "PI"}
PAGES = ("analyze", "results", "history", "method")


@pytest.fixture(autouse=True)
def admins(monkeypatch):
    monkeypatch.setenv("GANGLIOSIDE_ADMINS", "PI@lab.example")


def as_user(app, user: dict, page: str, run_id: str | None = None):
    app.user = dict(user)
    open_page(app, page, run_id)
    no_exception(app)
    return app


def select_first_run(app):
    app.session_state["history_table"] = {"selection": {"rows": [0], "columns": [],
                                                         "cells": []}}
    return app.run()


def button_keys(app) -> set[str]:
    return {button.key for button in app.button}


@pytest.mark.parametrize("user, role", [(BOB, "member"), (PI, "admin")])
def test_every_page_names_the_user_and_role(app, store, user, role):
    run_id = completed_run(store, "testwork_small.csv", name="Alice's run", owner=ALICE["email"])
    for page in PAGES:
        as_user(app, user, page, run_id if page == "results" else None)
        assert f"{user['name']} ({user['email']})** · {role}" in texts(app.sidebar.caption)


def test_a_run_started_in_the_page_belongs_to_the_signed_in_user(app, store):
    app.user = dict(ALICE)
    app.run()
    by_key(app.button, "analyze_demo").click().run()
    by_key(app.button, "analyze_run").click().run()
    no_exception(app)
    record = store.get_run(app.query_params["run"])
    assert (record.owner, record.submitter, record.user) == (ALICE["email"], ALICE["email"],
                                                             "Alice")
    assert store.load_result(record.id).provenance["owner"] == ALICE["email"]


def test_a_member_sees_anothers_run_but_no_button_to_delete_it(app, store):
    completed_run(store, "testwork_small.csv", name="Alice's run", owner=ALICE["email"])
    as_user(app, BOB, "history")
    select_first_run(app)
    assert "Alice's run" in texts(app.markdown)
    assert "history_delete" not in button_keys(app)
    assert "Only its owner (alice@lab.example) or an admin" in texts(app.caption)


def test_a_run_of_unknown_owner_is_left_to_the_admins(app, store):
    completed_run(store, "testwork_small.csv", name="Before owners")
    as_user(app, ALICE, "history")
    select_first_run(app)
    assert "history_delete" not in button_keys(app)
    assert ("Its owner is unknown (started before owners were recorded): only an admin may "
            "cancel, delete or restore this run.") in texts(app.caption)
    as_user(app, PI, "history")
    select_first_run(app)
    assert "history_delete" in button_keys(app)


def test_the_owner_deletes_and_nothing_is_selected_afterwards(app, store):
    completed_run(store, "testwork_small.csv", name="Older", owner=ALICE["email"])
    run_id = completed_run(store, "testwork_small.csv", name="Mine", owner=ALICE["email"])
    as_user(app, ALICE, "history")
    select_first_run(app)
    delete = by_key(app.button, "history_delete")
    assert delete.proto.type != "primary"  # the destructive button does not stand out
    delete.click().run()
    confirm = by_key(app.button, "history_confirm_delete")
    assert confirm.proto.type != "primary"
    confirm.click().run()
    no_exception(app)
    assert store.get_run(run_id).in_trash
    assert "Moved to the trash" in texts(app.success)
    assert "history_delete" not in button_keys(app)  # the next run is not pre-selected
    assert app.session_state["history_table"]["selection"]["rows"] == []


def test_an_admin_may_delete_anyones_run_and_restore_or_purge_it_from_the_trash(app, store):
    run_id = completed_run(store, "testwork_small.csv", name="Alice's run", owner=ALICE["email"])
    as_user(app, PI, "history")
    select_first_run(app)
    by_key(app.button, "history_delete").click().run()
    by_key(app.button, "history_confirm_delete").click().run()
    assert store.get_run(run_id).deleted_by == PI["email"]
    by_key(app.button_group, "history_view").set_value("Trash").run()
    select_first_run(app)
    assert {"history_restore", "history_purge"} <= button_keys(app)
    trail = app.dataframe[-1].value
    assert trail["What"].tolist() == ["submitted", "deleted"]
    assert trail["Who"].tolist() == [ALICE["email"], PI["email"]]
    by_key(app.button, "history_restore").click().run()
    no_exception(app)
    assert not store.get_run(run_id).in_trash
    assert [e.action for e in store.audit_trail(run_id)][-1] == "restored"


def test_in_the_trash_a_member_restores_only_their_own_run(app, store):
    run_id = completed_run(store, "testwork_small.csv", name="Alice's run", owner=ALICE["email"])
    store.delete_run(run_id, actor_for(ALICE["email"]))
    as_user(app, BOB, "history")
    by_key(app.button_group, "history_view").set_value("Trash").run()
    select_first_run(app)
    assert not {"history_restore", "history_purge"} & button_keys(app)
    as_user(app, ALICE, "history")
    by_key(app.button_group, "history_view").set_value("Trash").run()
    select_first_run(app)
    assert "history_restore" in button_keys(app) and "history_purge" not in button_keys(app)


def test_a_run_in_progress_offers_cancel_to_its_owner_only(app, store):
    run_id = store.create_run(b"Name,RT\nGM1(36:1;O2),10\n", "t.csv", owner=ALICE["email"])
    as_user(app, BOB, "results", run_id)
    assert "results_cancel" not in button_keys(app)
    assert "only they or an admin may cancel it" in texts(app.caption)
    as_user(app, ALICE, "results", run_id)
    by_key(app.button, "results_cancel").click().run()
    assert store.get_run(run_id).status == "cancelled"


def test_sign_in_page_when_oidc_is_configured_and_nobody_is_signed_in(app, store):
    completed_run(store, "testwork_small.csv", name="Secret run")
    app.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback",
                           "cookie_secret": "x" * 32, "client_id": "c", "client_secret": "s",
                           "server_metadata_url": "http://localhost/.well-known/openid"}
    app.user = {"is_logged_in": False}
    app.run()
    no_exception(app)
    assert by_key(app.button, "sign_in")
    assert "Secret run" not in texts(app.markdown) and not app.dataframe


def test_a_trusted_proxy_header_names_the_user(app, store):
    config.set_option("server.trustedUserHeaders", {"X-Forwarded-Email": "email"})
    try:
        app.user = {"email": "bob@lab.example"}
        app.run()
        no_exception(app)
        assert "bob@lab.example** · member" in texts(app.sidebar.caption)
        app.user = {"email": None}  # the proxy sent no header
        app.run()
        assert "did not say who you are" in texts(app.error)
    finally:
        config.set_option("server.trustedUserHeaders", {})



def test_results_name_the_owner_and_say_when_a_run_is_in_the_trash(app, store):
    run_id = completed_run(store, "testwork_small.csv", name="Alice's run", owner=ALICE["email"])
    as_user(app, BOB, "results", run_id)
    assert f"owner {ALICE['email']}" in texts(app.caption)
    assert not app.warning
    store.delete_run(run_id, actor_for(ALICE["email"]))
    as_user(app, BOB, "results", run_id)
    assert any("in the trash" in warning.value for warning in app.warning)
