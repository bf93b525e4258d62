"""Row grouping helpers shared by the rules: rows of one key, per-group statistics, and
per-row arrays put back in row order."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd


def positions_by(keys: pd.Series | np.ndarray) -> list[tuple[object, np.ndarray]]:
    """Positions of the rows of each key value, in order of first appearance.

    The same groups, in the same order, as ``groupby(keys, sort=False)`` (missing keys dropped),
    without building a DataFrame per group.
    """
    codes, values = pd.factorize(keys)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(values) + 1))
    return [(values[i], order[bounds[i]:bounds[i + 1]]) for i in range(len(values))]


def pick(condition: np.ndarray, if_true: str, if_false: str) -> np.ndarray:
    """``if_true`` where ``condition`` holds, else ``if_false``: an object array whose rows share
    the two strings (one text per row would cost memory on large tables)."""
    return np.array([if_false, if_true], dtype=object)[condition.astype(np.intp)]


def frame_of(columns: dict[str, np.ndarray | pd.api.extensions.ExtensionArray],
             index: pd.Index) -> pd.DataFrame:
    """One DataFrame from per-row arrays. Object arrays (text) stay object: the string dtype
    would convert every note twice for nothing."""
    return pd.DataFrame({name: pd.Series(values, index=index, dtype=object, copy=False)
                         if values.dtype == object else values
                         for name, values in columns.items()}, index=index, copy=False)


@dataclass(frozen=True)
class RowArrays:
    """Per-row arrays of one table; ``take`` selects rows from every one of them."""

    def take(self, positions: np.ndarray):
        """The rows at ``positions``."""
        return type(self)(**{f.name: getattr(self, f.name)[positions] for f in fields(self)})


def in_row_order(values: dict[str, np.ndarray], positions: list[np.ndarray],
                 index: pd.Index) -> pd.DataFrame:
    """A table of per-group columns joined group after group (``positions``: each group's row
    positions), indexed like ``index``."""
    at = np.concatenate([np.empty(0, dtype=np.intp), *positions])
    return frame_of(values, index[at]).reindex(index)


def group_codes(*keys: pd.Series) -> tuple[np.ndarray, list[np.ndarray]]:
    """Group number of each row by several keys, and each group's key values.

    Groups are numbered in sorted key order, as ``groupby(keys, sort=True)`` orders them; a row
    with a missing key gets -1 (``groupby`` drops it).
    """
    codes, uniques = zip(*(pd.factorize(key, sort=True) for key in keys))
    sizes = [max(len(values), 1) for values in uniques]
    combined = np.zeros(len(keys[0]), dtype=np.int64)
    for code, size in zip(codes, sizes):
        combined = combined * size + code
    present = np.all([code >= 0 for code in codes], axis=0)
    numbers, inverse = np.unique(combined[present], return_inverse=True)
    group = np.full(len(combined), -1, dtype=np.int64)
    group[present] = inverse
    values = []
    for unique, size in zip(reversed(uniques), reversed(sizes)):
        values.append(np.asarray(unique, dtype=object)[numbers % size] if len(unique)
                      else np.empty(0, dtype=object))
        numbers = numbers // size
    return group, values[::-1]


def grouped_median(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` within each group 0..n_groups-1 (every group non-empty), the middle
    value or the mean of the two middle ones, as pandas computes it."""
    count = np.bincount(group, minlength=n_groups)
    start = np.cumsum(count) - count
    ordered = values[np.lexsort((values, group))]
    return (ordered[start + (count - 1) // 2] + ordered[start + count // 2]) / 2


def run_numbers(*keys: np.ndarray) -> np.ndarray:
    """Number of the run each element belongs to, a run being consecutive equal keys."""
    changed = np.zeros(len(keys[0]), dtype=bool)
    changed[:1] = True
    for key in keys:
        changed[1:] |= key[1:] != key[:-1]
    return np.cumsum(changed) - 1
