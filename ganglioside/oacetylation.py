"""Rule 4 (spec 8): an O-acetylated species must elute later than its one-OAc-fewer base.

The base of each subject is the nearest-RT row with the same core, the same non-OAc modifiers,
the same tail and one OAc fewer; it is found with two sorted as-of joins (one per direction), so
the cost grows with n log n, never with the square of a name's repeated peaks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .formatting import as_set, signed3
from .params import AnalysisParams

OAC_COLUMNS = ["oac_row_id", "oac_name", "oac_count", "base_row_id", "base_name", "rt_oac",
               "rt_base", "rt_shift", "verdict", "note"]
KEYS = ["core", "_non_oac_key", "_tail_key", "_match_oac"]


def _nearest_base(subjects: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """Nearest candidate by RT per subject; ties go to the smaller ``row_id`` (spec 8.3)."""
    left = subjects.sort_values("RT")
    found = []
    for direction, row_order in (("backward", False), ("forward", True)):
        # merge_asof takes the last equal key going backward and the first going forward:
        # order candidates so that this is the smallest row_id at that RT.
        right = candidates.sort_values(["RT", "row_id"], ascending=[True, row_order])
        match = pd.merge_asof(left[["row_id", "RT", *KEYS]],
                              right[["row_id", "RT", *KEYS]].rename(
                                  columns={"row_id": "base_row_id", "RT": "rt_base"}).assign(
                                  _rt=lambda d: d["rt_base"]),
                              left_on="RT", right_on="_rt", by=KEYS, direction=direction)
        found.append(match.set_index("row_id")[["base_row_id", "rt_base"]])
    back, fwd = found
    back, fwd = back.reindex(subjects["row_id"]), fwd.reindex(subjects["row_id"])
    rt = subjects.set_index("row_id")["RT"]
    d_back, d_fwd = (rt - back["rt_base"]).abs(), (fwd["rt_base"] - rt).abs()
    take_fwd = back["base_row_id"].isna() | (d_fwd < d_back) | (
        (d_fwd == d_back) & (fwd["base_row_id"] < back["base_row_id"]))
    return fwd.where(take_fwd, back)


def run_rule4(eligible: pd.DataFrame, params: AnalysisParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rule 4 per-row columns (indexed like ``eligible``) and the O-acetylation table (13.3)."""
    rows = eligible.assign(_tail_key=eligible["tail"].fillna("\0null"),
                           _match_oac=eligible["oac_count"].astype("int64"))
    subjects = rows[rows["_match_oac"] >= 1].assign(_match_oac=lambda d: d["_match_oac"] - 1)
    per_row = pd.DataFrame(index=eligible.index)
    per_row["rule4_verdict"] = None
    per_row["rule4_base_row_id"] = pd.array([pd.NA] * len(eligible), dtype="Int64")
    per_row["rule4_rt_shift"] = np.nan
    per_row["_rule4_note"] = None
    if subjects.empty:
        return per_row, pd.DataFrame(columns=OAC_COLUMNS)
    base = _nearest_base(subjects, rows)
    table = _verdicts(subjects, base, eligible, params)
    index = subjects.index
    per_row.loc[index, "rule4_verdict"] = table["verdict"].to_numpy()
    per_row.loc[index, "rule4_base_row_id"] = table["base_row_id"].to_numpy()
    per_row.loc[index, "rule4_rt_shift"] = table["rt_shift"].to_numpy()
    per_row.loc[index, "_rule4_note"] = table["note"].to_numpy()
    return per_row, table


def _verdicts(subjects, base, eligible, params) -> pd.DataFrame:
    names = eligible.set_index("row_id")["Name"]
    table = pd.DataFrame({
        "oac_row_id": subjects["row_id"].to_numpy(),
        "oac_name": subjects["Name"].to_numpy(),
        "oac_count": subjects["oac_count"].to_numpy(),
        "base_row_id": pd.array(base["base_row_id"].to_numpy(), dtype="Int64"),
        "rt_oac": subjects["RT"].to_numpy(float),
        "rt_base": base["rt_base"].to_numpy(float),
    })
    table.insert(4, "base_name", table["base_row_id"].map(names, na_action="ignore").astype(object)
                 .where(table["base_row_id"].notna(), None))
    table["rt_shift"] = table["rt_oac"] - table["rt_base"]
    table["verdict"], table["note"] = zip(*(
        _verdict(shift, base_id, params) for shift, base_id in
        zip(table["rt_shift"], table["base_row_id"]))) if len(table) else ([], [])
    return table[OAC_COLUMNS]


def _verdict(shift: float, base_id, params: AnalysisParams) -> tuple[str, str]:
    if pd.isna(base_id):
        return ("not verifiable",
                "Rule 4: not verifiable, no peak of the same compound with one OAc fewer")
    if shift <= 0:
        return ("inconsistent", "Rule 4: inconsistent, O-acetylation did not increase RT "
                f"({signed3(shift)} min vs row {base_id})")
    if params.oac_shift_min <= shift <= params.oac_shift_max:
        return "consistent", f"Rule 4: consistent, RT {signed3(shift)} min vs row {base_id}"
    return ("inconsistent", f"Rule 4: inconsistent, RT shift {signed3(shift)} min outside "
            f"[{as_set(params.oac_shift_min)}, {as_set(params.oac_shift_max)}] min "
            f"(vs row {base_id})")
