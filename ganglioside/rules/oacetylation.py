"""Rule 4 (spec 8): an O-acetylated species must elute later than its one-OAc-fewer base.

The base of each subject is the nearest-RT row with the same core, the same non-OAc modifiers,
the same tail and one OAc fewer. Candidates are sorted once by (that key, RT, row_id); each
subject's nearest candidate at or before and at or after its RT is a binary search, so the cost
grows with n log n, never with the square of a name's repeated peaks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..formatting import as_set, signed3
from .grouping import group_codes
from ..params import AnalysisParams

OAC_COLUMNS = ["oac_row_id", "oac_name", "oac_count", "base_row_id", "base_name", "rt_oac",
               "rt_base", "rt_shift", "verdict", "note"]


def nearest_base(eligible: pd.DataFrame, oac: np.ndarray, subjects: np.ndarray) -> np.ndarray:
    """Position of each subject's base (-1 if none): the nearest candidate by RT; ties go to the
    smaller ``row_id`` (spec 8.3)."""
    rt, row_id = eligible["RT"].to_numpy(float), eligible["row_id"].to_numpy()
    candidate_key, subject_key = _match_keys(eligible, oac, subjects)
    # candidates sorted by (key, RT, row_id); an RT rank keeps exact ties, so (key, RT) is one
    # integer and a subject's neighbours are two binary searches
    rank = np.unique(rt, return_inverse=True)[1].ravel()
    n_ranks = int(rank.max()) + 1
    order = np.lexsort((row_id, rank, candidate_key))
    sorted_at = (candidate_key * n_ranks + rank)[order]
    wanted = subject_key * n_ranks + rank[subjects]
    after = np.searchsorted(sorted_at, wanted, side="left")  # the smallest row_id at its RT
    last = np.searchsorted(sorted_at, wanted, side="right") - 1
    before = np.searchsorted(sorted_at, sorted_at[np.maximum(last, 0)])  # smallest row_id too
    has_after = _same_key(sorted_at, after, subject_key, n_ranks)
    has_before = _same_key(sorted_at, last, subject_key, n_ranks)
    after = np.where(has_after, order[np.minimum(after, len(order) - 1)], -1)
    before = np.where(has_before, order[before], -1)
    d_after, d_before = np.abs(rt[after] - rt[subjects]), np.abs(rt[subjects] - rt[before])
    take_after = ~has_before | (has_after & ((d_after < d_before) | (
        (d_after == d_before) & (row_id[after] < row_id[before]))))
    return np.where(take_after, after, before)


def _match_keys(eligible, oac, subjects) -> tuple[np.ndarray, np.ndarray]:
    """One integer per (core, non-OAc modifiers, tail, OAc count) key: every row's own as a
    candidate, and each subject's with one OAc fewer."""
    keys = [eligible["core"], eligible["_non_oac_key"], eligible["tail"].fillna("\0null")]
    code, _ = group_codes(*(pd.concat([key, key.iloc[subjects]], ignore_index=True)
                            for key in keys), np.concatenate([oac, oac[subjects] - 1]))
    return code[:len(oac)], code[len(oac):]


def _same_key(sorted_at: np.ndarray, at: np.ndarray, key: np.ndarray, n_ranks: int) -> np.ndarray:
    """Whether position ``at`` of the sorted candidates exists and has the subject's key."""
    inside = (at >= 0) & (at < len(sorted_at))
    return inside & (sorted_at[np.clip(at, 0, len(sorted_at) - 1)] // n_ranks == key)


def run_rule4(eligible: pd.DataFrame, params: AnalysisParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rule 4 per-row columns (indexed like ``eligible``) and the O-acetylation table (13.3)."""
    oac = eligible["oac_count"].to_numpy(np.int64)
    subjects = np.flatnonzero(oac >= 1)
    table = (_table(eligible, subjects, nearest_base(eligible, oac, subjects), params)
             if len(subjects) else pd.DataFrame(columns=OAC_COLUMNS))
    n = len(eligible)
    verdict, note = np.full(n, None, dtype=object), np.full(n, None, dtype=object)
    base, shift = np.full(n, np.nan), np.full(n, np.nan)
    if len(subjects):
        verdict[subjects] = table["verdict"].to_numpy(object)
        note[subjects] = table["note"].to_numpy(object)
        base[subjects] = table["base_row_id"].to_numpy(float, na_value=np.nan)
        shift[subjects] = table["rt_shift"].to_numpy()
    index = eligible.index
    per_row = pd.DataFrame({"rule4_verdict": pd.Series(verdict, index=index, dtype=object),
                            "rule4_base_row_id": pd.array(base, dtype="Int64"),
                            "rule4_rt_shift": shift,
                            "_rule4_note": pd.Series(note, index=index, dtype=object)},
                           index=index)
    return per_row, table


def _table(eligible, subjects, base, params) -> pd.DataFrame:
    """The O-acetylation table: one row per subject with its base and verdict."""
    found = base >= 0
    row_id, rt = eligible["row_id"].to_numpy(), eligible["RT"].to_numpy(float)
    names = eligible["Name"].to_numpy(object)
    base_row_id = np.where(found, row_id[base], -1)
    rt_base = np.where(found, rt[base], np.nan)
    shift = rt[subjects] - rt_base
    verdict, note = _verdicts(shift, base_row_id, found, params)
    return pd.DataFrame({
        "oac_row_id": row_id[subjects],
        "oac_name": names[subjects],
        "oac_count": eligible["oac_count"].to_numpy(np.int64)[subjects],
        "base_row_id": pd.array(np.where(found, base_row_id, np.nan), dtype="Int64"),
        "base_name": pd.Series(np.where(found, names[base], None), dtype=object),
        "rt_oac": rt[subjects],
        "rt_base": rt_base,
        "rt_shift": shift,
        "verdict": verdict,
        "note": note,
    })


def _verdicts(shift, base_row_id, found, params) -> tuple[np.ndarray, list[str]]:
    """Verdict and note of each subject (8.4)."""
    pairs = [_verdict(ok, s, base, params.oac_shift_min, params.oac_shift_max)
             for ok, s, base in zip(found.tolist(), shift.tolist(), base_row_id.tolist())]
    return np.array([v for v, _ in pairs], dtype=object), [note for _, note in pairs]


def _verdict(found: bool, shift: float, base: int, low: float, high: float) -> tuple[str, str]:
    """One subject's verdict and note."""
    if not found:
        return ("not verifiable",
                "Rule 4: not verifiable, no peak of the same compound with one OAc fewer")
    if shift <= 0:
        return ("inconsistent", "Rule 4: inconsistent, O-acetylation did not increase RT "
                f"({signed3(shift)} min vs row {base})")
    if low <= shift <= high:
        return "consistent", f"Rule 4: consistent, RT {signed3(shift)} min vs row {base}"
    return ("inconsistent", f"Rule 4: inconsistent, RT shift {signed3(shift)} min outside "
            f"[{as_set(low)}, {as_set(high)}] min (vs row {base})")
