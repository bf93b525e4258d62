"""Rules 2-3 (spec 7): repeated peaks of one name and isomer-capable series.

Sugar and sialic-acid counts and ``can_have_isomers`` come from preprocessing (spec 4); this rule
ranks the peaks that share a prefix and a tail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def run_rules_2_3(eligible: pd.DataFrame) -> pd.DataFrame:
    """``name_peak_count``, ``peak_index``, ``isomer_peaks`` and the Rules 2-3 note per row."""
    keys = [eligible["prefix"], eligible["tail"].fillna("\0null")]
    ordered = eligible.assign(_tail=keys[1]).sort_values(["RT", "row_id"])
    peak_index = ordered.groupby(["prefix", "_tail"], sort=False).cumcount() + 1
    out = pd.DataFrame(index=eligible.index)
    out["name_peak_count"] = eligible.groupby(keys, sort=False)["row_id"].transform("size")
    out["peak_index"] = peak_index.reindex(eligible.index)
    out["isomer_peaks"] = eligible["can_have_isomers"].astype(bool) & (out["name_peak_count"] >= 2)
    repeated = out["name_peak_count"] >= 2
    note = ("Rules 2-3: peak " + out["peak_index"].astype(str) + " of "
            + out["name_peak_count"].astype(str) + " with this name")
    series_text = (" (isomer-capable series " + eligible["base_prefix"].astype(str)
                   + ": several peaks are expected)")
    note = note.where(~out["isomer_peaks"], note + series_text)
    out["_rules23_note"] = note.where(repeated, None)
    out[["name_peak_count", "peak_index"]] = out[["name_peak_count", "peak_index"]].astype("Int64")
    return out


def isomer_summary(per_row: pd.DataFrame, eligible: pd.DataFrame) -> dict[str, int]:
    """Summary counts of 13.5 for Rules 2-3."""
    repeated = per_row["name_peak_count"] >= 2
    names = eligible.loc[repeated, ["prefix", "tail"]].fillna("\0null").drop_duplicates()
    return {"isomer_peak_rows": int(np.sum(per_row["isomer_peaks"])),
            "repeated_names": len(names)}
