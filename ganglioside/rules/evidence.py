"""Algorithm 2.1: the rules combine into one verdict per peak.

Rule 1 gives each judged peak the probability that its identification is correct given its RT
(its lines weighed, itself left out: ``rule1_robust``). Two more pieces of evidence multiply the
odds of that probability, each by a likelihood ratio: how much more often the observation happens
to a misidentified peak than to a correct one. Both only ever count against a peak (an
observation that agrees with the identification is what Rule 1 already expects of it, and
counting it again would make the verdicts overconfident).

* **Rule 4: O-acetylation did not shift RT as it should**. How often a correct O-acetylated
  peak is inconsistent with a correct base is learned from the run: the share of inconsistent
  verdicts among the pairs whose peaks both fit their lines well (P(correct | RT) ≥
  ``TRUSTED_NEIGHBOUR``), pooled with ``PRIOR_PAIRS`` pairs at ``RULE4_INCONSISTENT_IF_CORRECT``
  (one in ten: the nearest-RT base can be another isomer's peak, and a small O-acetyl shift
  drowns in the scatter of two peaks). A misidentified one lands anywhere within ``MISID_SPAN``
  of its line, so it falls inside the consistent window [``oac_shift_min``, ``oac_shift_max``]
  only for that window's share of the span (0.3 with the defaults) and is inconsistent otherwise
  (0.7). If the base itself is probably misidentified, an inconsistency says little about the
  subject: the ratio is weighed by the base's own P(correct). With a base that fits its line and
  the prior rate the ratio is 0.1 / 0.7: the odds of a correct identification fall sevenfold.
* **Elution order** (``ORDER_VIOLATION_IF_CORRECT``): within one lipid tail, one set of
  modifiers and one neutral core, each sialic acid moves a ganglioside the same way (on reversed
  phase earlier: GQ1 < GT1 < GD1 < GM1). The direction is read from the run itself, from its
  well-fitting main-line peaks (at least ``ORDER_MIN_PAIRS`` neighbouring pairs, at least
  ``ORDER_AGREEMENT`` of them agreeing; otherwise the order is not weighed), so another column
  chemistry is not judged by reversed-phase rules. A peak that elutes on the wrong side of a
  well-fitting peak with fewer or more sialic acids, by more than ``rt_tolerance``, breaks the
  order. How often a correct peak does so is learned from the run as for Rule 4 (the share of
  well-fitting main-line peaks that break it, pooled with ``PRIOR_PAIRS`` at
  ``ORDER_VIOLATION_IF_CORRECT``, one in twenty); a misidentified one breaks it whenever it lands
  outside the window its neighbours leave it (that share of ``MISID_SPAN`` around its line).
  Only peaks judged against their main line are weighed, and only in series without positional
  isomers (GM3, GM2, GD3, GD2, GT3, GP1, ... and their modified forms): a GT1b or GD1b elutes up
  to the isomer range from its a-isomer, as far as a sialic acid moves a peak, so their order
  with the neighbouring categories is not fixed (on the lab's sample GD1b sits 0.5 min after
  GD1a, GT1 0.45 min before GD1a).

The final status then follows: a peak that fits a line but whose combined probability falls
below 0.5 is an ``outlier`` (the other rules outweigh its RT), and the reasons say so; a peak
whose Rule 1 and Rule 4 verdicts disagree is marked (``rules_disagree``) either way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..formatting import fixed3
from ..params import AnalysisParams
from .grouping import group_codes
from .rule1_pooled import ISOMER_SERIES, MISID_SPAN, PRIOR_CORRECT

RULE4_INCONSISTENT_IF_CORRECT = 0.1
ORDER_VIOLATION_IF_CORRECT = 0.05
PRIOR_PAIRS = 20.0  # the learned rates of the two are pooled with this many at the prior's
TRUSTED_NEIGHBOUR = 0.9  # P(correct | RT) of a well-fitting peak (sets the elution order)
ORDER_MIN_PAIRS = 3
ORDER_AGREEMENT = 0.8
DECISION = 0.5


def rule4_ratios(rows: pd.DataFrame, p_rt: np.ndarray, params: AnalysisParams) -> np.ndarray:
    """Per row the likelihood ratio (correct : misidentified) of an inconsistent Rule 4 verdict
    (1 for every other row and for anchors)."""
    inconsistent = rows["rule4_verdict"].eq("inconsistent").to_numpy() & ~rows["Anchor"].eq(
        True).to_numpy()
    base_correct = _base_correct(rows, p_rt)
    verdict = rows["rule4_verdict"].isin(["consistent", "inconsistent"]).to_numpy()
    well_fitting = verdict & (np.nan_to_num(p_rt) >= TRUSTED_NEIGHBOUR) & (
        base_correct >= TRUSTED_NEIGHBOUR)
    rate = learned_rate(inconsistent[well_fitting], RULE4_INCONSISTENT_IF_CORRECT)
    window = (params.oac_shift_max - params.oac_shift_min) / MISID_SPAN
    if_misidentified = float(np.clip(1 - window, rate, 1.0))
    if_correct = base_correct * rate + (1 - base_correct) * if_misidentified
    return np.where(inconsistent, if_correct / if_misidentified, 1.0)


def learned_rate(happened: np.ndarray, prior: float) -> float:
    """How often something happened to well-fitting peaks, pooled with ``PRIOR_PAIRS`` at the
    prior's rate."""
    return float((happened.sum() + PRIOR_PAIRS * prior) / (len(happened) + PRIOR_PAIRS))


