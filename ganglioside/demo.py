"""Synthetic demo peak tables, realistic the way the lab's sample file is.

What the sample (323 rows, 29 prefixes) shows and the demo copies:

* head groups GM4-GP1 with the sample's modifier stacks (+OAc, +2OAc, +dHex, +HexNAc,
  +Hex+HexNAc+OAc), in the sample's proportions; tails 32:0-44:3, mostly ``;O2``, a few ``;O3``;
* Log P from the structure: about -2.47 per sialic acid, -1.9 per neutral core sugar, +0.54 per
  carbon, -0.94 per double bond, +0.57 per O-acetyl; the same name always has the same Log P;
* RT = head-group offset + slope * Log P with a slope of 1.30-1.40 min per Log P unit per prefix
  and 0.07 min of noise, so more sialic acids and sugars elute earlier and more carbons later;
* anchors on a few prefixes (GD1, GM1, GT1, GD3, GD1+dHex, GD1+HexNAc get >= 3 in a few hundred
  rows), most prefixes have 0-2; repeated names;
* ``isomer`` peaks: a second peak of a GD1/GT1/GQ1 name at a constant offset (+0.4-0.9 min,
  one offset per prefix) from its line; with ``anchored_isomers`` also what the sample shows for
  GD1: GD1a and GD1b 0.38-0.51 min apart in most tails, both anchored (same anchor share);
* ``misidentified`` peaks: RT 0.4-2.5 min off where the name elutes; with ``misplaced_anchors``
  also what the sample shows for GD2 and GM3: a few anchors (``MISPLACED_ANCHOR_SHARE``) that are
  themselves 0.4-2.5 min off, so a head group's anchors disagree;
* ``fragment`` peaks: an in-source fragment, i.e. a smaller glycan (a sub-composition with fewer
  sugars) of the same tail at the parent's apex with a much smaller Volume, drawn as the sample's
  fragments are spread (``FRAGMENT_RT_SCALE``, ``FRAGMENT_LOG_SHARE``, ``DETECTION_FLOOR``).

``DemoSettings`` varies what the benchmark grid varies (``bench/grid.py``): isomer offsets and
their sign, the shape and range of misidentification shifts, how tightly fragments co-elute, and
the share of anchors. Everything is drawn with NumPy in whole arrays: 10^6 rows take a few
seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from .composition import (can_have_isomers, core_sialic_acids, modifier_totals,
                          neutral_core_sugars, sugar_and_sialic_counts)
from .names import parse_name

TRUTH_KINDS = ("correct", "misidentified", "fragment", "isomer")
KIND_SHARES = {"isomer": 0.10, "misidentified": 0.06, "fragment": 0.10}
"""Share of the rows of each non-correct kind (the rest are correct)."""

PREFIXES = (  # prefix, rows in the sample, share of its correct peaks that are anchors
    ("GM4", 1, 0.0), ("GM3", 22, 0.08), ("GM2", 25, 0.0), ("GM1", 33, 0.35),
    ("GM1+dHex", 8, 0.0), ("GM1+HexNAc", 3, 0.0), ("GD3", 20, 0.3), ("GD3+OAc", 7, 0.0),
    ("GD2", 6, 0.25), ("GD2+OAc", 2, 0.0), ("GD1", 37, 0.6), ("GD1+OAc", 9, 0.0),
    ("GD1+2OAc", 2, 0.0), ("GD1+dHex", 7, 0.5), ("GD1+dHex+OAc", 3, 0.0),
    ("GD1+HexNAc", 8, 0.5), ("GD1+Hex+HexNAc+OAc", 1, 0.0), ("GT3", 9, 0.0),
    ("GT1", 43, 0.35), ("GT1+OAc", 17, 0.1), ("GT1+2OAc", 4, 0.0), ("GT1+HexNAc", 5, 0.0),
    ("GT1+HexNAc+OAc", 2, 0.0), ("GQ1", 16, 0.12), ("GQ1+OAc", 14, 0.12),
    ("GQ1+2OAc", 11, 0.0), ("GP1", 3, 0.0), ("GP1+OAc", 3, 0.0), ("GP1+2OAc", 2, 0.0),
)
CARBONS = {32: 1, 33: 2, 34: 15, 35: 8, 36: 90, 37: 20, 38: 60, 39: 12, 40: 30, 41: 12, 42: 25,
           43: 3, 44: 5}
DOUBLE_BONDS = {0: 0.15, 1: 0.65, 2: 0.15, 3: 0.05}
OXYGENS = {2: 0.95, 3: 0.05}
"""Tail frequencies (independent), shaped like the sample's."""

