"""Rule 5 (spec 9): in-source fragments, judged row by row against every possible parent.

A fragment F of parent P has the same tail, a glycan composition contained in P's with strictly
fewer sugars, a smaller Volume, and an RT within ``rt_tolerance`` of P's. F's parent is the
candidate with the largest Volume (then more sugars, then smaller ``row_id``).

How it scales: within one tail, rows with the same composition form a class, and containment is
decided between classes. For each class that can be a parent, its rows are sorted once by RT and
the best candidate in each fragment's RT window is a range maximum (``numpy.maximum.reduceat``)
of a rank that orders rows by (Volume, sugars, smaller ``row_id``). Because the largest-Volume
row of a class in the window is that class's best candidate, checking "smaller Volume" on it
alone is exact. Each fragment then keeps the best of its classes' candidates as a running
maximum. No pair of rows outside one RT window is ever looked at.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .formatting import signed3
from .params import AnalysisParams
from .rule1_regression import positions_by

EPSILON = 1e-9
EVENT_COLUMNS = ["event_id", "tail", "parent_row_id", "parent_name", "fragment_row_ids",
                 "n_fragments", "rt_min", "rt_max", "summed_volume"]
ROW_COLUMNS = ["rule5_role", "rule5_event_id", "rule5_heads_event_id", "rule5_parent_row_id",
               "rule5_rt_diff"]


PART_COLUMNS = ["row_id", "RT", "Volume", "tail", "sugar_count", "sialic_acid_count",
                "_neutral_core"]


def participants_of(eligible: pd.DataFrame) -> np.ndarray:
    """Positions of the rows with known counts and a Volume (9.1), in ``row_id`` order."""
    known = (eligible["sugar_count"].notna() & eligible["sialic_acid_count"].notna()
             & eligible["Volume"].notna())
    return np.flatnonzero(known.to_numpy())


def composition_matrix(part: pd.DataFrame, modifier_counts: pd.DataFrame) -> np.ndarray:
    """Sialic acids, neutral core sugars and each modifier's summed count (9.2), one row per row."""
    mods = modifier_counts.reindex(part["row_id"]).fillna(0).to_numpy(np.int64)
    base = part[["sialic_acid_count", "_neutral_core"]].to_numpy(np.int64)
    return np.hstack([base, mods])


def find_parents(part: pd.DataFrame, comp: np.ndarray, tolerance: float,
                 nearest_first: bool = False) -> np.ndarray:
    """Parent ``row_id`` per participant (-1 if none).

    Spec 9.4 (algorithm 1.0): the candidate with the largest Volume, then more sugars, then the
    smaller ``row_id``. With ``nearest_first`` (2.0), candidates of different compositions are
    first compared by closeness in RT: an in-source fragment's apex coincides with its parent's,
    so when several larger glycans co-elute, the one eluting nearest is the likeliest parent
    (within one composition, i.e. repeated peaks of one name, the largest still wins).
    """
    if part.empty:
        return np.empty(0, dtype=np.int64)
    rt = part["RT"].to_numpy(float)
    vol = part["Volume"].to_numpy(float)
    sugar = part["sugar_count"].to_numpy(np.int64)
    row_id = part["row_id"].to_numpy(np.int64)
    tail = pd.factorize(part["tail"], use_na_sentinel=False)[0]  # a missing tail is one tail
    class_id = _class_codes(tail, comp)
    members = [at for _, at in sorted(positions_by(class_id), key=lambda group: group[0])]
    first = np.array([at[0] for at in members])  # a class's first row stands for it
    fewest_sugars = np.array([sugar[at].min() for at in members])
    # candidates ordered by (Volume, sugars, smaller row_id): the best has the highest rank
    by_choice = np.lexsort((-row_id, sugar[first[class_id]], vol))
    choice_rank = np.empty(len(part), dtype=np.int64)
    choice_rank[by_choice] = np.arange(len(part))
    frags, candidates = [], []
    for _, classes in positions_by(tail[first]):
        composition = comp[first[classes]]
        contained = (np.all(composition[None, :, :] <= composition[:, None, :], axis=2)
                     & (fewest_sugars[classes][None, :] < sugar[first[classes]][:, None]))
        for parent, inside in zip(classes, contained):
            if inside.any():
                rows = np.concatenate([members[c] for c in classes[inside]])
                frag, candidate = _best_in_class(rows[sugar[rows] < sugar[first[parent]]],
                                                 members[parent], rt, vol, choice_rank,
                                                 by_choice, tolerance)
                frags.append(frag)
                candidates.append(candidate)
    parent = _choose(frags, candidates, choice_rank, by_choice, rt, nearest_first)
    return np.where(parent >= 0, row_id[parent], -1)


