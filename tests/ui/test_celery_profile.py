"""The dashboard in the Celery profile: with GANGLIOSIDE_BROKER set, the Analyze page's submit
goes to a real Redis broker and a real Celery worker process runs it; the pages do not change."""

from __future__ import annotations

from apptest_support import by_key, no_exception, open_page, texts
from tests.celery_workers import celery_environment, start_worker, wait_until


def test_a_run_submitted_from_the_page_runs_on_a_celery_worker(app, store, broker, tmp_path):
    worker = start_worker(celery_environment(broker, str(store.path), tmp_path / "host",
                                             heartbeat_interval=1, stale_after=4), "worker")
    try:
        by_key(app.button, "analyze_demo").click().run()
        by_key(app.button, "analyze_run").click().run()
        no_exception(app)
        run_id = app.query_params["run"]
        assert wait_until(lambda: store.get_run(run_id).is_finished, 90), worker.log_text()
    finally:
        worker.stop()
    record = store.get_run(run_id)
    assert record.status == "completed", record.error
    assert f"run {run_id}: completed" in worker.log_text()  # not the page's own process
    app.run()
    assert "Analysis complete" in texts(app.success)
    open_page(app, "results", run_id)
    no_exception(app)
