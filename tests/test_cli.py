"""Command line end to end: analyze, demo, and the run-store commands."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook

from ganglioside import analyze, read_table
from ganglioside.cli import main
from ganglioside.params import PARAMETER_SPECS
from ganglioside.runs.store import RunStore

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLE = DATA / "testwork_user.csv"


@pytest.fixture
def db(db_target, monkeypatch):
    """The store the commands use ($GANGLIOSIDE_DB): an SQLite file, then a PostgreSQL URL."""
    monkeypatch.setenv("GANGLIOSIDE_DB", db_target)
    return db_target


def run_cli(*args: str, env: dict | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganglioside", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def csv_rows(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


# ---- analyze ------------------------------------------------------------------------------------

def test_analyze_writes_every_export_and_reports(tmp_path):
    out = tmp_path / "out"
    done = run_cli("analyze", str(SAMPLE), "--out", str(out), "--outlier-threshold", "2",
                   "--no-apply-fragment-status", "--sample-type", "porcine")
    assert done.returncode == 0, done.stderr
    expected = analyze(read_table(SAMPLE), read_params(out))
    compounds = csv_rows(out / "compounds.csv")
    assert len(compounds) == 323
    assert [row["status"] for row in compounds] == list(expected.rows["status"])
    regression = csv_rows(out / "regression.csv")
    assert [row["prefix"] for row in regression] == list(expected.groups["prefix"])
    assert list(regression[0]) == list(expected.groups.columns)
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert document["summary"] == expected.summary
    assert load_workbook(out / "results.xlsx").sheetnames[:2] == ["Compounds", "Regression"]
    summary = expected.summary
    assert f"testwork_user.csv: 323 rows, {summary['anchors']} anchors." in done.stdout
    assert f"{summary['valid']} valid, {summary['outlier']} outlier" in done.stdout
    assert done.stdout.count("\n") == 1
    assert "[ 10%] Preprocessing data…" in done.stderr
    assert "[100%] Analysis complete" in done.stderr


def read_params(out: Path):
    from ganglioside.params import AnalysisParams

    parameters = json.loads((out / "results.json").read_text(encoding="utf-8"))["parameters"]
    params = AnalysisParams.from_dict(parameters)
    assert (params.outlier_threshold, params.apply_fragment_status, params.sample_type) == (
        2.0, False, "porcine")
    return params


def test_analyze_default_output_folder_is_named_after_the_input(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["analyze", str(DATA / "testwork_small.csv")]) == 0
    assert sorted(p.name for p in (tmp_path / "testwork_small_results").iterdir()) == [
        "compounds.csv", "regression.csv", "results.json", "results.xlsx"]


def test_every_parameter_has_a_flag():
    help_text = run_cli("analyze", "--help").stdout
    for spec in PARAMETER_SPECS:
        assert "--" + spec.name.replace("_", "-") in help_text
    assert "--no-apply-fragment-status" in help_text and "--sample-type" in help_text


@pytest.mark.parametrize("args, message", [
    (["--r2-threshold", "2"], "error: r2_threshold = 2.0 is outside its range 0.5 – 0.999"),
    (["--oac-shift-min", "1", "--oac-shift-max", "0.5"], "must be greater than oac_shift_min"),
    (["--min-anchors", "3.5"], "invalid int value: '3.5'"),
])
def test_bad_parameters_exit_2_without_traceback(tmp_path, args, message):
    done = run_cli("analyze", str(SAMPLE), "--out", str(tmp_path / "o"), *args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()


def test_bad_input_exits_2_with_the_reader_message(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Compound,Time\nGM1,1\n")
    done = run_cli("analyze", str(bad), "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: Cannot read 'bad.csv'")
    assert "Traceback" not in done.stderr and done.stdout == ""
    missing = run_cli("analyze", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


# ---- demo ---------------------------------------------------------------------------------------

def test_demo_writes_a_table_that_analyze_reads(tmp_path, capsys):
    target = tmp_path / "demo" / "demo.csv"
    assert main(["demo", "--rows", "120", "--out", str(target), "--seed", "3"]) == 0
    assert len(read_table(target).frame) == 120
    assert main(["demo", "--rows", "120", "--out", str(tmp_path / "again.csv"),
                 "--seed", "3"]) == 0
    assert (tmp_path / "again.csv").read_bytes() == target.read_bytes()
    assert main(["analyze", str(target), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert main(["demo", "--rows", "0", "--out", str(target)]) == 2
    assert "error: --rows: n_rows = 0 must be at least 1" in capsys.readouterr().err


# ---- run store commands -------------------------------------------------------------------------

def test_submit_worker_and_runs_commands(db, tmp_path, capsys):
    assert main(["submit", str(SAMPLE), "--name", "lab run", "--user", "kim",
                 "--min-anchors", "4"]) == 0
    run_id = capsys.readouterr().out.strip()
    assert len(run_id) == 16 and RunStore(db).get_run(run_id).status == "pending"
    assert main(["submit", str(SAMPLE), "--name", "lab run", "--user", "kim",
                 "--min-anchors", "4"]) == 2
    assert "already pending" in capsys.readouterr().err
    assert main(["submit", str(SAMPLE), "--r2-threshold", "0.1"]) == 2
    assert "r2_threshold" in capsys.readouterr().err

    assert main(["runs", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split()[:2] == ["ID", "STATUS"] and len(listing) == 2
    assert listing[1].split()[:3] == [run_id, "pending", "0%"] and "lab run" in listing[1]

    assert main(["worker", "--once"]) == 0
    assert "executed 1 runs" in capsys.readouterr().err
    record = RunStore().get_run(run_id)
    assert record.status == "completed" and record.parameters["min_anchors"] == 4

    assert main(["runs", "show", run_id]) == 0
    shown = capsys.readouterr().out
    assert "status: completed" in shown and "user: kim" in shown
    assert "  min_anchors: 4" in shown and "  total_rows: 323" in shown
    assert main(["runs", "list", "--status", "pending"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1

    assert main(["runs", "cleanup", "--days", "0"]) == 0
    assert main(["runs", "cleanup", "--days", "30"]) == 0
    assert "deleted 0 finished runs" in capsys.readouterr().err
    assert main(["runs", "delete", run_id]) == 0
    assert main(["runs", "show", run_id]) == 2
    assert f"There is no run with id '{run_id}'" in capsys.readouterr().err


def test_active_runs_cannot_be_deleted_but_can_be_cancelled(db, capsys):
    assert main(["submit", str(SAMPLE)]) == 0
    run_id = capsys.readouterr().out.strip()
    assert main(["runs", "delete", run_id]) == 2
    assert "cancel it before deleting it" in capsys.readouterr().err
    assert main(["runs", "cancel", run_id]) == 0
    assert RunStore().get_run(run_id).status == "cancelled"
    assert main(["runs", "cancel", run_id]) == 2
    assert main(["runs", "delete", run_id]) == 0


def test_worker_process_runs_queued_runs_and_stops_cleanly_on_sigterm(db):
    store = RunStore()
    ids = [store.create_run(SAMPLE.read_bytes(), SAMPLE.name, name=f"run {i}") for i in range(3)]
    worker = subprocess.Popen([sys.executable, "-m", "ganglioside", "worker",
                               "--poll-interval", "0.1"], cwd=REPO, env=os.environ.copy(),
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while store.counts()["completed"] < 3:
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    log = worker.stderr.read()
    assert f"worker started on {store.location}" in log and "worker stopped" in log
    assert [store.get_run(i).attempts for i in ids] == [1, 1, 1]
    shown = run_cli("runs", "show", ids[0])
    assert shown.returncode == 0 and "status: completed" in shown.stdout
    listed = run_cli("runs", "list", "--status", "completed").stdout.splitlines()
    assert {line.split()[0] for line in listed[1:]} == set(ids)


def test_regression_csv_has_the_formula_guard_of_the_exports():
    from dataclasses import replace

    from ganglioside.cli import _write_regression_csv

    result = analyze(read_table(DATA / "testwork_small.csv"))
    groups = result.groups.copy()
    groups.loc[0, "notes"] = "=HYPERLINK(\"http://x\")"
    stream = io.BytesIO()
    _write_regression_csv(replace(result, groups=groups), stream)
    rows = list(csv.reader(io.StringIO(stream.getvalue().decode("utf-8-sig"))))
    assert rows[0] == list(groups.columns)
    assert rows[1][list(groups.columns).index("notes")] == "'=HYPERLINK(\"http://x\")"
    assert len(rows) == len(groups) + 1


def test_algorithm_flag_reproduces_the_specification(tmp_path, capsys):
    out = tmp_path / "v1"
    assert main(["analyze", str(SAMPLE), "--out", str(out), "--algorithm", "1.0"]) == 0
    capsys.readouterr()
    result = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert result["algorithm_version"] == "1.0"
    assert result["summary"]["unverified"] == 120 and result["summary"]["fragment"] == 70
