"""What the dashboard says about a result, as plain data (no Streamlit): summary cards whose
counts add up, rule-by-rule counts that say where they differ from the final statuses, texts with
row numbers as the file's lines, and the detail of one peak.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd

from .labels import BASES, STATUS_MEANINGS
from .result import AnalysisResult

TO_CHECK = ("outlier", "fragment", "possible isomer")
"""Final statuses a chemist should look at again."""
NULL = "–"
_ROW_REFERENCE = re.compile(r"\b(rows?) (\d+(?:(?:, | and )\d+)*)")


class Card(NamedTuple):
    label: str
    value: str
    help: str


# The analysis reports the fractions its specification fixes at the start of each step (spec
# 5.2, then 2.x's pooled lines at 0.90 and fragment model at 0.93); the bar shows them weighed by
# the share of a large run's time each step takes (2.1 on 50,000 demo rows), so it moves evenly
# instead of sitting at 93 % for most of the run.
_REPORTED = (0.0, 0.10, 0.25, 0.50, 0.70, 0.85, 0.90, 0.93, 0.95, 1.0)
_FELT = (0.0, 0.05, 0.08, 0.16, 0.18, 0.21, 0.30, 0.54, 0.84, 1.0)


def felt_progress(fraction: float) -> float:
    """The reported progress fraction as the bar shows it, weighed by step time."""
    return float(np.interp(min(max(fraction, 0.0), 1.0), _REPORTED, _FELT))


def format_count(count) -> str:
    """A count in full with thousands separators (``1,000,000``); an en dash when unknown."""
    return NULL if count is None or pd.isna(count) else f"{int(count):,}"


def format_rate(fraction) -> str:
    """A fraction as a percentage with one decimal, ``55.1%``."""
    return NULL if fraction is None or pd.isna(fraction) else f"{100 * fraction:.1f}%"


def format_size(n_bytes: int) -> str:
    """A file size in one format everywhere: ``980 B``, ``11.7 kB``, ``17.6 MB`` (1 kB = 1000 B)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            return f"{n_bytes / size:,.1f} {unit}"
    return f"{n_bytes} B"


def status_counts(rows: pd.DataFrame) -> dict[str, int]:
    """Rows per final status, counted from the rows themselves."""
    return {status: int(count) for status, count in rows["status"].value_counts().items()}


def to_check_count(counts: dict[str, int]) -> int:
    return sum(counts.get(status, 0) for status in TO_CHECK)


def summary_cards(result: AnalysisResult) -> list[Card]:
    """The headline cards; Valid + To check + Unverified + Invalid = Rows."""
    counts = status_counts(result.rows)
    breakdown = " + ".join(f"{counts.get(s, 0):,} {s}" for s in TO_CHECK)
    return [
        Card("Rows", format_count(len(result.rows)), "Data rows of the file."),
        Card("Anchors", format_count(result.summary.get("anchors")),
             "Usable rows marked as trusted identifications; they place the lines."),
        Card("Valid", format_count(counts.get("valid", 0)), STATUS_MEANINGS["valid"]),
        Card("To check", format_count(to_check_count(counts)),
             f"Outliers, fragments and possible isomers: {breakdown}."),
        Card("Unverified", format_count(counts.get("unverified", 0)),
             STATUS_MEANINGS["unverified"]),
        Card("Invalid", format_count(counts.get("invalid", 0)), STATUS_MEANINGS["invalid"]),
        Card("Success rate", format_rate(result.summary.get("success_rate")),
             "Valid / (rows − invalid)."),
    ]


def to_check_text(result: AnalysisResult) -> str:
    """One line saying what "To check" is made of and how the cards add up."""
    counts = status_counts(result.rows)
    parts = ", ".join(f"{counts.get(s, 0):,} {s}{'s' if counts.get(s, 0) != 1 else ''}"
                      for s in TO_CHECK)
    return (f"To check = {parts}. Valid + to check + unverified + invalid = "
            f"{len(result.rows):,} rows.")


def _reconcile(rows: pd.DataFrame, mask: pd.Series, kept: str) -> str:
    """How the final statuses of the rows in ``mask`` differ from ``kept``, in words."""
    finals = rows.loc[mask, "status"].value_counts()
    others = [f"{count:,} became {status}{'s' if count != 1 else ''}"
              for status, count in finals.items() if status != kept and count]
    stayed = int(finals.get(kept, 0))
    if not others:
        return f"all {kept}"
    return f"{stayed:,} stay {kept}; " + "; ".join(others) + _why(finals.index, kept)


def _why(statuses, kept: str) -> str:
    reasons = {"fragment": "Rule 5 explains them as in-source fragments",
               "possible isomer": "only a weakly supported isomer line fits them",
               "valid": "Rule 4 or the elution order speaks for them",
               "outlier": "Rule 4 or the elution order speaks against them"}
    why = [reasons[s] for s in statuses if s != kept and s in reasons]
    return f" ({'; '.join(why)})" if why else ""