def _class_codes(tail: np.ndarray, comp: np.ndarray) -> np.ndarray:
    """Class number of each row: one per (tail, composition), numbered in that sorted order (so
    each tail's classes are one run of numbers)."""
    key, size = tail.astype(np.int64), int(tail.max()) + 1
    for column in comp.T:
        values, code = np.unique(column, return_inverse=True)
        size *= len(values)
        if size >= 2 ** 62:  # too many compositions for one integer: compare rows instead
            return np.unique(np.column_stack([tail, comp]), axis=0,
                             return_inverse=True)[1].ravel()
        key = key * len(values) + code.ravel()
    return np.unique(key, return_inverse=True)[1].ravel()


def _choose(frags, candidates, choice_rank, by_choice, rt, nearest_first) -> np.ndarray:
    """Per participant, the position of its best candidate (one per parent class): the nearest
    in RT (to 1e-9 min) if ``nearest_first``, then the highest ``choice_rank``; -1 for none.

    Both criteria fold into one integer per pair, so the best is a running maximum (no sort).
    """
    n = len(choice_rank)
    frag = np.concatenate([np.empty(0, dtype=np.int64), *frags])
    candidate = np.concatenate([np.empty(0, dtype=np.int64), *candidates])
    key = choice_rank[candidate]
    if nearest_first and len(frag):
        # whole nanominutes, as round(ΔRT, 9) compares them: fewer is better
        distance = np.rint(np.abs(rt[frag] - rt[candidate]) * 1e9).astype(np.int64)
        key = key + (distance.max() - distance) * n
    best = np.full(n, -1, dtype=np.int64)
    np.maximum.at(best, frag, key)
    return np.where(best >= 0, by_choice[best % n], -1)


