"""Ganglioside LC-MS/MS identification checks: the UI-free analysis core (spec ANALYSIS.md).

Typical use::

    from ganglioside import read_table, analyze
    result = analyze(read_table("peaks.csv"))
    result.rows  # one row per input row, with its status and reasons
"""

__version__ = "0.1.0"

from .analysis import ALGORITHM_VERSION, analyze  # noqa: E402
from .errors import (AnalysisCancelled, GangliosideError, InputError,  # noqa: E402
                     NameParseError, ParameterError)
from .params import AnalysisParams  # noqa: E402
from .reader import InputTable, read_table  # noqa: E402
from .result import AnalysisResult, AnalysisWarning  # noqa: E402

__all__ = [
    "ALGORITHM_VERSION", "AnalysisCancelled", "AnalysisParams", "AnalysisResult",
    "AnalysisWarning", "GangliosideError", "InputError", "InputTable", "NameParseError",
    "ParameterError", "analyze", "read_table",
]
