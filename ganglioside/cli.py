"""Command line: ``python -m ganglioside analyze|demo|submit|worker|beat|runs``.

``analyze`` runs one file in the foreground and writes its exports; the other commands work on
the shared run store ($GANGLIOSIDE_DB), the same one the dashboard uses. With $GANGLIOSIDE_BROKER
set (the Celery profile), ``submit`` also sends the run to the broker, ``worker`` is a Celery
worker and ``beat`` the Celery scheduler of the upkeep.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from . import export
from .analysis import analyze
from .demo import make_demo_table
from .errors import GangliosideError
from .runs.executors import (BackgroundWorker, CeleryExecutor, broker_from_env,
                             retention_days_from_env)
from .params import ALGORITHM_VERSIONS, PARAMETER_SPECS, SAMPLE_TYPES, AnalysisParams
from .reader import read_table
from .result import AnalysisResult
from .runs.access import PermissionDenied, actor_for, trash_days_from_env
from .runs.store import STATUSES, RunRecord, RunStore

USAGE_ERROR = 2
REFUSED = 3  # the acting user may not do this to the run (access.py)


class CommandError(Exception):
    """A problem the user can fix; printed as one message, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.command(args) or 0
    except PermissionDenied as error:
        print(f"refused: {error}", file=sys.stderr)
        return REFUSED
    except (CommandError, GangliosideError, OSError) as error:
        print(f"error: {_error_text(error)}", file=sys.stderr)
        return USAGE_ERROR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ganglioside",
        description="Check LC-MS/MS identifications of gangliosides (see README).")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    analyze_cmd = commands.add_parser("analyze", help="analyze one table and write its exports")
    analyze_cmd.add_argument("input", type=Path, help="CSV or XLSX peak table")
    analyze_cmd.add_argument("--out", type=Path, metavar="DIR",
                             help="output folder (default <input>_results)")
    analyze_cmd.add_argument("--sheet", metavar="NAME",
                             help="XLSX sheet name (default: the first sheet)")
    add_parameter_flags(analyze_cmd)
    analyze_cmd.set_defaults(command=cmd_analyze)

    demo_cmd = commands.add_parser("demo", help="write a synthetic demo table")
    demo_cmd.add_argument("--rows", type=int, required=True, metavar="N",
                          help="number of data rows")
    demo_cmd.add_argument("--out", type=Path, required=True, metavar="FILE",
                          help="file to write (.csv or .xlsx)")
    demo_cmd.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo_cmd.set_defaults(command=cmd_demo)

    submit_cmd = commands.add_parser("submit", help="queue a run in the shared store")
    submit_cmd.add_argument("file", type=Path, help="CSV or XLSX peak table")
    submit_cmd.add_argument("--name", help="run name (default: the file name)")
    submit_cmd.add_argument("--sheet", metavar="NAME",
                            help="XLSX sheet name (default: the first sheet)")
    submit_cmd.add_argument("--user", default=_login_name(),
                            help="name shown in History (default: login)")
    submit_cmd.add_argument("--owner", metavar="EMAIL",
                            help="who owns the run: may cancel and delete it (default: --as)")
    add_actor_flag(submit_cmd, "who submits")
    add_parameter_flags(submit_cmd)
    submit_cmd.set_defaults(command=cmd_submit)

    worker_cmd = commands.add_parser(
        "worker", help="execute queued runs until stopped (a Celery worker when "
                       "$GANGLIOSIDE_BROKER is set)",
        description="Execute queued runs until stopped (SIGTERM or Ctrl-C). A run store that "
                    "cannot be used when the worker starts (damaged, unwritable, server "
                    "unreachable) ends it at once with one message and exit status 2; a fault "
                    "while it runs is logged and the step tried again at the next poll, so a "
                    "database server restart does not end it.")
    worker_cmd.add_argument("--once", action="store_true",
                            help="execute the runs queued now, then exit (embedded worker only)")
    worker_cmd.add_argument("--threads", type=int, default=1,
                            help="parallel runs (default 1; Celery: worker processes)")
    worker_cmd.add_argument("--poll-interval", type=float, default=1.0, metavar="SECONDS")
    worker_cmd.add_argument("--heartbeat-interval", type=float, default=5.0, metavar="SECONDS")
    worker_cmd.add_argument("--stale-after", type=float, default=60.0, metavar="SECONDS",
                            help="a run whose heartbeat is older is requeued (default 60)")
    worker_cmd.add_argument("--retention-days", type=float, default=None, metavar="DAYS",
                            help="delete finished runs older than this (default "
                                 "$GANGLIOSIDE_RETENTION_DAYS or 30; 0 keeps them)")
    worker_cmd.set_defaults(command=cmd_worker)

    beat_cmd = commands.add_parser("beat", help="Celery profile: schedule stale-run recovery, "
                                   "the queue reconciler and retention clean-up")
    beat_cmd.add_argument("--schedule", type=Path, default=Path("celerybeat-schedule"),
                          metavar="FILE", help="beat's state file (default ./celerybeat-schedule)")
    beat_cmd.set_defaults(command=cmd_beat)

    runs_cmd = commands.add_parser("runs", help="list, show, cancel, delete or clean up runs")
    runs = runs_cmd.add_subparsers(required=True, metavar="ACTION")
    list_cmd = runs.add_parser("list", help="runs, newest first")
    list_cmd.add_argument("--status", choices=STATUSES)
    list_cmd.add_argument("--text", help="only runs whose name, user, file or id contains this")
    list_cmd.add_argument("--limit", type=int)
    list_cmd.add_argument("--trash", action="store_true", help="the runs in the trash")
    list_cmd.set_defaults(command=cmd_runs_list)
    for action, function, text in (("show", cmd_runs_show, "details of one run"),
                                   ("audit", cmd_runs_audit, "who did what to one run, when"),
                                   ("cancel", cmd_runs_cancel, "cancel a pending/running run"),
                                   ("delete", cmd_runs_delete,
                                    "move a finished run to the trash"),
                                   ("restore", cmd_runs_restore, "take a run out of the trash")):
        action_cmd = runs.add_parser(action, help=text)
        action_cmd.add_argument("run_id", metavar="ID")
        if action in ("cancel", "delete", "restore"):
            add_actor_flag(action_cmd, "who asks; refused (exit 3) unless the owner or an admin")
        action_cmd.set_defaults(command=function)
    purge_cmd = runs.add_parser("purge", help="empty the trash of runs past their days, or "
                                              "purge one run in the trash now (admins)")
    purge_cmd.add_argument("run_id", metavar="ID", nargs="?")
    purge_cmd.add_argument("--days", type=float, default=None,
                           help="days a run stays in the trash (default "
                                "$GANGLIOSIDE_TRASH_DAYS or 30)")
    add_actor_flag(purge_cmd, "who asks, with ID (admins only)")
    purge_cmd.set_defaults(command=cmd_runs_purge)
    cleanup_cmd = runs.add_parser("cleanup", help="delete finished runs older than N days "
                                                   "(and empty the trash past its days)")
    cleanup_cmd.add_argument("--days", type=float, default=None,
                             help="default $GANGLIOSIDE_RETENTION_DAYS or 30; 0 keeps all")
    cleanup_cmd.set_defaults(command=cmd_runs_cleanup)
    return parser


