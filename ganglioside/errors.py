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