def _best_in_class(frag, parents, rt, vol, choice_rank, by_choice, tolerance
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Fragments that have a candidate in one parent class, and that class's best candidate
    (the highest ``choice_rank`` in the fragment's RT window: the largest Volume)."""
    by_rt = parents[np.argsort(rt[parents], kind="stable")]
    rt_sorted = rt[by_rt]
    lo = np.searchsorted(rt_sorted, rt[frag] - tolerance - EPSILON, side="left")
    hi = np.searchsorted(rt_sorted, rt[frag] + tolerance + EPSILON, side="right")
    has = hi > lo
    frag, lo, hi = frag[has], lo[has], hi[has]
    if not len(frag):
        return frag, frag
    window = np.column_stack([lo, hi]).ravel()
    top = np.maximum.reduceat(np.append(choice_rank[by_rt], -1), window)[::2]
    candidate = by_choice[top]
    qualifies = vol[candidate] > vol[frag]
    return frag[qualifies], candidate[qualifies]


def run_rule5(eligible: pd.DataFrame, modifier_counts: pd.DataFrame, params: AnalysisParams
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rule 5 per-row columns (indexed like ``eligible``, with ``_rule5_note``) and events (13.4)."""
    at = participants_of(eligible)
    part = eligible[PART_COLUMNS].iloc[at]
    parent_row = find_parents(part, composition_matrix(part, modifier_counts),
                              params.rt_tolerance, nearest_first=params.algorithm_version != "1.0")
    frag_at = at[parent_row >= 0]
    parent_at = pd.Index(eligible["row_id"]).get_indexer(parent_row[parent_row >= 0])
    events, event_of = _events(eligible, frag_at, parent_at)
    per_row = _row_columns(eligible, at, frag_at, parent_at, event_of)
    per_row["_rule5_note"] = _notes(per_row, events, eligible["Name"].to_numpy()[parent_at])
    return per_row, events


def _row_columns(eligible, at, frag_at, parent_at, event_of) -> pd.DataFrame:
    """Role, event, heading event, parent and ΔRT per eligible row (participants at ``at``,
    fragments at ``frag_at`` with parents at ``parent_at``; ``event_of`` numbers the event each
    row heads, 0 for none)."""
    role = np.full(len(eligible), None, dtype=object)
    role[at] = "none"
    role[event_of > 0] = "parent"
    role[frag_at] = "fragment"
    heads = np.where(event_of > 0, event_of, np.nan)
    event = heads.copy()
    event[frag_at] = event_of[parent_at]
    parent, rt_diff = np.full(len(eligible), np.nan), np.full(len(eligible), np.nan)
    parent[frag_at] = eligible["row_id"].to_numpy()[parent_at]
    rt = eligible["RT"].to_numpy(float)
    rt_diff[frag_at] = rt[frag_at] - rt[parent_at]
    index = eligible.index
    return pd.DataFrame({"rule5_role": pd.Series(role, index=index, dtype=object),
                         "rule5_event_id": pd.array(event, dtype="Int64"),
                         "rule5_heads_event_id": pd.array(heads, dtype="Int64"),
                         "rule5_parent_row_id": pd.array(parent, dtype="Int64"),
                         "rule5_rt_diff": rt_diff}, index=index)


def _events(eligible: pd.DataFrame, frag_at: np.ndarray, parent_at: np.ndarray
            ) -> tuple[pd.DataFrame, np.ndarray]:
    """One event per heading row, numbered by tail, parent RT and parent row_id (9.6); and per
    eligible row the number of the event it heads (0 for none)."""
    event_of = np.zeros(len(eligible), dtype=np.int64)
    if not len(frag_at):
        return _empty_events(), event_of
    row_id, rt = eligible["row_id"].to_numpy(), eligible["RT"].to_numpy(float)
    volume = eligible["Volume"].to_numpy(float)
    order = np.lexsort((row_id[frag_at], parent_at))  # each parent's fragments in row_id order
    frag_at, parent_at = frag_at[order], parent_at[order]
    starts = np.flatnonzero(np.diff(parent_at, prepend=-1))
    parents = parent_at[starts]
    ev = pd.DataFrame({
        "parent_row_id": row_id[parents],
        "tail": eligible["tail"].to_numpy()[parents],
        "parent_name": eligible["Name"].to_numpy()[parents],
        "fragment_row_ids": [ids.tolist() for ids in np.split(row_id[frag_at], starts[1:])],
        "n_fragments": np.diff(np.append(starts, len(frag_at))),
        "rt_min": np.minimum(rt[parents], np.minimum.reduceat(rt[frag_at], starts)),
        "rt_max": np.maximum(rt[parents], np.maximum.reduceat(rt[frag_at], starts)),
        "summed_volume": volume[parents] + np.add.reduceat(volume[frag_at], starts),
    })
    tail_keys = [eligible[col].astype(float).to_numpy()[parents]
                 for col in ("carbons", "double_bonds", "oxygens")]
    numbered = np.lexsort((row_id[parents], rt[parents], *tail_keys[::-1]))  # NaN last
    ev = ev.iloc[numbered].reset_index(drop=True)
    ev["event_id"] = np.arange(1, len(ev) + 1)
    event_of[parents[numbered]] = ev["event_id"].to_numpy()
    return ev[EVENT_COLUMNS], event_of


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame(columns=EVENT_COLUMNS)


def _notes(per_row: pd.DataFrame, events: pd.DataFrame, parent_name: np.ndarray) -> pd.Series:
    """Rule 5 note per row (9, notes table); rows without a role have none. ``parent_name``
    holds the parent's name of each fragment, in row order."""
    headings = {event: f"parent of event {event} ({_count(n)})"
                for event, n in zip(events["event_id"].tolist(), events["n_fragments"].tolist())}
    heading = [headings.get(event) for event in per_row["rule5_heads_event_id"].tolist()]
    role = per_row["rule5_role"].to_numpy(object)
    notes = np.full(len(per_row), None, dtype=object)
    parents = np.flatnonzero(role == "parent")
    notes[parents] = [f"Rule 5: {heading[i]}" for i in parents.tolist()]
    fragment = np.flatnonzero(role == "fragment")
    rows = per_row.iloc[fragment]
    notes[fragment] = [
        f"Rule 5: in-source fragment of row {p} {name} (ΔRT {signed3(diff)} min, event {event})"
        + (f"; {heading[i]}" if heading[i] else "")
        for i, p, name, diff, event in zip(
            fragment.tolist(), rows["rule5_parent_row_id"].tolist(), parent_name.tolist(),
            rows["rule5_rt_diff"].tolist(), rows["rule5_event_id"].tolist())]
    return pd.Series(notes, index=per_row.index, dtype=object)


def _count(f: int) -> str:
    return "1 fragment" if f == 1 else f"{f} fragments"