def add_parameter_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per analysis parameter (spec 12), generated from PARAMETER_SPECS."""
    defaults = AnalysisParams()
    group = parser.add_argument_group("analysis parameters")
    for spec in PARAMETER_SPECS:
        flag = "--" + spec.name.replace("_", "-")
        default = getattr(defaults, spec.name)
        if spec.kind is bool:
            group.add_argument(flag, dest=spec.name, action=argparse.BooleanOptionalAction,
                               default=None, help=f"{spec.help} (default {default})")
        else:
            unit = f" {spec.unit}" if spec.unit else ""
            group.add_argument(flag, dest=spec.name, type=spec.kind, default=None,
                               metavar="N" if spec.kind is int else "X",
                               help=f"{spec.help} Range {spec.minimum:g}–{spec.maximum:g}"
                                    f"{unit}, default {default:g}.")
    group.add_argument("--sample-type", dest="sample_type", choices=SAMPLE_TYPES, default=None,
                       help=f"recorded with the results (default {defaults.sample_type})")
    group.add_argument("--algorithm-version", "--algorithm", dest="algorithm_version",
                       choices=ALGORITHM_VERSIONS, default=None,
                       help=f"algorithm to run (default {defaults.algorithm_version}; "
                            "1.0 reproduces the specification exactly)")


def add_actor_flag(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument("--as", dest="actor", metavar="EMAIL", default=_login_name(),
                        help=f"{text} (default: login name; admins: $GANGLIOSIDE_ADMINS)")


def params_from_args(args: argparse.Namespace) -> AnalysisParams:
    """AnalysisParams with the flags given, defaults elsewhere; ParameterError if out of range."""
    names = [spec.name for spec in PARAMETER_SPECS] + ["sample_type", "algorithm_version"]
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    return AnalysisParams(**given).validate()


# ---- analyze and demo ----------------------------------------------------------------------

def cmd_analyze(args: argparse.Namespace) -> int:
    params = params_from_args(args)
    _require_file(args.input)
    table = read_table(args.input, sheet=args.sheet)
    for warning in table.warnings:
        if warning.code == "sheet_chosen":  # the user asked for no sheet: say which was read
            print(f"note: {warning.message}", file=sys.stderr)
    result = analyze(table, params, progress=_print_progress)
    out = args.out or Path(f"{args.input.stem}_results")
    out.mkdir(parents=True, exist_ok=True)
    write_exports(result, out, lambda name: _print_progress(1.0, "export", f"Writing {name}…"))
    print(summary_paragraph(result, args.input.name, out))
    return 0


def write_exports(result: AnalysisResult, out: Path,
                  starting: Callable[[str], object] = lambda file_name: None) -> None:
    """The four export files in ``out``, each streamed (no export is held in memory); calls
    ``starting(file_name)`` before each. (Two threads were measured on the shared 2-core
    machine and gained nothing, so the files are written one after the other.)"""
    for file_name, write in EXPORT_FILES.items():
        starting(file_name)
        with open(out / file_name, "wb") as stream:
            write(result, stream)


def _write_regression_csv(result: AnalysisResult, stream) -> None:
    """The regression table (13.2) through the rows exporter, so it gets the same CSV rules."""
    export.write_csv(replace(result, rows=result.groups), stream)


EXPORT_FILES = {"compounds.csv": export.write_csv, "regression.csv": _write_regression_csv,
                "results.xlsx": export.write_xlsx, "results.json": export.write_json}
"""The files ``analyze`` writes, and their writers."""


def _print_progress(fraction: float, step: str, message: str) -> None:
    print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)


def summary_paragraph(result: AnalysisResult, input_name: str, out: Path) -> str:
    """One paragraph: rows, final statuses, Rule 1 groups, Rules 4-5, warnings, where written."""
    s = result.summary
    rate = ("n/a" if s.get("success_rate") is None else f"{s['success_rate']:.1%}")
    return (
        f"{input_name}: {s['total_rows']} rows, {s['anchors']} anchors. "
        f"Final status: {s['valid']} valid, {s['outlier']} outlier, {s['fragment']} fragment, "
        f"{s.get('possible_isomer', 0)} possible isomer, "
        f"{s['unverified']} unverified, {s['invalid']} invalid (success rate {rate}). "
        f"Rule 1: {s['groups']} prefix groups, {s['groups_accepted']} accepted, "
        f"{s['groups_rejected']} rejected, {s['groups_without_model']} without enough anchors; "
        f"{s['anchors_disagreeing']} anchors disagree. "
        f"Rule 4: {s['oac_consistent']} consistent, {s['oac_inconsistent']} inconsistent, "
        f"{s['oac_not_verifiable']} not verifiable O-acetyl shifts. "
        f"Rule 5: {s['fragment_events']} in-source fragment events, {s['fragment_rows']} "
        f"fragment rows. {len(result.warnings)} warnings. Results written to {out}/.")


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        frame = make_demo_table(args.rows, seed=args.seed)
    except ValueError as error:  # too few rows
        raise CommandError(f"--rows: {error}") from None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.suffix.lower() == ".xlsx":
        frame.to_excel(args.out, index=False)
    else:
        frame.to_csv(args.out, index=False)
    print(f"wrote {len(frame)} demo rows to {args.out}", file=sys.stderr)
    return 0


# ---- the run store ---------------------------------------------------------------------------

def cmd_submit(args: argparse.Namespace) -> int:
    params = params_from_args(args)
    _require_file(args.file)
    submitter = _actor(args).email
    run_id = RunStore().create_run(args.file.read_bytes(), args.file.name, params,
                                   name=args.name, user=args.user, sheet=args.sheet,
                                   owner=args.owner or submitter, submitter=submitter)
    if broker_from_env():
        CeleryExecutor().submit(run_id)
    print(run_id)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """The embedded worker until a stop signal (``--once``: the runs queued now), or a Celery
    worker. The store is opened (and stale runs recovered) before the threads start, so a store
    broken at start ends the command with its message and status 2 instead of a log line every
    poll; a fault after that is logged by the worker's threads, which try again at the next
    poll (a PostgreSQL restart, a lock held a while), and never ends the worker."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    if broker_from_env():
        return _celery_worker(args)
    worker = BackgroundWorker(RunStore(), threads=args.threads, poll_interval=args.poll_interval,
                              retention_days=args.retention_days,
                              stale_after=args.stale_after,
                              heartbeat_interval=args.heartbeat_interval)
    stop = threading.Event()
    _on_stop_signals(lambda: (stop.set(), worker.request_stop()))
    if args.once:
        executed = worker.drain()
        print(f"executed {executed} runs", file=sys.stderr)
        return 0
    worker.recover()  # opens the store: a StoreFault now ends the command with its message
    worker.start()
    print(f"worker started on {worker.store.location}", file=sys.stderr, flush=True)
    while not stop.wait(1.0):
        pass
    worker.stop()
    print("worker stopped", file=sys.stderr)
    return 0


