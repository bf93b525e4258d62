"""Who may do what to a run: the rules of access.py, enforced by the store itself (on SQLite and
PostgreSQL) and through the CLI (exit 3 naming the owner); the trash, and the audit trail."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from ganglioside.cli import main
from ganglioside.runs import access
from ganglioside.runs.access import Actor, PermissionDenied, actor_for
from ganglioside.runs.store import RunNotFoundError, RunStateError, RunStore
from tests.store_support import query

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SMALL = DATA / "testwork_small.csv"
DAY = 86400.0
ALICE = Actor("alice@lab.example", "Alice")
BOB = Actor("bob@lab.example", "Bob")
ADMIN = Actor("pi@lab.example", "PI", is_admin=True)


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(db_target, clock):
    store = RunStore(db_target, clock=clock)
    yield store
    store.close()


def finished_run(store: RunStore, owner: str | None = ALICE.email, name: str = "run") -> str:
    run_id = store.create_run(b"Name,RT\nGM1(36:1;O2),10\n", "t.csv", name=name, owner=owner)
    store.request_cancel(run_id, ADMIN)
    return run_id


# ---- the rules -------------------------------------------------------------------------------

def test_admins_come_from_the_environment_in_any_case(monkeypatch):
    monkeypatch.setenv("GANGLIOSIDE_ADMINS", " PI@Lab.example , ops@lab.example,")
    assert access.admins_from_env() == {"pi@lab.example", "ops@lab.example"}
    assert actor_for("pi@LAB.example").is_admin and actor_for("pi@LAB.example").role == "admin"
    assert not actor_for("alice@lab.example").is_admin
    monkeypatch.delenv("GANGLIOSIDE_ADMINS")
    assert not actor_for("pi@lab.example").is_admin
    with pytest.raises(ValueError):
        actor_for("  ")


def test_members_manage_their_own_runs_admins_any_and_nobody_an_unknown_owners():
    assert access.may_delete(ALICE, "Alice@Lab.example")  # emails compare in any case
    assert not access.may_delete(BOB, ALICE.email)
    assert not access.may_cancel(BOB, ALICE.email) and not access.may_restore(BOB, ALICE.email)
    assert access.may_delete(ADMIN, ALICE.email)
    assert not access.may_delete(ALICE, None) and access.may_delete(ADMIN, None)
    assert access.may_purge(ADMIN) and not access.may_purge(ALICE)


def test_trash_days_come_from_the_environment(monkeypatch):
    assert access.trash_days_from_env() == 30
    monkeypatch.setenv("GANGLIOSIDE_TRASH_DAYS", "7")
    assert access.trash_days_from_env() == 7
    monkeypatch.setenv("GANGLIOSIDE_TRASH_DAYS", "a week")
    with pytest.raises(access.SettingError, match="GANGLIOSIDE_TRASH_DAYS"):
        access.trash_days_from_env()


# ---- enforced by the store -------------------------------------------------------------------

def test_a_member_cannot_cancel_or_delete_anothers_run(store):
    run_id = store.create_run(SMALL.read_bytes(), SMALL.name, owner=ALICE.email)
    with pytest.raises(PermissionDenied, match="it belongs to alice@lab.example") as refused:
        store.request_cancel(run_id, BOB)
    assert refused.value.owner == ALICE.email and "bob@lab.example may not cancel" in str(
        refused.value)
    assert store.get_run(run_id).status == "pending" and not store.get_run(run_id).cancel_requested
    assert store.request_cancel(run_id, ALICE)
    with pytest.raises(PermissionDenied, match="alice@lab.example"):
        store.delete_run(run_id, BOB)
    assert not store.get_run(run_id).in_trash
    assert [entry.action for entry in store.audit_trail(run_id)] == ["submitted", "cancelled"]


def test_delete_moves_to_the_trash_and_the_owner_or_an_admin_restores(store, clock):
    run_id = finished_run(store)
    clock.now += 60
    store.delete_run(run_id, ALICE)
    record = store.get_run(run_id)
    assert record.in_trash and record.deleted_by == ALICE.email
    assert record.deleted_at.timestamp() == clock.now
    assert store.list_runs() == [] and [r.id for r in store.list_runs(trash=True)] == [run_id]
    assert store.counts()["cancelled"] == 0
    assert store.load_input(run_id)  # nothing is lost yet
    with pytest.raises(RunStateError, match="already in the trash"):
        store.delete_run(run_id, ALICE)
    with pytest.raises(PermissionDenied, match="restore"):
        store.restore_run(run_id, BOB)
    store.restore_run(run_id, ADMIN)
    assert [r.id for r in store.list_runs()] == [run_id] and store.list_runs(trash=True) == []
    with pytest.raises(RunStateError, match="not in the trash"):
        store.restore_run(run_id, ALICE)


def test_only_admins_purge_and_the_audit_trail_outlives_the_run(store, clock):
    run_id = finished_run(store)
    store.delete_run(run_id, ALICE)
    with pytest.raises(PermissionDenied, match="only an admin may purge"):
        store.purge_run(run_id, ALICE)
    clock.now += 5
    store.purge_run(run_id, ADMIN)
    with pytest.raises(RunNotFoundError):
        store.get_run(run_id)
    trail = store.audit_trail(run_id)
    assert [(e.action, e.actor) for e in trail] == [
        ("submitted", ALICE.email), ("cancelled", ADMIN.email), ("deleted", ALICE.email),
        ("purged", ADMIN.email)]
    assert trail[-1].at.timestamp() == clock.now


def test_runs_of_unknown_owner_are_managed_by_admins_only(store):
    run_id = finished_run(store, owner=None)
    with pytest.raises(PermissionDenied, match="unknown .* only an admin may"):
        store.delete_run(run_id, ALICE)
    store.delete_run(run_id, ADMIN)
    assert store.get_run(run_id).in_trash


def test_a_submission_records_owner_and_submitter(store):
    run_id = store.create_run(SMALL.read_bytes(), SMALL.name, owner=ALICE.email,
                              submitter=ADMIN.email)
    record = store.get_run(run_id)
    assert (record.owner, record.submitter) == (ALICE.email, ADMIN.email)
    assert [(e.action, e.actor, e.detail) for e in store.audit_trail(run_id)] == [
        ("submitted", ADMIN.email, f"owner {ALICE.email}")]


def test_the_audit_trail_is_append_only_in_the_database(store):
    run_id = finished_run(store)
    for statement in ("UPDATE audit SET actor = 'nobody'", "DELETE FROM audit"):
        with pytest.raises(DBAPIError, match="append-only"):
            query(store, statement)
    assert [e.actor for e in store.audit_trail(run_id)] == [ALICE.email, ADMIN.email]


def test_retention_purges_the_trash_after_its_days_only(store, clock):
    kept, trashed = finished_run(store, name="kept"), finished_run(store, name="trashed")
    store.delete_run(trashed, ALICE)
    clock.now += 6 * DAY
    assert store.cleanup(0, trash_days=7) == 0
    clock.now += 2 * DAY
    assert store.cleanup(0, trash_days=7) == 1
    assert [r.id for r in store.list_runs()] == [kept] and store.list_runs(trash=True) == []
    assert store.audit_trail(trashed)[-1].action == "purged"
    assert store.audit_trail(trashed)[-1].actor == access.SYSTEM.email


# ---- through the CLI -------------------------------------------------------------------------

@pytest.fixture
def db(db_target, monkeypatch):
    monkeypatch.setenv("GANGLIOSIDE_DB", db_target)
    monkeypatch.setenv("GANGLIOSIDE_ADMINS", "PI@lab.example")
    return db_target


def cli(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_refuses_with_exit_3_naming_the_owner(db, capsys):
    status, out, _ = cli(capsys, "submit", str(SMALL), "--owner", ALICE.email, "--as",
                         "pi@lab.example")
    run_id = out.strip()
    assert status == 0 and RunStore().get_run(run_id).submitter == "pi@lab.example"
    for action in ("cancel", "delete"):
        status, _, err = cli(capsys, "runs", action, run_id, "--as", BOB.email)
        assert status == 3, err
        assert f"bob@lab.example may not {action} run {run_id}" in err
        assert "it belongs to alice@lab.example" in err
    assert RunStore().get_run(run_id).status == "pending"
    assert cli(capsys, "runs", "cancel", run_id, "--as", ALICE.email)[0] == 0
    assert cli(capsys, "runs", "delete", run_id, "--as", ALICE.email)[0] == 0
    assert cli(capsys, "runs", "restore", run_id, "--as", BOB.email)[0] == 3
    assert cli(capsys, "runs", "restore", run_id, "--as", "pi@LAB.example")[0] == 0
    assert cli(capsys, "runs", "delete", run_id, "--as", ALICE.email)[0] == 0
    status, _, err = cli(capsys, "runs", "purge", run_id, "--as", ALICE.email)
    assert status == 3 and "only an admin may purge" in err
    assert cli(capsys, "runs", "purge", run_id, "--as", "pi@lab.example")[0] == 0
    status, out, _ = cli(capsys, "runs", "audit", run_id)
    assert status == 0
    lines = [line.split()[3:] for line in out.splitlines()]
    assert lines == [["submitted", "pi@lab.example", "(owner", "alice@lab.example)"],
                     ["cancelled", ALICE.email], ["deleted", ALICE.email],
                     ["restored", "pi@LAB.example"], ["deleted", ALICE.email],
                     ["purged", "pi@lab.example"]]


def test_cli_purge_empties_only_the_expired_trash(db, capsys):
    store = RunStore()
    run_id = finished_run(store)
    store.delete_run(run_id, ALICE)
    status, _, err = cli(capsys, "runs", "purge")
    assert status == 0 and "purged 0 runs" in err
    status, _, err = cli(capsys, "runs", "purge", "--days", "0")
    assert status == 0 and "purged 1 runs" in err
    assert cli(capsys, "runs", "show", run_id)[0] == 2