def rule_counts(result: AnalysisResult) -> pd.DataFrame:
    """Rule-by-rule counts with, where a rule's count differs from the final statuses, why."""
    rows, summary = result.rows, result.summary
    lines = []
    if "rule1_status" in rows:
        for status, what in (("valid", "rows fitting a line of their head group"),
                             ("outlier", "rows off every line of their head group"),
                             ("unverified", "rows no line could judge")):
            mask = rows["rule1_status"].eq(status)
            if mask.any():
                lines.append(("Rule 1", int(mask.sum()), what, _reconcile(rows, mask, status)))
    if "rule1_basis" in rows:
        valid = rows["status"].eq("valid")
        for basis, count in rows.loc[valid, "rule1_basis"].value_counts().items():
            lines.append(("Rule 1", int(count), f"valid rows resting on: {basis}",
                          BASES.get(basis, "")))
    for rule, key, what in (
            ("Rule 1", "anchors_disagreeing", "anchors off their own line"),
            ("Rules 2-3", "isomer_peak_rows", "rows of isomer-capable names with several peaks"),
            ("Rules 2-3", "repeated_names", "names on two or more rows"),
            ("Rule 4", "oac_consistent", "O-acetylated peaks later than without OAc"),
            ("Rule 4", "oac_inconsistent", "O-acetylated peaks not later than without OAc"),
            ("Rule 4", "oac_not_verifiable", "O-acetylated peaks with no partner to compare"),
            ("Rule 4", "rules_disagree", "rows where Rule 1 and Rule 4 point different ways"),
            ("Rule 5", "fragment_events", "in-source fragmentation events"),
            ("Rule 5", "fragment_rows", "rows explained as in-source fragments")):
        if key in summary:
            lines.append((rule, int(summary[key]), what, _fragment_note(result, key)))
    return pd.DataFrame(lines, columns=["Rule", "Count", "What", "Final status"])


def _fragment_note(result: AnalysisResult, key: str) -> str:
    if key != "fragment_rows":
        return ""
    fragments = int(result.rows["status"].eq("fragment").sum())
    explained = int(result.summary.get("fragment_rows", 0))
    if fragments == explained:
        return f"all {fragments:,} have the status fragment"
    return (f"{fragments:,} have the status fragment; the others are anchors, kept as trusted "
            "identifications" if fragments < explained else "")


def as_lines(text: str, line_of_row: dict[int, int]) -> str:
    """A note with its 0-based row ids written as the file's lines (``row 12`` -> ``line 14``)."""
    def replace(match: re.Match) -> str:
        ids = [int(i) for i in re.findall(r"\d+", match.group(2))]
        lines = [str(line_of_row.get(i, i)) for i in ids]
        word = "lines" if match.group(1) == "rows" else "line"
        joined = ", ".join(lines[:-1]) + " and " + lines[-1] if " and " in match.group(2) \
            else ", ".join(lines)
        return f"{word} {joined}"
    return _ROW_REFERENCE.sub(replace, text)


def line_map(rows: pd.DataFrame) -> dict[int, int]:
    return dict(zip(rows["row_id"].astype(int), rows["line"].astype(int)))


def reason_lines(reasons: str, line_of_row: dict[int, int]) -> list[str]:
    """The notes of every rule for one peak, one per list item."""
    return [as_lines(part.strip(), line_of_row) for part in str(reasons).split(" | ")
            if part.strip()]


def row_detail(row: pd.Series, line_of_row: dict[int, int]) -> dict:
    """Everything the detail pane shows for one peak."""
    basis = row.get("rule1_basis")
    confidence = row.get("confidence")
    return {
        "title": f"Line {int(row['line'])} · {row['Name']}",
        "status": str(row["status"]),
        "meaning": STATUS_MEANINGS.get(str(row["status"]), ""),
        "confidence": format_rate(confidence) if confidence is not None else NULL,
        "rests_on": f"{basis}: {BASES[basis]}" if isinstance(basis, str) and basis in BASES
        else NULL,
        "reasons": reason_lines(row["reasons"], line_of_row),
    }


def sections(markdown: str, marker: str = "### ") -> tuple[str, list[tuple[str, str]]]:
    """A document's text before its first ``marker`` heading, then (heading, body) pairs."""
    intro, *parts = re.split(rf"^{re.escape(marker)}", markdown, flags=re.MULTILINE)
    pairs = [(part.split("\n", 1) + [""])[:2] for part in parts]
    return intro.strip(), [(heading.strip(), body.strip()) for heading, body in pairs]


_PATH_WORDS = {".py": "a script of the source code", ".md": "the specification",
               ".csv": "the lab's sample file"}
_CODE_PATH = re.compile(r"`(?:python )?[\w./-]+?(\.py|\.md|\.csv)(?: [^`]*)?`")  # + options


def for_browser(markdown: str) -> str:
    """A repository document as a browser user can read it: links reduced to their text, file
    paths (which a browser cannot open) named in words."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", markdown)
    return _CODE_PATH.sub(lambda match: _PATH_WORDS[match.group(1)], text)
