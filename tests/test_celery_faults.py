"""Faults and concurrency of the Celery profile on real servers and worker processes: small
versions of ``bench/scale_out.py``'s counts (scenarios in ``celery_scenarios.py``)."""

from __future__ import annotations

import pytest

from tests.celery_scenarios import kill_workers, many_submitters, restart_postgresql
from tests.postgresql_server import PostgreSQLServer

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]


def assert_every_run_ended_once(outcome) -> None:
    assert (outcome.lost, outcome.stuck, outcome.partial, outcome.completed_twice) == (
        0, 0, 0, 0), outcome
    assert outcome.integrity == "ok"
    failed = outcome.statuses["failed"]
    assert failed == outcome.failed_worker_died, outcome  # no other failure
    assert outcome.statuses["completed"] + failed == outcome.submitted


def test_workers_killed_at_random_moments_lose_or_double_no_run(postgresql_server, broker,
                                                                 tmp_path):
    with postgresql_server.database() as db:
        outcome = kill_workers(broker, db, tmp_path, runs=8, kills=5)
    assert outcome.faults == 5
    assert outcome.requeued + outcome.failed_worker_died >= 1  # kills did hit running runs
    assert_every_run_ended_once(outcome)


def test_a_postgresql_restart_mid_run_ends_every_run(broker, tmp_path):
    server = PostgreSQLServer().start()
    try:
        with server.database() as db:
            outcome = restart_postgresql(server, broker, db, tmp_path, runs=5)
    finally:
        server.stop()
    assert_every_run_ended_once(outcome)
    assert outcome.statuses["completed"] == outcome.submitted


def test_eight_submitting_processes_three_workers_on_two_hosts(postgresql_server, broker,
                                                               tmp_path):
    with postgresql_server.database() as db:
        outcome = many_submitters(broker, db, tmp_path, submitters=8, runs_each=5)
    assert_every_run_ended_once(outcome)
    assert outcome.statuses["completed"] == outcome.submitted == 40
    assert outcome.lock_errors == 0
