"""The lab's words for every code name the results carry: columns, note codes, bases, statuses.

The tables of a result keep machine names (exports, the CLI and the store rely on them); the
dashboard shows these labels, each with a short help, instead. Pure data, no Streamlit.
"""

from __future__ import annotations

from typing import NamedTuple


class Label(NamedTuple):
    """What a code name is called on screen, and a one-sentence help."""

    text: str
    help: str


COLUMNS: dict[str, Label] = {
    # the peak itself
    "line": Label("Line", "Line of the uploaded file (the header is line 1)."),
    "Name": Label("Name", "The annotation as uploaded."),
    "RT": Label("RT (min)", "Observed retention time."),
    "Volume": Label("Volume", "Peak volume (area) as uploaded."),
    "Log P": Label("Log P", "Log P as uploaded."),
    "Anchor": Label("Anchor", "Marked as a trusted identification; anchors place the lines."),
    "input_problems": Label("Input problem", "Why the row could not be checked."),
    "prefix": Label("Head group", "Head group with its modifiers, e.g. GD1+dHex."),
    "category": Label("Category", "Ganglioside series, e.g. GM, GD, GT."),
    "tail": Label("Ceramide", "Ceramide part of the name, e.g. 36:1;O2."),
    "modifiers": Label("Modifiers", "Modifiers in the name, e.g. OAc, dHex."),
    # verdict
    "status": Label("Status", "Final verdict; see Method for what each one means."),
    "reasons": Label("Why", "What every rule said about this peak."),
    "confidence": Label("Confidence", "Probability that the verdict is right."),
    "rule1_basis": Label("Rests on", "What the Rule 1 verdict rests on (which line, or none)."),
    "predicted_rt": Label("Expected RT (min)", "RT of the line the peak was compared with."),
    "residual": Label("RT − expected (min)", "How far the peak is from its line."),
    "z": Label("Distance (z)", "RT − expected, in units of the line's scatter; an outlier "
                               "when its size reaches the threshold."),
    "rule1_status": Label("Rule 1 alone", "Rule 1's verdict before Rules 4 and 5 are applied."),
    "rule1_model": Label("Line used", "Which line judged the peak: its head group's own, or a "
                                      "line pooled over related head groups."),
    "rule1_model_n": Label("Anchors on the line", "Anchors the line was fitted on."),
    "rule1_model_r2_cv": Label("Line fit (R²)", "How well the line predicts anchors it did "
                                                "not see (1 = perfectly)."),
    "isomer_series": Label("Isomer line", "1 = the main line; 2, 3 = parallel lines of later "
                                          "eluting isomers."),
    "isomer_line_probability": Label("Isomer line support", "Probability that the parallel "
                                                            "line is real, not a chance meeting."),
    "rule4_verdict": Label("O-acetyl check", "Rule 4: is the O-acetylated peak later than the "
                                             "same species without OAc?"),
    "rule5_role": Label("Fragment role", "Rule 5: parent of in-source fragments, or a fragment."),
    "rule5_fragment_probability": Label("P(fragment)", "Probability that the peak is an "
                                                       "in-source fragment."),
    "rules_disagree": Label("Rules disagree", "Rule 1 and Rule 4 (or the elution order) point "
                                              "different ways."),
    # head groups (models)
    "n_rows": Label("Peaks", "Usable peaks of the head group."),
    "n_anchors": Label("Anchors", "Anchors of the head group."),
    "judged_by": Label("Judged by", "Which line judged the head group's peaks."),
    "accepted": Label("Own line accepted", "The head group's anchors gave a line good enough "
                                           "to judge with."),
    "reason": Label("Why not", "Why the head group has no accepted line of its own."),
    "r2_cv": Label("Line fit (R²)", "How well the line predicts anchors it did not see."),
    "rmse_cv": Label("Typical miss (min)", "Typical error predicting an unseen anchor's RT."),
    "equation_raw": Label("Line", "The fitted line, RT in minutes."),
    "predictors": Label("Uses", "What the line depends on."),
    "cv_method": Label("Tested by", "How the line was tested on anchors it did not see."),
    "scale_s": Label("Scatter (min)", "Typical distance of peaks from the line."),
    "anchor_spread_s": Label("Anchor scatter (min)", "Scatter of the anchors around the line."),
    "isomer_lines": Label("Lines", "Main line plus parallel isomer lines."),
    "anchored_isomers": Label("Anchored isomers", "Anchors on parallel isomer lines."),
    "n_valid": Label("Valid", "Peaks that fit a line (Rule 1 alone)."),
    "n_outlier": Label("Off every line", "Peaks off every line (Rule 1 alone)."),
    "n_unverified": Label("Unverified", "Peaks no line could judge."),
    "n_anchor_disagrees": Label("Anchors off", "Anchors off their own line."),
    "notes": Label("Notes", "Cautions about this head group's line."),
    # fragment events and O-acetylation pairs
    "event_id": Label("Event", "Number of the in-source fragmentation event."),
    "parent_name": Label("Parent", "The larger peak the fragments come from."),
    "parent_line": Label("Parent line", "Line of the parent in the file."),
    "fragment_lines": Label("Fragment lines", "Lines of its fragments in the file."),
    "oac_line": Label("O-acetylated line", "Line of the O-acetylated peak."),
    "base_line": Label("Without OAc line", "Line of the same species with one OAc fewer."),
    "verdict": Label("Verdict", "Rule 4's verdict on the pair."),
}

