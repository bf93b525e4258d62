"""Typed exceptions of the core: the UI and the CLI catch these at their boundary."""

from __future__ import annotations


class GangliosideError(Exception):
    """Base class of every error the core raises on purpose."""


class InputError(GangliosideError):
    """The uploaded table cannot be used at all (spec 2.3).

    ``problems`` lists every structural problem found; the message names the file and shows one
    problem per line.
    """

    def __init__(self, problems: list[str], file_name: str | None = None):
        self.problems = list(problems)
        self.file_name = file_name
        where = f"'{file_name}'" if file_name else "the table"
        super().__init__(f"Cannot read {where}:\n" + "\n".join(f"- {p}" for p in self.problems))


class ParameterError(GangliosideError, ValueError):
    """A parameter is out of its allowed range (spec 12)."""


class NameParseError(GangliosideError, ValueError):
    """A compound name does not follow the grammar of spec 3; ``detail`` is the spec 3.5 text."""

    def __init__(self, detail: str):
        self.detail = detail
        super().__init__(detail)


class AnalysisCancelled(GangliosideError):
    """Raised by a progress callback to cancel a run on purpose (spec 5.3)."""


class StoreFault(GangliosideError):
    """The run store cannot be used: the message says what happened, where, and what to do.

    Raised by ``runs.database`` for every database or driver error it recognises, so that the
    CLI (exit status 2) and the pages show one plain message instead of a traceback.
    """

    advice = "Ask whoever runs the server to check the run store."

    def __init__(self, what: str, location: str | None = None, advice: str | None = None):
        """``what`` happened (naming ``location``: the file, or the URL without password);
        ``advice`` replaces the class's own ("" for none)."""
        self.what = what
        self.location = location
        advice = self.advice if advice is None else advice
        super().__init__(f"{what} {advice}".strip())


class StoreFull(StoreFault):
    """The disk (or the database server's disk or quota) is full."""

    advice = ("Free disk space where the run store lives (delete old runs in History, or move "
              "the store to a larger disk), then try again; nothing already saved was lost.")


class StoreNotWritable(StoreFault):
    """The store's file or folder is read-only or not writable by this user."""

    advice = ("Make the file and its folder writable by the user running the program (check "
              "their permissions and that the disk is not mounted read-only).")


class StoreCorrupted(StoreFault):
    """The store's file is damaged or is not a run store at all."""

    advice = ("Stop every server and worker using it, move the damaged file aside and restore "
              "it from your latest backup (or start with a new, empty store by naming a new "
              "file in GANGLIOSIDE_DB).")


class StoreUnreachable(StoreFault):
    """The database server cannot be reached (down, wrong address, refused login)."""

    advice = ("Check that the database server is running and reachable from this machine, and "
              "the address, user and password in GANGLIOSIDE_DB; then try again.")


class StoreLocked(StoreFault):
    """Another process held the store's lock for longer than the busy timeout."""

    advice = ("Another program is holding the store's lock: wait and try again, or stop a "
              "stuck worker or a tool that has the file open.")
