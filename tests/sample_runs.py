"""Completed runs of the lab's sample files, shared by the AppTest and browser suites."""

from __future__ import annotations

from pathlib import Path

from ganglioside.runs.executors import SynchronousExecutor
from ganglioside.params import AnalysisParams
from ganglioside.runs.store import RunStore

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def completed_run(store: RunStore, file_name: str = "testwork_user.csv",
                  params: AnalysisParams = AnalysisParams(), **options) -> str:
    """A run of a sample file, executed to its end through the real job function."""
    run_id = store.create_run((DATA / file_name).read_bytes(), file_name, params, **options)
    SynchronousExecutor(store).submit(run_id)
    assert store.get_run(run_id).status == "completed"
    return run_id
