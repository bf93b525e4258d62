"""Rules 2-3 (spec 7): repeated peaks of one name and isomer-capable series.

Sugar and sialic-acid counts and ``can_have_isomers`` come from preprocessing (spec 4); this rule
ranks the peaks that share a prefix and a tail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def name_codes(eligible: pd.DataFrame) -> np.ndarray:
    """One integer per name (prefix and tail; a missing tail is a tail of its own)."""
    prefix = pd.factorize(eligible["prefix"])[0]
    tail, tails = pd.factorize(eligible["tail"], use_na_sentinel=False)
    return prefix * max(len(tails), 1) + tail


def run_rules_2_3(eligible: pd.DataFrame) -> pd.DataFrame:
    """``name_peak_count``, ``peak_index``, ``isomer_peaks`` and the Rules 2-3 note per row."""
    name = name_codes(eligible)
    count = np.bincount(name)[name] if len(name) else np.zeros(0, dtype=np.int64)
    order = np.lexsort((eligible["row_id"].to_numpy(), eligible["RT"].to_numpy(float), name))
    first = np.searchsorted(name[order], name[order])  # where each row's name starts
    peak_index = np.empty(len(name), dtype=np.int64)
    peak_index[order] = np.arange(len(name)) - first + 1
    isomer_peaks = eligible["can_have_isomers"].to_numpy(bool) & (count >= 2)
    note = np.full(len(name), None, dtype=object)
    repeated = np.flatnonzero(count >= 2)
    note[repeated] = [
        f"Rules 2-3: peak {peak} of {n} with this name" + (
            f" (isomer-capable series {base}: several peaks are expected)" if series else "")
        for peak, n, series, base in zip(
            peak_index[repeated].tolist(), count[repeated].tolist(),
            isomer_peaks[repeated].tolist(), eligible["base_prefix"].to_numpy(object)[repeated])]
    index = eligible.index
    return pd.DataFrame({"name_peak_count": pd.array(count, dtype="Int64"),
                         "peak_index": pd.array(peak_index, dtype="Int64"),
                         "isomer_peaks": isomer_peaks,
                         "_rules23_note": pd.Series(note, index=index, dtype=object)}, index=index)


def isomer_summary(per_row: pd.DataFrame, eligible: pd.DataFrame) -> dict[str, int]:
    """Summary counts of 13.5 for Rules 2-3."""
    repeated = (per_row["name_peak_count"] >= 2).to_numpy(bool)
    return {"isomer_peak_rows": int(np.sum(per_row["isomer_peaks"])),
            "repeated_names": int((repeated & (per_row["peak_index"] == 1).to_numpy(bool)).sum())}
