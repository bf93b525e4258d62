"""The reconciler: pending runs that the broker lost are sent again.

A run is created in the store first and its message sent second, so the store is right when they
disagree: a Redis restarted without persistence, a submit while the broker was down, or a message
dropped any other way leaves a run pending with no message. ``reconcile`` compares the pending
runs with the messages waiting in the broker's queue and sends each missing one. A message
already taken by a worker is not in the queue; sending its run again is harmless, since a second
delivery finds the run claimed and does nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from celery import Celery

from .store import RunStore

GRACE_SECONDS = 10.0  # a run this young may be between its creation and its message


def reconcile(store: RunStore, app: Celery, queue: str, send: Callable[[str], None],
              grace: float = GRACE_SECONDS) -> list[str]:
    """Send every pending run older than ``grace`` seconds that has no message waiting in
    ``queue``; return their ids."""
    cutoff = time.time() - grace
    pending = [record.id for record in store.list_runs(status="pending")
               if record.created_at.timestamp() < cutoff]
    if not pending:
        return []
    waiting = queued_task_ids(app, queue)
    missing = [run_id for run_id in reversed(pending) if run_id not in waiting]  # oldest first
    for run_id in missing:
        send(run_id)
    return missing


def queued_task_ids(app: Celery, queue: str) -> set[str]:
    """Ids of the task messages waiting in a queue of a Redis broker (every priority level)."""
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        client = channel.client
        ids = set()
        for priority in channel.priority_steps:
            for message in client.lrange(channel._q_for_pri(queue, priority), 0, -1):
                ids.add(json.loads(message)["headers"]["id"])
        return ids
