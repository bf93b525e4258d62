"""Number formats shared by every note text of the spec (3 decimals, signed shifts, parameters)."""

from __future__ import annotations

import math


def fixed3(value: float) -> str:
    """3 decimals, e.g. ``0.279``; infinities as ``inf``."""
    return "inf" if math.isinf(value) and value > 0 else (
        "-inf" if math.isinf(value) else f"{value:.3f}")


def signed3(value: float) -> str:
    """Sign and 3 decimals, e.g. ``+1.744``, ``-0.245``, ``+0.000`` for zero."""
    text = f"{value:+.3f}"
    return "+0.000" if text == "-0.000" else text


def as_set(value: float) -> str:
    """A parameter as the user set it: ``2.5`` stays ``2.5``, ``3.0`` reads ``3``."""
    return f"{value:g}"


def first_items(items: list, limit: int = 10) -> str:
    """Comma-joined first ``limit`` items, then ``and N more`` (spec 13.6)."""
    shown = ", ".join(str(item) for item in items[:limit])
    rest = len(items) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown
