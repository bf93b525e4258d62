"""Final status with its reasons (spec 10) and the run summary (spec 13.5)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..params import AnalysisParams
from .rule1_pooled import p_correct
from .rule1_robust import BASES

STATUSES = ("valid", "outlier", "fragment", "possible isomer", "unverified", "invalid")
"""The final statuses; ``possible isomer`` (algorithm 2.1) is a peak valid only through an
isomer line that its head group's other peaks show too weakly to rule out chance."""
FLAGGED = ("outlier", "fragment", "possible isomer")
"""The statuses of the peaks to check: the identification is doubtful."""
NOTE_COLUMNS = ("input_problems", "_rule1_note", "_rules23_note", "_rule4_note", "_rule5_note",
                "_verdict_note")


def final_status(rows: pd.DataFrame, params: AnalysisParams) -> pd.Series:
    """First match of: invalid, fragment (if applied), outlier, unverified, valid."""
    conditions = [rows["input_problems"].notna(),
                  (rows["rule5_role"] == "fragment") & params.apply_fragment_status,
                  rows["rule1_status"] == "outlier",
                  rows["rule1_status"] == "unverified"]
    return pd.Series(np.select(conditions, ["invalid", "fragment", "outlier", "unverified"],
                               default="valid"), index=rows.index, dtype=object)


def confidence(rows: pd.DataFrame) -> pd.Series:
    """Algorithm 2.0: the probability that a row's final status is right.

    A row is a correct, independent identification when it is not an in-source fragment
    (Rule 5's P(fragment); an anchor is trusted, so 0) and its RT fits its line (Rule 1's
    P(correct | residual)): P(good) = (1 − P(fragment)) · P(correct). A ``valid`` row gets
    P(good), an ``outlier`` or ``fragment`` 1 − P(good). Without a line a fragment's confidence
    is its P(fragment), and other rows without a line (unverified, invalid, anchors of a prefix
    no level could judge) get none.
    """
    status = rows["status"].to_numpy(object)
    on_line = p_correct(rows["z"].to_numpy(float), rows["rule1_scale"].to_numpy(float))
    on_line = np.where(np.isnan(on_line) & (status == "fragment"), 1.0, on_line)
    fragment = np.where(rows["Anchor"].eq(True), 0.0,
                        rows["rule5_fragment_probability"].fillna(0).to_numpy(float))
    good = (1 - fragment) * on_line
    value = np.where(status == "valid", good, 1 - good)
    value[np.isin(status, ("invalid", "unverified"))] = np.nan
    return pd.Series(value, index=rows.index, dtype=float)


def reasons(rows: pd.DataFrame) -> list[str]:
    """Notes joined by `` | `` in rule order; invalid rows carry only their input note."""
    notes = [rows[column].where(rows[column].notna(), None).tolist() for column in NOTE_COLUMNS
             if column in rows]
    return [" | ".join(filter(None, row)) for row in zip(*notes)]


def summarize(rows: pd.DataFrame, groups: pd.DataFrame, oac: pd.DataFrame, events: pd.DataFrame,
              isomer_counts: dict[str, int], params: AnalysisParams) -> dict:
    """The summary figures of 13.5."""
    status = rows["status"]
    counts = {summary_key(name): int((status == name).sum()) for name in STATUSES}
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
        "to_check": int(status.isin(FLAGGED).sum()),
        **basis_counts(rows),
    }


def summary_key(text: str) -> str:
    """A status or basis as a summary key: ``possible isomer`` → ``possible_isomer``."""
    return text.replace(" ", "_")


def basis_counts(rows: pd.DataFrame) -> dict[str, int]:
    """Algorithm 2.1: the valid rows by what their verdict rests on (``valid_<basis>``), and the
    rows whose Rule 1 and Rule 4 verdicts disagree."""
    if "rule1_basis" not in rows:
        return {}
    valid = rows["status"] == "valid"
    counts = {f"valid_on_{summary_key(basis)}": int((valid & (rows["rule1_basis"] == basis)).sum())
              for basis in BASES if basis not in ("weak isomer line", "none")}
    return {**counts, "rules_disagree": int(rows["rules_disagree"].sum())}
