"""Where the store lives and how it reaches it: file paths and URLs, unreachable servers, text
PostgreSQL would refuse, connections across fork, and runs created or deleted at the same
moment."""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
import pytest
from sqlalchemy import event

from ganglioside.runs.database import DatabaseError, database_url
from ganglioside.runs.store import DuplicateRunError, RunStore
from tests.store_support import ADMIN, query

TABLE = b"Name,RT\nGM1(36:1;O2),10\n"


@pytest.fixture
def store(db_target):
    store = RunStore(db_target)
    yield store
    store.close()


# ---- naming the database ----------------------------------------------------------------------

def test_a_path_names_an_sqlite_file_and_a_url_a_server(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert database_url("runs.db").render_as_string() == f"sqlite:///{tmp_path}/runs.db"
    assert database_url(tmp_path / "a b.db").database == str(tmp_path / "a b.db")
    assert database_url("sqlite:///relative.db").database == "relative.db"
    for url in ("postgresql://kim@db.lab:5433/runs", "postgres://kim@db.lab:5433/runs",
                "postgresql+psycopg://kim@db.lab:5433/runs"):
        parsed = database_url(url)
        assert (parsed.drivername, parsed.host, parsed.port, parsed.database) == (
            "postgresql+psycopg", "db.lab", 5433, "runs")
    monkeypatch.setenv("GANGLIOSIDE_DB", "postgresql://kim@db.lab/runs")
    assert database_url().database == "runs"
    monkeypatch.setenv("GANGLIOSIDE_DB", "  ")
    assert database_url().database == str(tmp_path / "data" / "ganglioside.db")


@pytest.mark.parametrize("target, problem", [
    ("mysql://kim@db.lab/runs", "unsupported database"),
    ("sqlite://", "in-memory"),
    ("sqlite:///:memory:", "in-memory"),
    ("postgresql://kim@db.lab:port/runs", "neither a file path nor a database URL"),
])
def test_a_database_that_cannot_be_used_is_named_in_the_error(target, problem):
    with pytest.raises(DatabaseError, match=problem):
        database_url(target)


def test_the_location_shown_to_people_has_no_password(tmp_path):
    store = RunStore("postgresql://kim:s3cret@db.lab:5433/runs")
    assert store.location == "postgresql+psycopg://kim:***@db.lab:5433/runs"
    assert store.path is None
    assert RunStore(tmp_path / "x.db").location == str(tmp_path / "x.db")


def test_an_unreachable_server_is_a_clear_error_without_the_password():
    with socket.socket() as probe:  # a free port: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = RunStore(f"postgresql://kim:s3cret@127.0.0.1:{port}/runs")
    with pytest.raises(DatabaseError) as refused:
        store.counts()
    message = str(refused.value)
    assert message.startswith(f"Cannot open the run store at postgresql+psycopg://kim:***@"
                              f"127.0.0.1:{port}/runs: ")
    assert "s3cret" not in message and "\n" not in message


# ---- what is stored --------------------------------------------------------------------------

def test_nul_characters_are_stored_as_replacement_characters(store):
    run_id = store.create_run(TABLE, "odd\x00name.csv", name="a\x00b", user="k\x00m")
    run = store.get_run(run_id)
    assert (run.file_name, run.name, run.user) == ("odd\ufffdname.csv", "a\ufffdb", "k\ufffdm")
    claim = store.claim_run(run_id)
    store.fail_run(claim, "Cannot read cell '1\x002'")
    assert store.get_run(run_id).error == "Cannot read cell '1\ufffd2'"


# ---- at the same moment -------------------------------------------------------------------------

def run_together(action, count: int) -> list:
    """Call action(i) from count threads released at once; each outcome, value or exception."""
    start, outcomes = threading.Barrier(count), [None] * count

    def call(number: int) -> None:
        start.wait()
        try:
            outcomes[number] = action(number)
        except Exception as error:  # returned for the test to inspect
            outcomes[number] = error

    threads = [threading.Thread(target=call, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_the_same_run_submitted_at_once_is_created_once(store):
    for attempt in range(5):
        outcomes = run_together(lambda _: store.create_run(TABLE, "t.csv", name=str(attempt)),
                                8)
        created = [outcome for outcome in outcomes if isinstance(outcome, str)]
        refused = [outcome for outcome in outcomes if isinstance(outcome, DuplicateRunError)]
        assert len(created) == 1 and len(refused) == 7, outcomes
        assert {error.existing_run_id for error in refused} == set(created)


def test_deleting_the_last_run_of_an_input_keeps_it_for_a_run_being_created(store):
    """A new run of an input is being created (its input row written, its run row not yet)
    when the last other run of that input is deleted: the input must stay."""
    old = store.create_run(TABLE, "t.csv", name="old")
    store.request_cancel(old, ADMIN)
    creating, creator = threading.Event(), threading.current_thread()

    def hold_the_run_insert(conn, cursor, statement, *args) -> None:
        if statement.startswith("INSERT INTO runs") and threading.current_thread() is creator:
            creating.set()
            time.sleep(1.0)  # the delete runs now, in the middle of create_run

    store.delete_run(old, ADMIN)
    deleter = threading.Thread(target=lambda: creating.wait(30) and store.purge_run(old, ADMIN))
    deleter.start()
    event.listen(store.database.engine, "before_cursor_execute", hold_the_run_insert)
    try:
        new = store.create_run(TABLE, "t.csv", name="new")
    finally:
        event.remove(store.database.engine, "before_cursor_execute", hold_the_run_insert)
        deleter.join(60)
    assert [run.id for run in store.list_runs()] == [new]
    assert store.load_input(new) == TABLE
    assert store.integrity_check() == "ok"


# ---- processes ----------------------------------------------------------------------------------

def session_of(store: RunStore) -> int | None:
    """The server process serving this connection (PostgreSQL); None for SQLite."""
    if store.database.backend != "postgresql":
        return None
    return query(store, "SELECT pg_backend_pid()")[0][0]


def in_forked_child(store: RunStore, answers) -> None:
    idle = store.database.engine.pool.checkedin()
    answers.put((idle, session_of(store), store.create_run(TABLE, "t.csv", name="child")))


def test_a_forked_child_never_uses_its_parents_connections(store):
    store.create_run(TABLE, "t.csv", name="parent")
    parent_session = session_of(store)
    assert store.database.engine.pool.checkedin() == 1  # the parent's idle connection
    context = multiprocessing.get_context("fork")
    answers = context.Queue()
    child = context.Process(target=in_forked_child, args=(store, answers))
    child.start()
    idle, child_session, child_run = answers.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0
    assert idle == 0  # the child started with an empty pool
    if store.database.backend == "postgresql":
        assert child_session != parent_session  # its own server session
    assert session_of(store) == parent_session  # the parent's connection still works
    assert store.get_run(child_run).name == "child"