MODIFIER_LOG_P = {"OAc": 0.57, "dHex": -1.1, "HexNAc": -2.15, "Hex": -1.55}
MODIFIER_RT_OFFSET = {"OAc": -0.6, "dHex": 1.5, "HexNAc": 2.6, "Hex": 2.0}
"""Per modifier: change of Log P, and of the head group's RT offset (RT - slope * Log P)."""
RT_NOISE = 0.07
ISOMER_OFFSET = (0.4, 0.9)
"""Offset of a prefix's isomer line from its main line (min). Positional isomers differ only in
where a sialic acid sits, so they elute closer together than two species a whole sialic acid
apart (0.53 min in this generator; the sample's anchored GD1a/GD1b pairs sit 0.38-0.51 min
apart). Until algorithm 2.1 it was 1.5-2.0 min, which put a GT1 isomer after GM1."""
MISIDENTIFIED_OFFSET = (0.4, 2.5)
FRAGMENT_RT_SCALE = 0.0045
"""An in-source fragment's RT minus its parent's: Laplace (double exponential) with this mean
|ΔRT| in min, as ``bench/fragment_law.py`` fits it to the sample's co-eluting peaks (95 %
interval 0.0028-0.0072; two normal laws fit about as well, one normal law worse): most
fragments at the parent's apex, a few up to a few hundredths of a minute off."""
FRAGMENT_LOG_SHARE = (-3.60, 1.50)
"""Log of a fragment's share of its parent's Volume: normal (mean, SD; median share 2.7 %), as
fitted to the sample's peaks together with their RT."""
FRAGMENT_DRAWS = 3
"""Fragments drawn per fragment wanted, before those without a large enough parent and repeats
of one parent's glycan are dropped."""
DETECTION_FLOOR = 7888
"""The smallest Volume in the sample: no peak of a list is smaller, so fragments come mostly from
large parents, as on the sample."""
LOG_VOLUME = (11.7, 1.8)
"""Log Volume of a correct peak: normal (mean, SD) above ``DETECTION_FLOOR``."""
CLOSE_ISOMERS = {"GD1": (0.38, 0.51)}
"""Prefix: offset range of a second isomer close to the first (the sample's GD1a/GD1b)."""
MISPLACED_ANCHOR_SHARE = 0.04
"""Share of the anchors that are misidentified with ``misplaced_anchors`` (on the sample 2 of 49
disagree clearly with their head group's other anchor)."""
CLOSE_ISOMER_SHARE = 0.8
"""Share of a close-isomer prefix's correct peaks that have the second isomer (11 of 14 GD1
tails on the sample)."""


@dataclass(frozen=True)
class DemoSettings:
    """What the benchmark grid varies; the defaults give the tables shaped like the sample."""

    isomer_offset: tuple[float, float] = ISOMER_OFFSET
    isomer_sign: str = "later"  # "later", "earlier" or "either" (drawn per prefix)
    misidentified_offset: tuple[float, float] = MISIDENTIFIED_OFFSET
    misidentified_shape: str = "uniform"  # of the shift's size; or "normal": the size is
    # |N(0, (high - low) / 2)| + low, redrawn above high
    fragment_rt_scale: float = FRAGMENT_RT_SCALE
    anchor_rate: float | None = None  # share of correct peaks that are anchors, the same in
    # every prefix; None: each prefix's share in the sample (most have none)


