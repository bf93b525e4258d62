"""Fixtures shared by the store's suites: a run-store database on each backend.

``db_target`` runs a test once on an SQLite file and once on a fresh database of a real
PostgreSQL server that the session starts (``postgresql_server.py``). A server that cannot start
fails those tests: it never skips them. ``-m "not postgresql"`` deselects them on purpose.
"""

from __future__ import annotations

import pytest

from tests.postgresql_server import PostgreSQLServer

BACKENDS = [pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgresql)]


@pytest.fixture(scope="session")
def postgresql_server():
    server = PostgreSQLServer().start()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def db_target(request, tmp_path):
    """Where a test's run store lives: an SQLite file path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        yield str(tmp_path / "store.db")
        return
    with request.getfixturevalue("postgresql_server").database() as url:
        yield url


@pytest.fixture(scope="session")
def redis_server():
    """A real Redis server (``redis_server.py``) for the Celery profile's tests; one that cannot
    start fails them, it never skips them."""
    from tests.redis_server import RedisServer

    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def broker(redis_server, monkeypatch):
    """The URL of an emptied Redis database, also the Celery broker of this test process."""
    import redis

    from ganglioside.runs.celery_app import app

    url = redis_server.url()
    redis.Redis.from_url(url).flushdb()
    monkeypatch.setenv("GANGLIOSIDE_BROKER", url)
    app.conf.broker_url = url
    return url