def _celery_worker(args: argparse.Namespace) -> int:
    if args.once:
        raise CommandError("--once works with the embedded worker only; unset "
                           "GANGLIOSIDE_BROKER, or stop the Celery worker with Ctrl-C")
    from .runs.celery_app import QUEUE, UPKEEP_QUEUE, app
    app.worker_main(["worker", "--loglevel=INFO", f"--concurrency={max(args.threads, 1)}",
                     f"--queues={QUEUE},{UPKEEP_QUEUE}",
                     f"--hostname=ganglioside-{os.getpid()}@%h"])
    return 0


def cmd_beat(args: argparse.Namespace) -> int:
    if not broker_from_env():
        raise CommandError("beat schedules the Celery profile's upkeep: set GANGLIOSIDE_BROKER "
                           "(the embedded worker does its upkeep itself)")
    from .runs.celery_app import app
    app.start(["beat", "--loglevel=INFO", f"--schedule={args.schedule}"])
    return 0


def _on_stop_signals(handler: Callable[[], object]) -> None:
    """Call handler on the first SIGTERM/SIGINT; a second one ends the process at once."""
    def handle(signum, frame) -> None:
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, signal.SIG_DFL)
        handler()

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, handle)


def cmd_runs_list(args: argparse.Namespace) -> int:
    records = RunStore().list_runs(status=args.status, text=args.text, limit=args.limit,
                                   trash=args.trash)
    header = ("ID", "STATUS", "PROGRESS", "CREATED (UTC)", "DURATION", "OWNER", "USER", "NAME")
    lines = [header] + [_list_line(record) for record in records]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    for line in lines:
        print("  ".join([cell.ljust(width) for cell, width in zip(line, widths)] + [line[-1]]))
    return 0