def make_demo_table(n_rows: int, seed: int = 0, truth: bool = False,
                    anchored_isomers: bool = False, misplaced_anchors: bool = False,
                    settings: DemoSettings = DemoSettings()) -> pd.DataFrame:
    """``n_rows`` (>= 1) synthetic peaks: Name, RT, Volume, Log P, Anchor (``T``/``F``).

    Every kind of peak appears from a few dozen rows on. Deterministic per seed, sorted by name
    then RT like an exported peak list. With ``truth`` also ``truth_kind`` (one of
    ``TRUTH_KINDS``) and ``truth_parent_index`` (Int64: the row of a fragment's parent, else
    null). With ``anchored_isomers`` the prefixes of ``CLOSE_ISOMERS`` have a second, anchored
    isomer close to the first (taken from the isomer share); with ``misplaced_anchors`` a few
    anchors are misidentified. Without these options a seed gives the same table as before they
    existed. ``settings`` change the generator for the benchmark grid.
    """
    if n_rows < 1:
        raise ValueError(f"n_rows = {n_rows} must be at least 1")
    rng = np.random.default_rng(seed)
    catalog = _catalog()
    if settings.anchor_rate is not None:
        catalog = catalog.assign(anchor_share=settings.anchor_rate)
    prefix_rt = _prefix_lines(rng, catalog, settings)
    wanted = {kind: int(round(share * n_rows)) for kind, share in KIND_SHARES.items()}
    base = _correct_rows(rng, catalog, prefix_rt, n_rows - wanted["isomer"] - wanted["fragment"])
    _misidentify(rng, base, wanted["misidentified"], settings)
    if misplaced_anchors:
        _misidentify(rng, base, max(1, round(MISPLACED_ANCHOR_SHARE * base["anchor"].sum())),
                     settings, anchors=True)
    close = _close_isomer_rows(rng, catalog, base, wanted["isomer"]) if anchored_isomers else (
        base.iloc[:0])
    isomers = pd.concat([close, _isomer_rows(rng, base, prefix_rt, wanted["isomer"] - len(close))],
                        ignore_index=True)
    fragments = _fragment_rows(rng, catalog, pd.concat([base, isomers], ignore_index=True),
                               wanted["fragment"], settings.fragment_rt_scale)
    shortfall = n_rows - len(base) - len(isomers) - len(fragments)
    filler = _correct_rows(rng, catalog, prefix_rt, shortfall)
    table = pd.concat([base, isomers, fragments, filler], ignore_index=True)
    return _finished(table, catalog, truth)


@lru_cache(maxsize=1)
def _catalog() -> pd.DataFrame:
    """Per prefix: composition, Log P at tail 36:1;O2, RT offset, frequency, anchor share and
    the prefixes whose glycan is contained in its own with fewer sugars (its fragments)."""
    records = []
    for prefix, frequency, anchor_share in PREFIXES:
        parsed = parse_name(f"{prefix}(36:1;O2)")
        sialic, neutral = core_sialic_acids(parsed), neutral_core_sugars(parsed)
        modifiers = modifier_totals(parsed)
        records.append({
            "prefix": prefix, "frequency": frequency, "anchor_share": anchor_share,
            "sugars": sugar_and_sialic_counts(parsed)[0], "isomers": can_have_isomers(
                parsed.base_prefix),
            "composition": {"sialic": sialic, "neutral": neutral, **modifiers},
            "log_p_36": 4.0 - 2.47 * (sialic - 1) - 1.9 * (neutral - 4) + sum(
                MODIFIER_LOG_P[name] * count for name, count in modifiers.items()),
            "rt_offset": 4.7 + 2.8 * (sialic - 1) + 2.9 * (neutral - 4) + sum(
                MODIFIER_RT_OFFSET[name] * count for name, count in modifiers.items()),
        })
    catalog = pd.DataFrame(records)
    catalog["fragments"] = [
        [j for j, other in catalog.iterrows()
         if other["sugars"] < row["sugars"] and all(
             row["composition"].get(key, 0) >= value
             for key, value in other["composition"].items())]
        for _, row in catalog.iterrows()]
    return catalog


