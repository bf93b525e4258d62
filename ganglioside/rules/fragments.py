"""Rule 5 (spec 9): in-source fragments, judged row by row against every possible parent.

A fragment F of parent P has the same tail, a glycan composition contained in P's with strictly
fewer sugars, a smaller Volume, and an RT within ``rt_tolerance`` of P's. In algorithm 1.0 every
peak with such a candidate is a fragment, and its parent is the candidate with the largest Volume
(then more sugars, then smaller ``row_id``). Algorithm 2.0 takes the candidates from here (one per
parent class) and decides in ``fragment_model``.

How it scales: within one tail, rows with the same composition form a class, and containment is
decided between classes. For each class that can be a parent, its rows are sorted once by RT and
the best candidate in each fragment's RT window is a range maximum (``numpy.maximum.reduceat``)
of a rank that orders rows by (Volume, sugars, smaller ``row_id``). Because the largest-Volume
row of a class in the window is that class's best candidate, checking "smaller Volume" on it
alone is exact. Each fragment then keeps the best of its classes' candidates as a running
maximum. No pair of rows outside one RT window is ever looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..formatting import first_items, signed3
from .grouping import positions_by
from ..params import AnalysisParams
from ..result import AnalysisWarning

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


def find_parents(part: pd.DataFrame, comp: np.ndarray, tolerance: float) -> np.ndarray:
    """Parent ``row_id`` per participant (-1 if none), algorithm 1.0 (spec 9.4): the candidate
    with the largest Volume, then more sugars, then the smaller ``row_id``."""
    choice_rank = choice_ranks(part)
    pairs = candidate_pairs(part, comp, tolerance, choice_rank)
    best = np.full(len(part), -1, dtype=np.int64)
    np.maximum.at(best, pairs.fragment, choice_rank[pairs.parent])
    by_choice = np.argsort(choice_rank)
    return np.where(best >= 0, part["row_id"].to_numpy(np.int64)[by_choice[np.maximum(best, 0)]],
                    -1)


@dataclass(frozen=True)
class Candidates:
    """Candidate pairs that meet Rule 5's criteria (9.2-9.3), as row positions (in the table
    ``candidate_pairs`` was given, or in ``eligible`` from ``rule5_candidates``): a possible
    fragment and, per parent class (one tail and composition, i.e. one name), the class's best
    candidate in the RT window (spec 9.4's order: the largest Volume; a smaller peak of the same
    name in the window is not considered); ``parent_choices`` is the number of glycan classes of
    its tail that the parent could have lost sugars to (at least 1)."""

    fragment: np.ndarray
    parent: np.ndarray
    parent_choices: np.ndarray


def candidate_pairs(part: pd.DataFrame, comp: np.ndarray, tolerance: float,
                    choice_rank: np.ndarray) -> Candidates:
    """Per possible fragment and parent class, the class's best candidate (the highest
    ``choice_rank``, see ``choice_ranks``), if it has the larger Volume. One candidate per class
    keeps repeated peaks of one name from counting as several parents."""
    rt, vol = part["RT"].to_numpy(float), part["Volume"].to_numpy(float)
    by_choice = np.argsort(choice_rank)
    frags, parents, choices = [], [], []
    for rows, members, n_classes in _containments(part, comp):
        frag, parent = _best_in_class(rows, members, rt, vol, choice_rank, by_choice, tolerance)
        frags.append(frag)
        parents.append(parent)
        choices.append(np.full(len(frag), n_classes))
    empty = np.empty(0, dtype=np.int64)
    return Candidates(*(np.concatenate([empty, *parts]) for parts in (frags, parents, choices)))


def choice_ranks(part: pd.DataFrame) -> np.ndarray:
    """Each row's rank in spec 9.4's order (Volume, sugars, smaller ``row_id``): the best parent
    is highest."""
    order = np.lexsort((-part["row_id"].to_numpy(np.int64),
                        part["sugar_count"].to_numpy(np.int64), part["Volume"].to_numpy(float)))
    rank = np.empty(len(part), dtype=np.int64)
    rank[order] = np.arange(len(part))
    return rank


def _containments(part: pd.DataFrame, comp: np.ndarray):
    """Per parent class (one tail and composition): the rows that may be its fragments (their
    glycan contained in its own, with fewer sugars), the class's rows, and how many classes
    those possible fragments form."""
    if part.empty:
        return
    sugar = part["sugar_count"].to_numpy(np.int64)
    tail = pd.factorize(part["tail"], use_na_sentinel=False)[0]  # a missing tail is one tail
    class_id = _class_codes(tail, comp)
    members = [at for _, at in sorted(positions_by(class_id), key=lambda group: group[0])]
    first = np.array([at[0] for at in members])  # a class's first row stands for it
    fewest_sugars = np.array([sugar[at].min() for at in members])
    for _, classes in positions_by(tail[first]):
        composition = comp[first[classes]]
        contained = (np.all(composition[None, :, :] <= composition[:, None, :], axis=2)
                     & (fewest_sugars[classes][None, :] < sugar[first[classes]][:, None]))
        for parent, inside in zip(classes, contained):
            if inside.any():
                rows = np.concatenate([members[c] for c in classes[inside]])
                yield rows[sugar[rows] < sugar[first[parent]]], members[parent], int(inside.sum())


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


def _windows(sorted_rt: np.ndarray, rt: np.ndarray, tolerance: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """Per RT, the slice of ``sorted_rt`` within ``tolerance`` of it (to 1e-9 min)."""
    return (np.searchsorted(sorted_rt, rt - tolerance - EPSILON, side="left"),
            np.searchsorted(sorted_rt, rt + tolerance + EPSILON, side="right"))


def _best_in_class(frag, parents, rt, vol, choice_rank, by_choice, tolerance
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Fragments that have a candidate in one parent class, and that class's best candidate
    (the highest ``choice_rank`` in the fragment's RT window: the largest Volume)."""
    by_rt = parents[np.argsort(rt[parents], kind="stable")]
    lo, hi = _windows(rt[by_rt], rt[frag], tolerance)
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
              ) -> tuple[pd.DataFrame, pd.DataFrame, list[AnalysisWarning]]:
    """Algorithm 1.0 Rule 5: per-row columns (indexed like ``eligible``, with ``_rule5_note``),
    events (13.4) and warnings."""
    at, part, comp = _participants(eligible, modifier_counts)
    parent_row = find_parents(part, comp, params.rt_tolerance)
    frag_at = at[parent_row >= 0]
    parent_at = pd.Index(eligible["row_id"]).get_indexer(parent_row[parent_row >= 0])
    per_row, events = rule5_columns(eligible, at, frag_at, parent_at)
    anchors = frag_at[eligible["Anchor"].eq(True).to_numpy()[frag_at]]
    return per_row, events, anchor_fragment_warnings(eligible["row_id"].to_numpy()[anchors],
                                                     called_fragments=True)


