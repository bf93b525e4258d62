"""Ground-truth peak tables for the accuracy benchmark, realistic the way the lab's sample is.

What the sample file (323 rows, 29 prefixes) shows and these tables copy:
* head groups GM4-GP1 with modifier stacks (+OAc, +2OAc, +dHex, +HexNAc, +Hex+HexNAc+OAc), a
  few large prefixes (30-45 peaks over 10-25 lipid tails) and many small ones (1-8 peaks);
* Log P computed from the structure (about -2.5 per sialic acid, +0.54 per carbon, -0.94 per
  double bond, +0.57 per O-acetyl), RT rising with Log P at 1.28-1.42 min per unit with a
  head-group offset that is additive in composition only up to ~0.3 min of idiosyncrasy;
* anchors concentrated on a few prefixes: most prefixes have 0-2;
* isomer-capable series (GD1, GT1, GQ1, GM1) with a second peak of one name on a parallel line
  0.7-2.0 min from the first, across several tails;
* misidentified peaks whose RT is 0.4-2.5 min off where their name elutes (a repeated peak of an
  existing name, or the only peak of its name);
* in-source fragments: a smaller glycan of the same tail at the parent's RT (within 0.06 min),
  with a much smaller Volume.

``make_truth_table(n_rows, seed)`` returns the input columns plus ``truth_kind`` (``correct``,
``isomer``, ``misidentified``, ``fragment``) and ``truth_parent_index`` (the parent's row for a
fragment). Rows are shuffled; the table is deterministic per seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CORES = {  # core: (sialic acids, neutral core sugars, relative frequency)
    "GM4": (1, 1, 0.2), "GM3": (1, 2, 1.0), "GM2": (1, 3, 1.0), "GM1": (1, 4, 1.5),
    "GD3": (2, 2, 1.0), "GD2": (2, 3, 0.6), "GD1": (2, 4, 1.5), "GT3": (3, 2, 0.4),
    "GT1": (3, 4, 1.5), "GQ1": (4, 4, 1.0), "GP1": (5, 4, 0.4),
}
STACKS = {  # modifier stack: (Log P change, RT-offset change, sugars added, frequency)
    "": (0.0, 0.0, 0, 6.0), "+OAc": (0.57, -0.6, 0, 3.0), "+2OAc": (1.14, -1.2, 0, 1.2),
    "+dHex": (-1.1, 1.5, 1, 1.0), "+HexNAc": (-2.15, 2.6, 1, 1.0),
    "+dHex+OAc": (-0.53, 0.9, 1, 0.5), "+HexNAc+OAc": (-1.58, 2.0, 1, 0.4),
    "+Hex+HexNAc+OAc": (-3.2, 4.2, 2, 0.2),
}
ISOMER_CAPABLE = ("GD1", "GT1", "GQ1", "GM1")
FRAGMENT_OF = {"GT1": "GD1", "GD1": "GM1", "GQ1": "GT1", "GP1": "GQ1", "GM1": "GM2",
               "GD2": "GM2", "GT3": "GD3", "GD3": "GM3", "GM2": "GM3"}
"""The glycan left when a parent loses one sialic acid or one terminal sugar in the source."""


def log_p(core: str, stack: str, carbons: int, double_bonds: int, oxygens: int) -> float:
    sialic, neutral, _ = CORES[core]
    value = (4.0 - 2.47 * (sialic - 1) - 1.9 * (neutral - 4) + STACKS[stack][0]
             + 0.54 * (carbons - 36) - 0.94 * (double_bonds - 1) - 0.7 * (oxygens - 2))
    return round(value, 2)


def rt_offset(core: str, stack: str) -> float:
    """Composition part of the head group's RT offset (RT - slope * Log P)."""
    sialic, neutral, _ = CORES[core]
    return 4.7 + 2.8 * (sialic - 1) + 2.9 * (neutral - 4) + STACKS[stack][1]


def name(core: str, stack: str, tail: tuple[int, int, int]) -> str:
    return f"{core}{stack}({tail[0]}:{tail[1]};O{tail[2]})"