@lru_cache(maxsize=1)
def _tails() -> pd.DataFrame:
    """Every tail with its probability, text and Log P change from 36:1;O2."""
    grid = pd.MultiIndex.from_product([list(CARBONS), list(DOUBLE_BONDS), list(OXYGENS)],
                                      names=["carbons", "double_bonds", "oxygens"]).to_frame(
        index=False)
    weight = (grid["carbons"].map(CARBONS) / sum(CARBONS.values())
              * grid["double_bonds"].map(DOUBLE_BONDS) * grid["oxygens"].map(OXYGENS))
    grid["probability"] = weight / weight.sum()
    grid["text"] = (grid["carbons"].astype(str) + ":" + grid["double_bonds"].astype(str)
                    + ";O" + grid["oxygens"].astype(str))
    grid["log_p_change"] = (0.54 * (grid["carbons"] - 36) - 0.94 * (grid["double_bonds"] - 1)
                            - 0.7 * (grid["oxygens"] - 2))
    return grid


def _prefix_lines(rng: np.random.Generator, catalog: pd.DataFrame, settings: DemoSettings
                  ) -> pd.DataFrame:
    """Per prefix: its RT line (offset with a little idiosyncrasy, slope) and isomer offset."""
    count = len(catalog)
    lines = pd.DataFrame({
        "offset": catalog["rt_offset"].to_numpy() + rng.normal(0, 0.15, count),
        "slope": rng.uniform(1.30, 1.40, count),
        "isomer_offset": rng.uniform(*settings.isomer_offset, count),
    })
    if settings.isomer_sign == "earlier":
        lines["isomer_offset"] *= -1
    elif settings.isomer_sign == "either":
        lines["isomer_offset"] *= rng.choice([-1.0, 1.0], count)
    return lines