def _base_correct(rows: pd.DataFrame, p_rt: np.ndarray) -> np.ndarray:
    """P(correct | RT) of each row's Rule 4 base (the prior where the base has no verdict)."""
    base = rows["rule4_base_row_id"].to_numpy(float, na_value=np.nan)
    position = pd.Series(np.arange(len(rows)), index=rows["row_id"].to_numpy())
    known = ~np.isnan(base)
    found = np.full(len(rows), np.nan)
    found[known] = p_rt[position.reindex(base[known].astype(np.int64)).to_numpy()]
    return np.where(np.isnan(found), PRIOR_CORRECT, found)


def order_ratios(rows: pd.DataFrame, p_rt: np.ndarray, rt_tolerance: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per row the likelihood ratio of breaking the sialic-acid elution order (1 where it holds
    or is not weighed), and the RT of the neighbour it breaks it against (NaN for none)."""
    rt = rows["RT"].to_numpy(float)
    sialic = rows["sialic_acid_count"].to_numpy(float, na_value=np.nan)
    group, _ = group_codes(rows["tail"], rows["modifiers"].fillna(""),
                           rows["_neutral_core"] if "_neutral_core" in rows else rows[
                               "sugar_count"] - rows["sialic_acid_count"])
    isomer_free = ~rows["base_prefix"].isin(ISOMER_SERIES).to_numpy()
    group = np.where(np.isnan(sialic) | ~isomer_free, -1, group)
    on_main = rows["isomer_series"].astype(float).to_numpy() == 1
    reference = on_main & (np.nan_to_num(p_rt) >= TRUSTED_NEIGHBOUR) & (group >= 0)
    direction = order_direction(group, sialic, rt, reference)
    if direction == 0:
        return np.ones(len(rows)), np.full(len(rows), np.nan)
    sialic = -direction * sialic  # as on reversed phase: more of them, earlier
    latest = _bound(group, sialic, rt, reference, fewer=True)  # must elute before these
    earliest = _bound(group, sialic, rt, reference, fewer=False)  # and after these
    late = rt > latest + rt_tolerance
    early = rt < earliest - rt_tolerance
    weighed = on_main & (group >= 0) & ~np.isnan(p_rt)
    broken = weighed & (late | early)
    window = np.clip(np.fmin(latest, rows["predicted_rt"].to_numpy(float) + MISID_SPAN / 2)
                     - np.fmax(earliest, rows["predicted_rt"].to_numpy(float) - MISID_SPAN / 2)
                     + 2 * rt_tolerance, 0, MISID_SPAN)
    rate = learned_rate(broken[reference], ORDER_VIOLATION_IF_CORRECT)
    if_misidentified = np.clip(1 - window / MISID_SPAN, rate, 1.0)
    ratio = np.where(broken, rate / if_misidentified, 1.0)
    return ratio, np.where(broken, np.where(late, latest, earliest), np.nan)


def order_direction(group, sialic, rt, reference) -> int:
    """How one more sialic acid moves RT in this run: -1 earlier, +1 later, 0 when the run's
    well-fitting peaks do not say so clearly (median RT per group and sialic-acid count,
    neighbouring counts compared)."""
    frame = pd.DataFrame({"group": group[reference], "sialic": sialic[reference],
                          "rt": rt[reference]})
    medians = frame.groupby(["group", "sialic"])["rt"].median().reset_index()
    step = medians.groupby("group")["sialic"].diff() == 1
    shifts = medians["rt"].diff()[step].to_numpy()
    if len(shifts) < ORDER_MIN_PAIRS:
        return 0
    direction = 1 if np.median(shifts) > 0 else -1
    return direction if np.mean(np.sign(shifts) == direction) >= ORDER_AGREEMENT else 0


def _bound(group, sialic, rt, reference, fewer: bool) -> np.ndarray:
    """Per row the earliest RT of the reference peaks of its group with fewer sialic acids
    (``fewer``), or the latest RT of those with more (±inf where there are none)."""
    sign = 1.0 if fewer else -1.0
    order = np.lexsort((sign * sialic[reference], group[reference]))
    g, s, value = group[reference][order], sialic[reference][order], sign * rt[reference][order]
    running = pd.Series(value).groupby(g).cummin().to_numpy()  # over ascending sign·sialic
    key = g * 1000.0 + sign * s
    wanted = group * 1000.0 + sign * sialic
    at = np.searchsorted(key, wanted, side="left") - 1  # the last reference strictly before
    found = (at >= 0) & (g[np.clip(at, 0, None)] == group) if len(g) else np.zeros(
        len(group), dtype=bool)
    bound = np.where(found, running[np.clip(at, 0, None)] if len(g) else 0.0, np.inf)
    return sign * bound


def combine(rows: pd.DataFrame, params: AnalysisParams) -> pd.DataFrame:
    """The 2.1 final status, confidence, ``rules_disagree`` and verdict note of every row."""
    p_rt = rows["_p_correct"].to_numpy(float)
    rule4 = rule4_ratios(rows, p_rt, params)
    order, neighbour = order_ratios(rows, p_rt, params.rt_tolerance)
    clipped = np.clip(p_rt, 1e-12, 1 - 1e-12)
    odds = clipped / (1 - clipped) * rule4 * order
    p_id = np.where(np.isnan(p_rt), np.nan, odds / (1 + odds))
    status = _status(rows, np.where((rule4 < 1) | (order < 1), p_id, np.nan), params)
    fragment = np.where(rows["Anchor"].eq(True), 0.0,
                        rows["rule5_fragment_probability"].fillna(0).to_numpy(float))
    good = (1 - fragment) * p_id
    good = np.where(np.isnan(good) & (status == "fragment"), 1 - fragment, good)
    confidence = np.where(status == "valid", good, 1 - good)
    confidence[np.isin(status, ("invalid", "unverified"))] = np.nan
    disagree = _disagree(rows, rule4, order)
    note = _verdict_notes(rows, p_rt, p_id, rule4, order, neighbour, status, disagree)
    index = rows.index
    return pd.DataFrame({"status": pd.Series(status, index=index, dtype=object),
                         "confidence": confidence, "rules_disagree": disagree,
                         "_verdict_note": pd.Series(note, index=index, dtype=object)},
                        index=index)


def _status(rows: pd.DataFrame, p_id: np.ndarray, params: AnalysisParams) -> np.ndarray:
    """First match of: invalid, fragment (if applied), Rule 1 outlier, unverified, possible
    isomer (valid only on a weakly supported inferred line), outlier (the other rules outweigh
    the RT fit: ``p_id``, NaN where no other rule spoke, below 0.5), valid. Without evidence
    from another rule the outlier threshold on z alone decides, as the user set it."""
    rule1 = rows["rule1_status"]
    conditions = [rows["input_problems"].notna(),
                  (rows["rule5_role"] == "fragment") & params.apply_fragment_status,
                  rule1 == "outlier", rule1 == "unverified",
                  rows["rule1_basis"] == "weak isomer line",
                  pd.Series(np.nan_to_num(p_id, nan=1.0) < DECISION, index=rows.index)]
    return np.select(conditions, ["invalid", "fragment", "outlier", "unverified",
                                  "possible isomer", "outlier"], default="valid").astype(object)


def _disagree(rows: pd.DataFrame, rule4: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Rule 1 says the peak fits a line but Rule 4 or the elution order speak against it, or
    Rule 1 says it is off every line but Rule 4 finds its O-acetyl shift consistent."""
    fits = rows["rule1_status"].eq("valid").to_numpy() & rows["z"].notna().to_numpy()
    outlier = rows["rule1_status"].eq("outlier").to_numpy()
    consistent = rows["rule4_verdict"].eq("consistent").to_numpy()
    return (fits & ((rule4 < 1) | (order < 1))) | (outlier & consistent)


def _verdict_notes(rows, p_rt, p_id, rule4, order, neighbour, status, disagree) -> np.ndarray:
    """A note on the rows whose verdict the other rules moved or where the rules disagree."""
    notes = np.full(len(rows), None, dtype=object)
    base = rows["rule4_base_row_id"].to_numpy(float, na_value=np.nan)
    for at in np.flatnonzero((rule4 < 1) | (order < 1) | disagree).tolist():
        parts = []
        if rule4[at] < 1:
            parts.append(f"Rule 4 inconsistent against row {int(base[at])}: odds × "
                         f"{fixed3(rule4[at])}")
        if order[at] < 1:
            parts.append(f"elutes on the wrong side of a peak with {_side(rows, at, neighbour)} "
                         f"sialic acids at {fixed3(neighbour[at])} min: odds × {fixed3(order[at])}")
        text = "Verdict: " + "; ".join(parts) if parts else "Verdict:"
        if parts and not np.isnan(p_rt[at]):
            text += f"; P(correct identification) {fixed3(p_rt[at])} by RT, {fixed3(p_id[at])} "
            text += "with them"
            if status[at] == "outlier" and rows["rule1_status"].iat[at] == "valid":
                text += ": they outweigh the RT fit"
        if disagree[at]:
            text += (f"; Rule 1 and {_other_rules(rule4[at], order[at])} disagree" if parts else
                     " Rule 1 and Rule 4 disagree: off every line, but its O-acetyl shift is "
                     "consistent")
        notes[at] = text
    return notes


def _other_rules(rule4: float, order: float) -> str:
    return " and ".join(name for name, ratio in (("Rule 4", rule4), ("the elution order", order))
                        if ratio < 1)


def _side(rows: pd.DataFrame, at: int, neighbour: np.ndarray) -> str:
    return "fewer" if rows["RT"].iat[at] > neighbour[at] else "more"