def _list_line(record: RunRecord) -> tuple[str, ...]:
    duration = record.duration_seconds
    return (record.id, record.status, f"{record.progress:.0%}",
            record.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            "" if duration is None else f"{duration:.1f} s", _safe(record.owner or "unknown"),
            _safe(record.user or ""),
            _safe(record.name))


def cmd_runs_show(args: argparse.Namespace) -> int:
    record = RunStore().get_run(args.run_id)
    fields = {
        "id": record.id, "name": record.name, "user": record.user,
        "owner": record.owner or "unknown (only admins may manage it)",
        "submitter": record.submitter, "in trash since": record.deleted_at,
        "deleted by": record.deleted_by,
        "status": record.status, "progress": f"{record.progress:.0%}",
        "step": record.step, "message": record.message, "error": record.error,
        "file": record.file_name, "sheet": record.sheet, "input sha256": record.input_sha256,
        "input bytes": record.input_size, "created": record.created_at,
        "started": record.started_at, "finished": record.completed_at,
        "last heartbeat": record.heartbeat_at, "attempts": record.attempts,
        "cancel requested": record.cancel_requested,
        "algorithm version": record.algorithm_version,
    }
    for key, value in fields.items():
        print(f"{key}: {'' if value is None else _safe(str(value))}")
    for title, values in (("parameters", record.parameters), ("summary", record.summary or {})):
        print(f"{title}:")
        for key, value in values.items():
            print(f"  {key}: {value}")
    return 0