def anchor_fragment_warnings(row_ids: np.ndarray, called_fragments: bool
                             ) -> list[AnalysisWarning]:
    """The warning about anchors that look like in-source fragments (none if there are none);
    algorithm 2.0 trusts anchors and does not call them fragments."""
    if not len(row_ids):
        return []
    ids = row_ids.tolist()
    trusted = "" if called_fragments else (
        "as trusted identifications they are not called fragments: ")
    return [AnalysisWarning(
        "anchor_fragment", "warning",
        f"{len(ids)} anchor(s) look like in-source fragments of a larger peak (rows "
        f"{first_items(ids)}); {trusted}check that these identifications are independent peaks",
        tuple(ids))]


def rule5_candidates(eligible: pd.DataFrame, modifier_counts: pd.DataFrame,
                     params: AnalysisParams) -> tuple[np.ndarray, Candidates]:
    """The participants' positions in ``eligible`` and every candidate pair among them (as
    positions in ``eligible`` too)."""
    at, part, comp = _participants(eligible, modifier_counts)
    pairs = candidate_pairs(part, comp, params.rt_tolerance, choice_ranks(part))
    return at, Candidates(at[pairs.fragment], at[pairs.parent], pairs.parent_choices)


def _participants(eligible: pd.DataFrame, modifier_counts: pd.DataFrame
                  ) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """The participants' positions in ``eligible``, their Rule 5 columns and compositions."""
    at = participants_of(eligible)
    part = eligible[PART_COLUMNS].iloc[at]
    return at, part, composition_matrix(part, modifier_counts)


def rule5_columns(eligible: pd.DataFrame, at: np.ndarray, frag_at: np.ndarray,
                  parent_at: np.ndarray, fragment_notes: list[str] | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-row columns and events of the participants at ``at`` whose fragments (``frag_at``,
    ascending) have the parents at ``parent_at``; ``fragment_notes`` adds a text to each
    fragment's note."""
    events, event_of = _events(eligible, frag_at, parent_at)
    per_row = _row_columns(eligible, at, frag_at, parent_at, event_of)
    per_row["_rule5_note"] = _notes(per_row, events, eligible["Name"].to_numpy()[parent_at],
                                    fragment_notes)
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


def _notes(per_row: pd.DataFrame, events: pd.DataFrame, parent_name: np.ndarray,
           extra: list[str] | None) -> pd.Series:
    """Rule 5 note per row (9, notes table); rows without a role have none. ``parent_name``
    (and ``extra``, text added after the ΔRT) hold one entry per fragment, in row order."""
    headings = {event: f"parent of event {event} ({_count(n)})"
                for event, n in zip(events["event_id"].tolist(), events["n_fragments"].tolist())}
    heading = [headings.get(event) for event in per_row["rule5_heads_event_id"].tolist()]
    role = per_row["rule5_role"].to_numpy(object)
    notes = np.full(len(per_row), None, dtype=object)
    parents = np.flatnonzero(role == "parent")
    notes[parents] = [f"Rule 5: {heading[i]}" for i in parents.tolist()]
    fragment = np.flatnonzero(role == "fragment")
    rows = per_row.iloc[fragment]
    extra = [""] * len(fragment) if extra is None else [f", {text}" for text in extra]
    notes[fragment] = [
        f"Rule 5: in-source fragment of row {p} {name} (ΔRT {signed3(diff)} min{more}, "
        f"event {event})" + (f"; {heading[i]}" if heading[i] else "")
        for i, p, name, diff, more, event in zip(
            fragment.tolist(), rows["rule5_parent_row_id"].tolist(), parent_name.tolist(),
            rows["rule5_rt_diff"].tolist(), extra, rows["rule5_event_id"].tolist())]
    return pd.Series(notes, index=per_row.index, dtype=object)


def _count(f: int) -> str:
    return "1 fragment" if f == 1 else f"{f} fragments"
