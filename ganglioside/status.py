"""Final status with its reasons (spec 10) and the run summary (spec 13.5)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .params import AnalysisParams

STATUSES = ("valid", "outlier", "fragment", "unverified", "invalid")
NOTE_COLUMNS = ("input_problems", "_rule1_note", "_rules23_note", "_rule4_note", "_rule5_note",
                "_status_note")
PRECISE_LEVELS = ("prefix", "pooled", "self")
"""Rule 1 levels whose line is known to within the RT scatter; a composition-predicted line
(about 1 min of error) is too vague to explain a co-elution away."""
COINCIDENCE_Z = 2.0
"""A co-eluting peak counts as explained by its own line only when it fits it this closely."""
COINCIDENCE_NOTE = ("Status: valid, not fragment: the peak also fits its own head group's line, "
                    "so its co-elution with the larger glycan is taken as a coincidence")


def fragment_applies(rows: pd.DataFrame, params: AnalysisParams) -> pd.Series:
    """Rows whose Rule 5 role makes their status ``fragment``.

    In 1.0 every fragment (spec 10). In 2.0 only one that its own head group's line (a precise
    one: not a composition prediction) does not explain: a true in-source fragment elutes at its parent's RT, which is rarely where its own
    name elutes, while a correct peak that merely co-elutes with a larger glycan sits on its own
    line. On the benchmark this keeps fragment recall and lifts fragment precision.
    """
    fragment = (rows["rule5_role"] == "fragment") & params.apply_fragment_status
    if params.algorithm_version == "1.0":
        return fragment
    precise_fit = ((rows["rule1_status"] == "valid") & rows["rule1_model"].isin(PRECISE_LEVELS)
                   & (rows["z"].abs() < COINCIDENCE_Z))
    return fragment & ~precise_fit


def final_status(rows: pd.DataFrame, params: AnalysisParams) -> pd.Series:
    """First match of: invalid, fragment (if applied), outlier, unverified, valid."""
    conditions = [rows["input_problems"].notna(),
                  fragment_applies(rows, params),
                  rows["rule1_status"] == "outlier",
                  rows["rule1_status"] == "unverified"]
    return pd.Series(np.select(conditions, ["invalid", "fragment", "outlier", "unverified"],
                               default="valid"), index=rows.index, dtype=object)


def status_notes(rows: pd.DataFrame, params: AnalysisParams) -> pd.Series:
    """The note of a 2.0 fragment that its own line explains (None elsewhere)."""
    coincidence = ((rows["rule5_role"] == "fragment") & params.apply_fragment_status
                   & ~fragment_applies(rows, params) & rows["input_problems"].isna())
    return pd.Series(np.where(coincidence, COINCIDENCE_NOTE, None), index=rows.index, dtype=object)


def reasons(rows: pd.DataFrame) -> list[str]:
    """Notes joined by `` | `` in rule order; invalid rows carry only their input note."""
    notes = [rows[column].where(rows[column].notna(), None).tolist() for column in NOTE_COLUMNS]
    return [" | ".join(filter(None, row)) for row in zip(*notes)]


def summarize(rows: pd.DataFrame, groups: pd.DataFrame, oac: pd.DataFrame, events: pd.DataFrame,
              isomer_counts: dict[str, int], params: AnalysisParams) -> dict:
    """The summary figures of 13.5."""
    status = rows["status"]
    counts = {name: int((status == name).sum()) for name in STATUSES}
    decided = len(rows) - counts["invalid"]
    eligible = rows["input_problems"].isna()
    without_model = (~groups["accepted"].astype(bool)) & (groups["n_anchors"] < params.min_anchors)
    verdicts = oac["verdict"] if len(oac) else pd.Series(dtype=object)
    return {
        "total_rows": len(rows),
        "anchors": int((rows["Anchor"].eq(True) & eligible).sum()),
        **counts,
        "success_rate": counts["valid"] / decided if decided else None,
        "groups": len(groups),
        "groups_accepted": int(groups["accepted"].astype(bool).sum()),
        "groups_rejected": int(((~groups["accepted"].astype(bool)) & ~without_model).sum()),
        "groups_without_model": int(without_model.sum()),
        "anchors_disagreeing": int(rows["anchor_disagrees"].sum()),
        "series_rows": int(rows["rule1_series_offset"].notna().sum()),
        **{f"rule1_{name}": int((rows["rule1_status"] == name).sum())
           for name in ("valid", "outlier", "unverified")},
        **isomer_counts,
        "oac_consistent": int((verdicts == "consistent").sum()),
        "oac_inconsistent": int((verdicts == "inconsistent").sum()),
        "oac_not_verifiable": int((verdicts == "not verifiable").sum()),
        "fragment_events": len(events),
        "fragment_rows": int((rows["rule5_role"] == "fragment").sum()),
    }