def cmd_runs_audit(args: argparse.Namespace) -> int:
    entries = RunStore().audit_trail(args.run_id)
    if not entries:
        raise CommandError(f"no audit trail for run {args.run_id} (unknown id, or a run from "
                           "before the audit trail existed)")
    for entry in entries:
        detail = f"  ({_safe(entry.detail)})" if entry.detail else ""
        print(f"{entry.at:%Y-%m-%d %H:%M:%S} UTC  {entry.action:<9}  {_safe(entry.actor)}{detail}")
    return 0


def cmd_runs_cancel(args: argparse.Namespace) -> int:
    if not RunStore().request_cancel(args.run_id, _actor(args)):
        raise CommandError(f"run {args.run_id} has already finished")
    print(f"cancel requested for run {args.run_id}", file=sys.stderr)
    return 0


def cmd_runs_delete(args: argparse.Namespace) -> int:
    RunStore().delete_run(args.run_id, _actor(args))
    print(f"moved run {args.run_id} to the trash for {trash_days_from_env():g} days; "
          f"'runs restore {args.run_id}' brings it back", file=sys.stderr)
    return 0


def cmd_runs_restore(args: argparse.Namespace) -> int:
    RunStore().restore_run(args.run_id, _actor(args))
    print(f"restored run {args.run_id}", file=sys.stderr)
    return 0


def cmd_runs_purge(args: argparse.Namespace) -> int:
    if args.run_id:
        RunStore().purge_run(args.run_id, _actor(args))
        print(f"purged run {args.run_id}", file=sys.stderr)
        return 0
    days = trash_days_from_env() if args.days is None else args.days
    purged = RunStore().cleanup(0, trash_days=days)
    print(f"purged {purged} runs in the trash for more than {days:g} days", file=sys.stderr)
    return 0


def cmd_runs_cleanup(args: argparse.Namespace) -> int:
    days = retention_days_from_env() if args.days is None else args.days
    if days <= 0:
        print("retention is 0 days: runs are kept forever, nothing deleted", file=sys.stderr)
        return 0
    trash_days = trash_days_from_env()
    deleted = RunStore().cleanup(days, trash_days)
    print(f"deleted {deleted} runs: finished more than {days:g} days ago, or in the trash for "
          f"more than {trash_days:g} days", file=sys.stderr)
    return 0


# ---- helpers ---------------------------------------------------------------------------------

def _require_file(path: Path) -> None:
    if not path.is_file():
        raise CommandError(f"no such file: {path}")


def _actor(args: argparse.Namespace):
    if not args.actor:
        raise CommandError("say who you are with --as EMAIL")
    try:
        return actor_for(args.actor)
    except ValueError as error:
        raise CommandError(f"--as: {error}") from None


def _login_name() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _error_text(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename:
        return f"{error.strerror or error}: {error.filename}"
    return str(error)


_CONTROL = {code: "\ufffd" for code in [*range(0, 32), 127]}


def _safe(text: str) -> str:
    """Text from uploads without terminal control characters."""
    return text.translate(_CONTROL)
