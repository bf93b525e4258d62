"""Ganglioside LC-MS/MS identification checks: the UI-free analysis core (spec ANALYSIS.md).

Typical use::

    from ganglioside import read_table, analyze
    result = analyze(read_table("peaks.csv"))
    result.rows  # one row per input row, with its status and reasons

The names below are imported on first use, so importing one light module (``ganglioside.labels``,
``ganglioside.reader``) does not pay for the statistics libraries the analysis needs.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "ALGORITHM_VERSION": "analysis", "analyze": "analysis",
    "AnalysisCancelled": "errors", "GangliosideError": "errors", "InputError": "errors",
    "NameParseError": "errors", "ParameterError": "errors", "AnalysisParams": "params",
    "InputTable": "reader", "read_table": "reader", "AnalysisResult": "result",
    "AnalysisWarning": "result",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    if name.isidentifier() and not name.startswith("_"):
        try:  # ``from ganglioside import limits`` and other submodules
            return import_module(f".{name}", __name__)
        except ModuleNotFoundError:
            pass
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
