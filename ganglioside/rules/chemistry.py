"""Chemistry checks of algorithm 2.0 (spec 17, Rules 6-9), reported beside the verdicts.

None of them changes a status: they tell a chemist where the table as a whole disagrees with
reversed-phase behaviour, which is worth a look before trusting its verdicts. Each check is
computed on the non-invalid rows whose final status is not ``outlier`` or ``fragment``, so one
misidentified peak does not make a whole group look wrong.

* ``sugar_order``: within one lipid tail, more sugars should elute earlier (Pearson r of sugar
  count against RT); flagged when r > 0.3 with two-sided p < 0.1 (>= 3 rows, >= 2 sugar counts).
* ``category_order``: within one tail and one modifier set, GP < GQ < GT < GD < GM by median RT;
  flagged when a category with more sialic acids elutes later than one with fewer by more than
  ``rt_tolerance``.
* ``modifier_direction``: each modifier moves RT in one direction, derived from the data (the
  median shift over pairs that differ by exactly that modifier, same core and tail); flagged when
  fewer than 80 % of the pairs agree with it.
* ``slope_consistency``: the raw Log P slopes of prefixes with their own accepted model should
  agree; flagged when one is more than 0.25 min per Log P unit from their median.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from ..formatting import first_items
from .grouping import group_codes, grouped_median, run_numbers
from ..result import AnalysisWarning

CHECK_COLUMNS = ["check", "subject", "n", "value", "expected", "flagged", "note"]
CATEGORY_ORDER = {"GP": 0, "GQ": 1, "GT": 2, "GD": 3, "GM": 4, "GA": 5}
SLOPE_TOLERANCE = 0.25
AGREEMENT = 0.8
INPUT_COLUMNS = ["status", "core", "tail", "category", "modifiers", "sugar_count", "RT"]


def run_checks(rows: pd.DataFrame, groups: pd.DataFrame, rt_tolerance: float) -> pd.DataFrame:
    """All chemistry checks, one row per subject checked."""
    trusted = rows[INPUT_COLUMNS][rows["status"].isin(["valid", "unverified"]).to_numpy()]
    records = [*_sugar_order(trusted), *_category_order(trusted, rt_tolerance),
               *_modifier_direction(trusted), *_slope_consistency(groups)]
    columns = dict(zip(CHECK_COLUMNS, zip(*records))) if records else {}
    dtypes = {"n": np.int64, "value": float, "flagged": bool}
    return pd.DataFrame({name: np.array(columns.get(name, []), dtype=dtypes.get(name, object))
                         for name in CHECK_COLUMNS})


def _record(check, subject, n, value, expected, flagged, note) -> tuple:
    return check, subject, int(n), float(value), expected, bool(flagged), note


def _distinct(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Number of distinct values within each group."""
    order = np.lexsort((values, group))
    g, v = group[order], values[order]
    first = np.ones(len(g), dtype=bool)
    first[1:] = (g[1:] != g[:-1]) | (v[1:] != v[:-1])
    return np.bincount(g[first], minlength=n_groups)


def _sugar_order(rows: pd.DataFrame):
    known = rows[rows["sugar_count"].notna().to_numpy()]
    group, (tails,) = group_codes(known["tail"])
    keep = group >= 0
    group = group[keep]
    sugars = known["sugar_count"].to_numpy(float)[keep]
    rt = known["RT"].to_numpy(float)[keep]
    n = np.bincount(group, minlength=len(tails))
    r, p = grouped_pearson(group, sugars, rt, len(tails))
    testable = ((n >= 3) & (_distinct(group, sugars, len(tails)) >= 2)
                & (_distinct(group, rt, len(tails)) >= 2))
    for i in np.flatnonzero(testable):
        flagged = r[i] > 0.3 and p[i] < 0.1
        yield _record("sugar_order", tails[i], n[i], r[i], "r < 0 (more sugars elute earlier)",
                      flagged, f"Pearson r = {r[i]:.2f}, p = {p[i]:.3f}"
                      + ("; more sugars elute later here" if flagged else ""))


