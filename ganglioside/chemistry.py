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
from scipy import stats

from .formatting import first_items
from .result import AnalysisWarning

CHECK_COLUMNS = ["check", "subject", "n", "value", "expected", "flagged", "note"]
CATEGORY_ORDER = {"GP": 0, "GQ": 1, "GT": 2, "GD": 3, "GM": 4, "GA": 5}
SLOPE_TOLERANCE = 0.25
AGREEMENT = 0.8


def run_checks(rows: pd.DataFrame, groups: pd.DataFrame, rt_tolerance: float) -> pd.DataFrame:
    """All chemistry checks, one row per subject checked."""
    trusted = rows[rows["status"].isin(["valid", "unverified"])]
    records = [*_sugar_order(trusted), *_category_order(trusted, rt_tolerance),
               *_modifier_direction(trusted), *_slope_consistency(groups)]
    return pd.DataFrame.from_records(records, columns=CHECK_COLUMNS).astype(
        {"n": "int64", "value": "float64", "flagged": bool})


def _record(check, subject, n, value, expected, flagged, note) -> dict:
    return dict(zip(CHECK_COLUMNS, (check, subject, int(n), float(value), expected,
                                    bool(flagged), note)))


def _sugar_order(rows: pd.DataFrame):
    known = rows[rows["sugar_count"].notna()]
    for tail, group in known.groupby("tail", sort=True):
        sugars = group["sugar_count"].astype(float)
        if len(group) < 3 or sugars.nunique() < 2 or group["RT"].nunique() < 2:
            continue
        r, p = stats.pearsonr(sugars, group["RT"])
        flagged = r > 0.3 and p < 0.1
        yield _record("sugar_order", tail, len(group), r, "r < 0 (more sugars elute earlier)",
                      flagged, f"Pearson r = {r:.2f}, p = {p:.3f}"
                      + ("; more sugars elute later here" if flagged else ""))


def _category_order(rows: pd.DataFrame, rt_tolerance: float):
    known = rows[rows["category"].isin(list(CATEGORY_ORDER))]
    medians = known.groupby(["tail", "modifiers", "category"])["RT"].median().reset_index()
    for (tail, modifiers), group in medians.groupby(["tail", "modifiers"], sort=True):
        if len(group) < 2:
            continue
        ordered = group.assign(rank=group["category"].map(CATEGORY_ORDER)).sort_values("rank")
        later = ordered["RT"].to_numpy()
        worst = float(np.max(later[:-1] - np.minimum.accumulate(later[::-1])[::-1][1:]))
        subject = f"{tail} {('+' + modifiers) if modifiers else '(no modifier)'}"
        yield _record("category_order", subject, len(group), worst,
                      "GP < GQ < GT < GD < GM", worst > rt_tolerance,
                      " < ".join(f"{c} {rt:.2f}" for c, rt in
                                 zip(ordered["category"], ordered["RT"])))


def _modifier_direction(rows: pd.DataFrame):
    names = sorted({part.lstrip("0123456789") for text in rows["modifiers"].dropna()
                    for part in text.split("+") if part})
    for name in names:
        shifts = _pair_shifts(rows, name)
        if len(shifts) < 2:
            continue
        direction = np.sign(np.median(shifts)) or 1.0
        agree = float(np.mean(np.sign(shifts) == direction))
        yield _record("modifier_direction", name, len(shifts), float(np.median(shifts)),
                      f"one direction (data: {'later' if direction > 0 else 'earlier'})",
                      agree < AGREEMENT,
                      f"median RT shift {np.median(shifts):+.3f} min; {agree:.0%} of "
                      f"{len(shifts)} pairs agree")


def _pair_shifts(rows: pd.DataFrame, name: str) -> np.ndarray:
    """Median RT of (core, tail, modifiers with one more ``name``) minus that without."""
    table = rows.assign(key=rows["modifiers"].fillna("").map(_parts))
    medians = table.groupby(["core", "tail", "key"])["RT"].median()
    shifts = []
    for (core, tail, key), rt in medians.items():
        counts = dict(key)
        if counts.get(name, 0) < 1:
            continue
        counts[name] -= 1
        base = tuple(sorted((k, v) for k, v in counts.items() if v))
        if (core, tail, base) in medians.index:
            shifts.append(rt - medians[(core, tail, base)])
    return np.asarray(shifts)


def _parts(text: str) -> tuple:
    counts: dict[str, int] = {}
    for part in filter(None, text.split("+")):
        digits = part[: len(part) - len(part.lstrip("0123456789"))]
        name = part[len(digits):]
        counts[name] = counts.get(name, 0) + (int(digits) if digits else 1)
    return tuple(sorted(counts.items()))


def _slope_consistency(groups: pd.DataFrame):
    own = groups[groups["accepted"].astype(bool) & groups["slope_raw_log_p"].notna()]
    if len(own) < 3:
        return
    median = float(own["slope_raw_log_p"].median())
    for prefix, slope in zip(own["prefix"], own["slope_raw_log_p"]):
        yield _record("slope_consistency", prefix, 1, slope, f"{median:.3f} ± {SLOPE_TOLERANCE}",
                      abs(slope - median) > SLOPE_TOLERANCE,
                      f"raw Log P slope {slope:.3f} min per unit vs median {median:.3f}")


def chemistry_warnings(checks: pd.DataFrame) -> list[AnalysisWarning]:
    """One info warning per kind of check that flagged something."""
    flagged = checks[checks["flagged"]]
    return [AnalysisWarning("chemistry_check", "info",
                            f"{check}: {len(group)} flagged ({first_items(list(group['subject']))})")
            for check, group in flagged.groupby("check", sort=False)]