def _log_p(catalog: pd.DataFrame, prefix: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """Log P of each (prefix, tail) pair, 2 decimals like the sample's."""
    change = _tails()["log_p_change"].to_numpy()
    return np.round(catalog["log_p_36"].to_numpy()[prefix] + change[tail], 2)


def _names(rng: np.random.Generator, catalog: pd.DataFrame, count: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """(prefix, tail) codes of ``count`` peaks: distinct names first, as in a real peak list,
    then (beyond a third of all possible names) names drawn again."""
    tails = _tails()
    frequency = catalog["frequency"].to_numpy(float)
    weight = np.outer(frequency / frequency.sum(), tails["probability"].to_numpy()).ravel()
    distinct = min(count, len(weight) // 3)
    codes = np.concatenate([rng.choice(len(weight), size=distinct, replace=False, p=weight),
                            rng.choice(len(weight), size=count - distinct, p=weight)])
    return np.divmod(codes, len(tails))


def _correct_rows(rng: np.random.Generator, catalog: pd.DataFrame, lines: pd.DataFrame,
                  count: int) -> pd.DataFrame:
    """Correctly identified peaks on their prefix's line; some are anchors."""
    prefix, tail = _names(rng, catalog, count)
    log_p = _log_p(catalog, prefix, tail)
    line_rt = lines["offset"].to_numpy()[prefix] + lines["slope"].to_numpy()[prefix] * log_p
    return pd.DataFrame({
        "prefix": prefix, "tail": tail, "log_p": log_p, "line_rt": line_rt,
        "rt": line_rt + rng.normal(0, RT_NOISE, count),
        "volume": _detected_volumes(rng, count),
        "anchor": rng.random(count) < catalog["anchor_share"].to_numpy()[prefix],
        "kind": "correct", "parent": -1,
    })


def _detected_volumes(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` Volumes of correct peaks: log-normal, redrawn below ``DETECTION_FLOOR``."""
    log_volume = rng.normal(*LOG_VOLUME, count)
    while (low := log_volume < np.log(DETECTION_FLOOR)).any():
        log_volume[low] = rng.normal(*LOG_VOLUME, int(low.sum()))
    return np.round(np.exp(log_volume))


def _misidentify(rng: np.random.Generator, rows: pd.DataFrame, count: int,
                 settings: DemoSettings, anchors: bool = False) -> None:
    """Move ``count`` correct non-anchor peaks (or anchors) off their line by the settings'
    shifts, 0.4-2.5 min by default (in place)."""
    candidates = np.flatnonzero((rows["anchor"].to_numpy() == anchors)
                                & (rows["kind"] == "correct").to_numpy())
    chosen = rng.choice(candidates, size=min(count, len(candidates)), replace=False)
    shift = rng.choice([-1.0, 1.0], len(chosen)) * _shift_sizes(rng, len(chosen), settings)
    rows.loc[chosen, "rt"] = np.maximum(rows.loc[chosen, "rt"].to_numpy() + shift, 0.5)
    rows.loc[chosen, "kind"] = "misidentified"


def _shift_sizes(rng: np.random.Generator, count: int, settings: DemoSettings) -> np.ndarray:
    """Sizes of misidentification shifts: uniform over the settings' range, or the upper half
    of a normal law started at its low end (more small shifts than large ones)."""
    low, high = settings.misidentified_offset
    if settings.misidentified_shape == "uniform":
        return rng.uniform(low, high, count)
    size = low + np.abs(rng.normal(0, (high - low) / 2, count))
    while (far := size > high).any():
        size[far] = low + np.abs(rng.normal(0, (high - low) / 2, int(far.sum())))
    return size


def _isomer_rows(rng: np.random.Generator, rows: pd.DataFrame, lines: pd.DataFrame,
                 count: int) -> pd.DataFrame:
    """Second peaks of GD1/GT1/GQ1 names on a parallel line, offset constant per prefix."""
    capable = _catalog()["isomers"].to_numpy()[rows["prefix"].to_numpy()]
    candidates = np.flatnonzero(capable & (rows["kind"] == "correct").to_numpy())
    parents = rows.iloc[rng.choice(candidates, size=min(count, len(candidates)), replace=False)]
    offset = lines["isomer_offset"].to_numpy()[parents["prefix"].to_numpy()]
    return parents.assign(
        rt=parents["line_rt"].to_numpy() + offset + rng.normal(0, RT_NOISE, len(parents)),
        volume=np.maximum(np.round(parents["volume"].to_numpy()
                                   * rng.uniform(0.2, 1.0, len(parents))), DETECTION_FLOOR),
        anchor=False, kind="isomer", parent=-1).reset_index(drop=True)


def _close_isomer_rows(rng: np.random.Generator, catalog: pd.DataFrame, rows: pd.DataFrame,
                       most: int) -> pd.DataFrame:
    """Second isomers just after the correct peaks of the ``CLOSE_ISOMERS`` prefixes, anchored
    as often as their first isomers (at most ``most`` rows)."""
    prefix = rows["prefix"].to_numpy()
    parts = []
    for name, (low, high) in CLOSE_ISOMERS.items():
        code = int(np.flatnonzero(catalog["prefix"].to_numpy() == name)[0])
        peaks = rows[(prefix == code) & (rows["kind"] == "correct").to_numpy()]
        peaks = peaks[rng.random(len(peaks)) < CLOSE_ISOMER_SHARE]
        parts.append(peaks.assign(
            rt=peaks["line_rt"].to_numpy() + rng.uniform(low, high, len(peaks))
            + rng.normal(0, RT_NOISE, len(peaks)),
            volume=np.maximum(np.round(peaks["volume"].to_numpy()
                                       * rng.uniform(0.5, 1.5, len(peaks))), DETECTION_FLOOR),
            anchor=rng.random(len(peaks)) < catalog["anchor_share"].to_numpy()[code],
            kind="isomer", parent=-1))
    return pd.concat(parts, ignore_index=True).iloc[:most]


def _fragment_rows(rng: np.random.Generator, catalog: pd.DataFrame, rows: pd.DataFrame,
                   count: int, rt_scale: float = FRAGMENT_RT_SCALE) -> pd.DataFrame:
    """In-source fragments: a smaller glycan of a parent's tail at the parent's RT.

    Each fragment's Volume share is drawn first, then its parent among the real peaks large
    enough for that share to stay above ``DETECTION_FLOOR``: the shares are those seen on the
    sample, whose fragments come from large parents. A parent may lose several glycans, each
    once. Fewer than ``count`` only when the table has too few large parents.
    """
    n_fragments = catalog["fragments"].map(len).to_numpy()
    real_peak = rows["kind"].isin(["correct", "isomer"]).to_numpy()
    prefix = rows["prefix"].to_numpy()
    candidates = np.flatnonzero((n_fragments[prefix] > 0) & real_peak)
    chosen, share = _detected_parents(rng, rows["volume"].to_numpy(), candidates,
                                      FRAGMENT_DRAWS * count)
    choices = np.full((len(catalog), n_fragments.max()), -1)
    for position, fragments in enumerate(catalog["fragments"]):
        choices[position, :len(fragments)] = fragments
    parent_prefix = prefix[chosen]
    glycan = np.floor(rng.random(len(chosen)) * n_fragments[parent_prefix]).astype(int)
    fragment_prefix = choices[parent_prefix, glycan]
    first = np.sort(np.unique(np.stack([chosen, fragment_prefix]), axis=1,
                              return_index=True)[1])[:count]
    chosen, fragment_prefix, share = chosen[first], fragment_prefix[first], share[first]
    parents = rows.iloc[chosen]
    return pd.DataFrame({
        "prefix": fragment_prefix, "tail": parents["tail"].to_numpy(),
        "log_p": _log_p(catalog, fragment_prefix, parents["tail"].to_numpy()),
        "line_rt": np.nan, "rt": np.round(parents["rt"].to_numpy(), 3)
        + rng.laplace(0, rt_scale, len(parents)),
        "volume": np.round(parents["volume"].to_numpy() * share), "anchor": False,
        "kind": "fragment", "parent": chosen,
    })


def _detected_parents(rng: np.random.Generator, volume: np.ndarray, candidates: np.ndarray,
                      draws: int) -> tuple[np.ndarray, np.ndarray]:
    """``draws`` Volume shares (below 0.9: a fragment is smaller than its parent), each with a
    parent drawn among the ``candidates`` large enough to keep the fragment above
    ``DETECTION_FLOOR``; a share that no candidate can carry is dropped."""
    by_volume = candidates[np.argsort(volume[candidates], kind="stable")]
    share = np.minimum(rng.lognormal(*FRAGMENT_LOG_SHARE, draws), 0.9)
    large_enough = len(by_volume) - np.searchsorted(volume[by_volume], DETECTION_FLOOR / share)
    pick = np.floor(rng.random(draws) * large_enough).astype(int)
    carried = large_enough > 0
    return by_volume[len(by_volume) - 1 - pick[carried]], share[carried]


def _finished(rows: pd.DataFrame, catalog: pd.DataFrame, truth: bool) -> pd.DataFrame:
    """The user-facing table, sorted by name then RT, truth columns optional."""
    tails = _tails()["text"].to_numpy()
    names = np.array([f"{prefix}({tail})" for prefix in catalog["prefix"] for tail in tails],
                     dtype=object)
    code = rows["prefix"].to_numpy() * len(tails) + rows["tail"].to_numpy()
    rt = np.round(rows["rt"].to_numpy(), 3)
    order = np.lexsort((rt, np.argsort(np.argsort(names))[code]))
    table = pd.DataFrame({
        "Name": names[code][order], "RT": rt[order], "Volume": rows["volume"].to_numpy()[order],
        "Log P": rows["log_p"].to_numpy()[order],
        "Anchor": np.where(rows["anchor"].to_numpy(bool)[order], "T", "F"),
    })
    if truth:
        new_position = np.empty(len(order), dtype=np.int64)
        new_position[order] = np.arange(len(order))
        parent = rows["parent"].to_numpy()[order]
        table["truth_kind"] = rows["kind"].to_numpy()[order]
        parent_index = pd.array(new_position[np.maximum(parent, 0)], dtype="Int64")
        parent_index[parent < 0] = pd.NA
        table["truth_parent_index"] = parent_index
    return table