def grouped_pearson(group: np.ndarray, x: np.ndarray, y: np.ndarray, n_groups: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r of x and y within each group and its two-sided p-value, computed as
    ``scipy.stats.pearsonr`` does (centred sums; r has a beta distribution under the null)."""
    count = np.bincount(group, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = x - (np.bincount(group, x, n_groups) / count)[group]
        ym = y - (np.bincount(group, y, n_groups) / count)[group]
        sxy, sxx, syy = (np.bincount(group, a * b, n_groups)
                         for a, b in ((xm, ym), (xm, xm), (ym, ym)))
        r = np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0)
        shape = count / 2 - 1
        p = 2 * special.betaincc(shape, shape, (np.abs(r) + 1) / 2)
    return r, p


def _category_order(rows: pd.DataFrame, rt_tolerance: float):
    known = rows[rows["category"].isin(list(CATEGORY_ORDER)).to_numpy()]
    group, (tails, modifiers, categories) = group_codes(known["tail"], known["modifiers"],
                                                        known["category"])
    keep = group >= 0
    medians = grouped_median(group[keep], known["RT"].to_numpy(float)[keep], len(tails))
    # groups come sorted by (tail, modifiers, category): a new subject starts where the first
    # two change; per subject, one median RT per category in elution order (NaN if absent)
    subject = run_numbers(tails, modifiers)
    starts = np.flatnonzero(np.diff(subject, prepend=-1))
    by_rank = np.full((len(starts), len(CATEGORY_ORDER)), np.nan)
    by_rank[subject, [CATEGORY_ORDER[c] for c in categories]] = medians
    # an inversion: a category's RT minus the lowest RT of the categories that should elute later
    lowest_from = np.fmin.accumulate(by_rank[:, ::-1], axis=1)[:, ::-1]
    inversion = by_rank[:, :-1] - lowest_from[:, 1:]
    names = list(CATEGORY_ORDER)
    for s, first in enumerate(starts):
        present = np.flatnonzero(~np.isnan(by_rank[s]))
        if len(present) < 2:
            continue
        worst = float(np.nanmax(inversion[s]))
        modifier = modifiers[first]
        yield _record("category_order",
                      f"{tails[first]} {('+' + modifier) if modifier else '(no modifier)'}",
                      len(present), worst, "GP < GQ < GT < GD < GM", worst > rt_tolerance,
                      " < ".join(f"{names[i]} {by_rank[s, i]:.2f}" for i in present))


def _modifier_direction(rows: pd.DataFrame):
    modifiers = rows["modifiers"].fillna("")
    parts = {text: _parts(text) for text in modifiers.unique()}
    sets = {key: i for i, key in enumerate(dict.fromkeys(parts.values()))}
    set_code = modifiers.map({text: sets[key] for text, key in parts.items()})
    group, (cores, tails, set_codes) = group_codes(rows["core"], rows["tail"], set_code)
    keep = group >= 0
    medians = grouped_median(group[keep], rows["RT"].to_numpy(float)[keep], len(cores))
    # groups come sorted by (core, tail, set): number the (core, tail) pairs, then each group
    # has an increasing lookup key pair * n_sets + set
    pair = run_numbers(cores, tails)
    set_codes = set_codes.astype(np.int64)
    lookup = pair * len(sets) + set_codes
    for name in sorted({name for key in sets for name, _ in key}):
        shifts = _pair_shifts(medians, pair, set_codes, lookup, _base_sets(sets, name))
        if len(shifts) < 2:
            continue
        direction = np.sign(np.median(shifts)) or 1.0
        agree = float(np.mean(np.sign(shifts) == direction))
        yield _record("modifier_direction", name, len(shifts), float(np.median(shifts)),
                      f"one direction (data: {'later' if direction > 0 else 'earlier'})",
                      agree < AGREEMENT,
                      f"median RT shift {np.median(shifts):+.3f} min; {agree:.0%} of "
                      f"{len(shifts)} pairs agree")


def _base_sets(sets: dict[tuple, int], name: str) -> np.ndarray:
    """For each modifier set (by code), the code of that set with one ``name`` fewer (-1 if it
    has no ``name`` or that set does not occur)."""
    base = np.full(len(sets), -1, dtype=np.int64)
    for key, code in sets.items():
        counts = dict(key)
        if counts.get(name, 0) >= 1:
            counts[name] -= 1
            base[code] = sets.get(tuple(sorted((k, v) for k, v in counts.items() if v)), -1)
    return base


def _pair_shifts(medians, pair, set_codes, lookup, base) -> np.ndarray:
    """Median RT of (core, tail, modifiers with one more ``name``) minus that without.

    One entry per (core, tail, set) group; ``lookup`` (increasing) finds a group by
    ``pair * n_sets + set``; ``base`` maps a set to the set with one ``name`` fewer.
    """
    has_base = np.flatnonzero(base[set_codes] >= 0)
    wanted = pair[has_base] * len(base) + base[set_codes[has_base]]
    at = np.minimum(np.searchsorted(lookup, wanted), len(lookup) - 1)
    found = lookup[at] == wanted
    return medians[has_base[found]] - medians[at[found]]


def _parts(text: str) -> tuple:
    counts: dict[str, int] = {}
    for part in filter(None, text.split("+")):
        digits = part[: len(part) - len(part.lstrip("0123456789"))]
        name = part[len(digits):]
        counts[name] = counts.get(name, 0) + (int(digits) if digits else 1)
    return tuple(sorted(counts.items()))


def _slope_consistency(groups: pd.DataFrame):
    slopes = groups["slope_raw_log_p"].to_numpy(float)
    own = groups["accepted"].to_numpy(bool) & ~np.isnan(slopes)
    if own.sum() < 3:
        return
    median = float(np.median(slopes[own]))
    for prefix, slope in zip(groups["prefix"].to_numpy(object)[own], slopes[own]):
        yield _record("slope_consistency", prefix, 1, slope, f"{median:.3f} ± {SLOPE_TOLERANCE}",
                      abs(slope - median) > SLOPE_TOLERANCE,
                      f"raw Log P slope {slope:.3f} min per unit vs median {median:.3f}")


def chemistry_warnings(checks: pd.DataFrame) -> list[AnalysisWarning]:
    """One info warning per kind of check that flagged something."""
    flagged = checks[checks["flagged"]]
    return [AnalysisWarning("chemistry_check", "info", f"{check}: {len(group)} flagged "
                                                       f"({first_items(list(group['subject']))})")
            for check, group in flagged.groupby("check", sort=False)]
