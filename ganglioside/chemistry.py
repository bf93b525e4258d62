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
    known = rows[rows["sugar_count"].notna() & rows["tail"].notna()]
    code, tails = pd.factorize(known["tail"], sort=True)
    sugars, rt = known["sugar_count"].to_numpy(float), known["RT"].to_numpy(float)
    n = np.bincount(code, minlength=len(tails))
    r, p = grouped_pearson(code, sugars, rt, len(tails))
    testable = ((n >= 3) & (_distinct(code, sugars, len(tails)) >= 2)
                & (_distinct(code, rt, len(tails)) >= 2))
    for i in np.flatnonzero(testable):
        flagged = r[i] > 0.3 and p[i] < 0.1
        yield _record("sugar_order", tails[i], n[i], r[i], "r < 0 (more sugars elute earlier)",
                      flagged, f"Pearson r = {r[i]:.2f}, p = {p[i]:.3f}"
                      + ("; more sugars elute later here" if flagged else ""))


def grouped_pearson(code: np.ndarray, x: np.ndarray, y: np.ndarray, n_groups: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r of x and y within each group and its two-sided p-value, computed as
    ``scipy.stats.pearsonr`` does (centred sums; r has a beta distribution under the null)."""
    count = np.bincount(code, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = x - (np.bincount(code, x, n_groups) / count)[code]
        ym = y - (np.bincount(code, y, n_groups) / count)[code]
        sxy, sxx, syy = (np.bincount(code, a * b, n_groups)
                         for a, b in ((xm, ym), (xm, xm), (ym, ym)))
        r = np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0)
        shape = count / 2 - 1
        p = 2 * special.betaincc(shape, shape, (np.abs(r) + 1) / 2)
    return r, p


def _distinct(code: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Number of distinct values within each group."""
    pairs = pd.DataFrame({"group": code, "value": values}).drop_duplicates()
    return np.bincount(pairs["group"].to_numpy(), minlength=n_groups)


def _category_order(rows: pd.DataFrame, rt_tolerance: float):
    known = rows[rows["category"].isin(list(CATEGORY_ORDER))]
    keys = ["tail", "modifiers"]
    medians = (known.groupby([*keys, "category"])["RT"].median().reset_index()
               .assign(rank=lambda m: m["category"].map(CATEGORY_ORDER))
               .sort_values([*keys, "rank"], ignore_index=True))
    # an inversion: a category's RT minus the lowest RT of the categories that should elute later
    medians["lowest_from_here"] = medians[::-1].groupby(keys, sort=False)["RT"].cummin()
    medians["inversion"] = medians["RT"] - medians.groupby(keys, sort=False)[
        "lowest_from_here"].shift(-1)
    medians["text"] = medians["category"] + " " + medians["RT"].map("{:.2f}".format)
    subjects = medians.groupby(keys, sort=False).agg(
        n=("RT", "size"), worst=("inversion", "max"), note=("text", " < ".join))
    for (tail, modifiers), n, worst, note in zip(subjects.index, subjects["n"], subjects["worst"],
                                                 subjects["note"]):
        if n < 2:
            continue
        subject = f"{tail} {('+' + modifiers) if modifiers else '(no modifier)'}"
        yield _record("category_order", subject, n, worst, "GP < GQ < GT < GD < GM",
                      worst > rt_tolerance, note)


def _modifier_direction(rows: pd.DataFrame):
    modifiers = rows["modifiers"].fillna("")
    parts = {text: _parts(text) for text in modifiers.unique()}
    codes = {key: i for i, key in enumerate(dict.fromkeys(parts.values()))}
    medians = rows.assign(key=modifiers.map({text: codes[key] for text, key in parts.items()})
                          ).groupby(["core", "tail", "key"])["RT"].median().reset_index()
    for name in sorted({name for key in codes for name, _ in key}):
        shifts = _pair_shifts(medians, codes, name)
        if len(shifts) < 2:
            continue
        direction = np.sign(np.median(shifts)) or 1.0
        agree = float(np.mean(np.sign(shifts) == direction))
        yield _record("modifier_direction", name, len(shifts), float(np.median(shifts)),
                      f"one direction (data: {'later' if direction > 0 else 'earlier'})",
                      agree < AGREEMENT,
                      f"median RT shift {np.median(shifts):+.3f} min; {agree:.0%} of "
                      f"{len(shifts)} pairs agree")


def _pair_shifts(medians: pd.DataFrame, codes: dict[tuple, int], name: str) -> np.ndarray:
    """Median RT of (core, tail, modifiers with one more ``name``) minus that without.

    ``medians`` has the median RT per core, tail and modifier set (``key``, coded by ``codes``).
    """
    base_of = {}
    for key, code in codes.items():
        counts = dict(key)
        if counts.get(name, 0) >= 1:
            counts[name] -= 1
            base = codes.get(tuple(sorted((k, v) for k, v in counts.items() if v)))
            if base is not None:
                base_of[code] = base
    with_name = medians[medians["key"].isin(base_of)]
    pairs = with_name.assign(key=with_name["key"].map(base_of)).merge(
        medians, on=["core", "tail", "key"], suffixes=("", "_base"))
    return (pairs["RT"] - pairs["RT_base"]).to_numpy()


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