BASES: dict[str, str] = {  # rule1_basis -> what it means for the chemist
    "anchored line": "on the head group's line placed by its anchors",
    "anchored isomer line": "on a parallel isomer line that anchors place",
    "line of its own peaks": "on a line placed by the head group's other peaks (no anchors)",
    "inferred isomer line": "on a parallel line inferred from several peaks",
    "weak isomer line": "only a weakly supported parallel line fits",
    "composition only": "judged through related head groups only",
    "anchor only": "a trusted anchor with no line to test it",
    "none": "nothing could judge it",
}

STATUS_MEANINGS: dict[str, str] = {
    "valid": "The retention time agrees with a line of its head group.",
    "outlier": "The retention time is off every line of its head group: check the "
               "identification.",
    "fragment": "An in-source fragment of a larger peak with the same ceramide at the same RT.",
    "possible isomer": "Only a weakly supported parallel line fits: another isomer, or a "
                       "misidentification; check it.",
    "unverified": "Nothing but the peak itself could place a line for it.",
    "invalid": "The row has an input problem (see Why).",
}

NOTES: dict[str, str] = {  # warning code -> heading of the note
    "anchor_disagrees": "An anchor is off its own line",
    "anchor_fragment": "An anchor looks like a fragment",
    "anchors_scattered": "Anchors scatter widely",
    "blank_rows_ignored": "Blank rows skipped",
    "chemistry_check": "Chemistry check",
    "columns_renamed": "Columns recognised",
    "duplicate_names": "Names on several rows",
    "few_anchors": "Few anchors",
    "groups_without_model": "Head groups without a line of their own",
    "invalid_rows": "Rows with input problems",
    "model_rejected": "A line was rejected",
    "no_anchors": "No anchors",
    "no_rt_model": "No retention-time line",
    "own_model_unused": "Own line not used",
    "rule1_error_rate": "How often peaks are misidentified",
    "rule1_levels": "Which lines judged the peaks",
    "rule5_model": "How fragments look in this run",
    "sheet_chosen": "Worksheet chosen",
    "unknown_head_group": "Unknown head group",
    "unknown_modifier": "Unknown modifier",
}

MODEL_LEVELS: dict[str, str] = {  # rule1_model / judged_by values
    "prefix": "its own anchors' line",
    "pooled": "shared slope, anchors of related head groups",
    "self": "line of its own peaks",
    "composition": "related head groups only",
    "none": "no line",
}


def column_label(name: str) -> str:
    """The on-screen name of a column (the machine name when it has none)."""
    return COLUMNS[name].text if name in COLUMNS else name


def note_heading(code: str) -> str:
    """The heading of a note code, e.g. ``few_anchors`` -> ``Few anchors``."""
    return NOTES.get(code, code.replace("_", " ").capitalize())