def make_truth_table(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """About ``n_rows`` peaks with their truth (see the module docstring)."""
    rng = np.random.default_rng(seed)
    slope = rng.uniform(1.28, 1.42)
    rows: list[dict] = []
    for core, stack, size in _prefixes(rng, n_rows):
        rows += _prefix_rows(rng, core, stack, size, slope)
    rows += _fragments(rng, rows, n_fragments=max(2, round(0.07 * len(rows))))
    table = pd.DataFrame(rows)
    order = rng.permutation(len(table))
    table = table.iloc[order].reset_index(drop=True)
    new_index = np.empty(len(order), dtype=np.int64)
    new_index[order] = np.arange(len(order))
    parent = table["truth_parent_index"]
    table["truth_parent_index"] = pd.array(
        [new_index[int(p)] if pd.notna(p) else pd.NA for p in parent], dtype="Int64")
    return table[["Name", "RT", "Volume", "Log P", "Anchor", "truth_kind", "truth_parent_index"]]


def _prefixes(rng, n_rows):
    cores, stacks = list(CORES), list(STACKS)
    core_p = np.array([CORES[c][2] for c in cores]) / sum(CORES[c][2] for c in cores)
    stack_p = np.array([STACKS[s][3] for s in stacks]) / sum(STACKS[s][3] for s in stacks)
    chosen: dict[tuple[str, str], int] = {}
    target = 0.9 * n_rows  # the rest are fragments
    while sum(chosen.values()) < target:
        key = (cores[rng.choice(len(cores), p=core_p)], stacks[rng.choice(len(stacks), p=stack_p)])
        if key not in chosen:
            chosen[key] = int(np.clip(rng.lognormal(1.8, 1.0), 1, 45))
    return [(core, stack, size) for (core, stack), size in chosen.items()]


def _prefix_rows(rng, core, stack, size, slope) -> list[dict]:
    n_tails = max(1, min(size, int(round(size * rng.uniform(0.5, 0.9)))))
    carbons = rng.choice(np.arange(32, 45), size=n_tails * 3)
    tails = list(dict.fromkeys(
        (int(c), int(rng.choice([0, 1, 1, 1, 2, 3])), int(rng.choice([2] * 9 + [3])))
        for c in carbons))[:n_tails]
    offset = rt_offset(core, stack) + rng.normal(0, 0.3)
    noise = rng.uniform(0.03, 0.08)
    isomer_shift = (rng.choice([-1, 1]) * rng.uniform(0.7, 2.0)
                    if core in ISOMER_CAPABLE and len(tails) >= 3 and rng.random() < 0.6 else None)
    anchors_wanted = _anchor_count(rng, len(tails))
    rows = []
    for i, tail in enumerate(tails):
        lp = log_p(core, stack, *tail)
        true_rt = offset + slope * lp
        rows.append(_row(name(core, stack, tail), true_rt + rng.normal(0, noise), lp, rng,
                         anchor=i < anchors_wanted, kind="correct"))
        if isomer_shift is not None and rng.random() < 0.7:
            rows.append(_row(name(core, stack, tail), true_rt + isomer_shift + rng.normal(0, noise),
                             lp, rng, anchor=False, kind="isomer"))
    extra = size - len(rows)
    for _ in range(max(0, extra)):
        rows.append(_misidentified(rng, rows, slope, offset))
    _misidentify_some(rng, rows)
    return rows


def _anchor_count(rng, n_tails: int) -> int:
    """A few prefixes are well anchored; most have 0-2 anchors."""
    if n_tails >= 8 and rng.random() < 0.6:
        return int(rng.integers(3, min(n_tails, 12) + 1))
    return int(rng.choice([0, 0, 0, 1, 2]))


def _row(text, rt, lp, rng, anchor, kind, parent=None) -> dict:
    return {"Name": text, "RT": round(float(rt), 3), "Log P": lp,
            "Volume": round(float(rng.lognormal(11.8, 1.4))), "Anchor": "T" if anchor else "F",
            "truth_kind": kind, "truth_parent_index": parent}


def _misidentified(rng, rows, slope, offset) -> dict:
    """A further peak annotated with an existing name but eluting 0.4-2.5 min off its line."""
    source = rows[int(rng.integers(len(rows)))]
    true_rt = offset + slope * source["Log P"]
    return _row(source["Name"], true_rt + rng.choice([-1, 1]) * rng.uniform(0.4, 2.5),
                source["Log P"], rng, anchor=False, kind="misidentified")


def _misidentify_some(rng, rows) -> None:
    """A few only-peaks of their name are misidentified too (never an anchor)."""
    for row in rows:
        if row["truth_kind"] == "correct" and row["Anchor"] == "F" and rng.random() < 0.04:
            row["RT"] = round(row["RT"] + rng.choice([-1, 1]) * rng.uniform(0.4, 2.5), 3)
            row["truth_kind"] = "misidentified"


def _fragments(rng, rows, n_fragments) -> list[dict]:
    """Smaller glycans of a parent's tail at the parent's RT, much smaller than the parent."""
    out = []
    candidates = [i for i, r in enumerate(rows)
                  if r["truth_kind"] in ("correct", "isomer") and _core_stack(r["Name"])[0]
                  in FRAGMENT_OF]
    for i in rng.choice(candidates, size=min(n_fragments, len(candidates)), replace=False):
        parent = rows[int(i)]
        core, stack, tail = _core_stack(parent["Name"])
        child = FRAGMENT_OF[core]
        fragment = _row(name(child, stack, tail), parent["RT"] + rng.uniform(-0.06, 0.06),
                        log_p(child, stack, *tail), rng, anchor=False, kind="fragment",
                        parent=int(i))
        fragment["Volume"] = round(parent["Volume"] * rng.uniform(0.02, 0.4))
        out.append(fragment)
    return out


def _core_stack(text: str) -> tuple[str, str, tuple[int, int, int]]:
    head, lipid = text[:-1].split("(")
    core = head.split("+")[0]
    stack = head[len(core):]
    chain, oxygens = lipid.split(";O")
    carbons, double_bonds = chain.split(":")
    return core, stack, (int(carbons), int(double_bonds), int(oxygens))
