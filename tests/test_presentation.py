"""Display logic of the dashboard: counts that reconcile, the lab's words, lines not row ids."""

import re

import pandas as pd
import pytest

from ganglioside import labels, presentation
from ganglioside.analysis import analyze
from ganglioside.reader import read_table
from ganglioside.rules.status import STATUSES
from tests.sample_runs import DATA


@pytest.fixture(scope="module")
def sample():
    data = (DATA / "testwork_user.csv").read_bytes()
    return analyze(read_table(data, "testwork_user.csv"))


def card_values(result) -> dict[str, int]:
    return {c.label: c.value for c in presentation.summary_cards(result)}


def test_cards_add_up_to_the_rows_and_match_the_final_statuses(sample):
    cards = {label: int(value.replace(",", "")) for label, value in card_values(sample).items()
             if label != "Success rate"}
    statuses = sample.rows["status"].value_counts()
    assert cards["To check"] == sum(statuses.get(s, 0) for s in presentation.TO_CHECK)
    assert cards["Valid"] == statuses.get("valid", 0)
    assert cards["Valid"] + cards["To check"] + cards["Unverified"] + cards["Invalid"] == \
        cards["Rows"] == len(sample.rows)


def test_rule_counts_say_where_rule_1_and_the_final_status_differ(sample):
    table = presentation.rule_counts(sample)
    rows = sample.rows
    off = table[table["What"] == "rows off every line of their head group"].iloc[0]
    assert off["Count"] == rows["rule1_status"].eq("outlier").sum()
    became = int((rows["rule1_status"].eq("outlier") & rows["status"].eq("fragment")).sum())
    stayed = int((rows["rule1_status"].eq("outlier") & rows["status"].eq("outlier")).sum())
    assert became > 0  # the sample has Rule 1 outliers explained as fragments
    assert f"{stayed} stay outlier" in off["Final status"]
    assert f"{became} became fragments" in off["Final status"]
    resting = table[table["What"].str.startswith("valid rows resting on")]
    assert resting["Count"].sum() == rows["status"].eq("valid").sum()


def test_row_references_become_the_files_lines():
    line_of_row = {3: 5, 12: 14, 13: 15}
    assert presentation.as_lines("in-source fragment of row 12 GD1", line_of_row) == \
        "in-source fragment of line 14 GD1"
    assert presentation.as_lines("look like fragments (rows 12, 13)", line_of_row) == \
        "look like fragments (lines 14, 15)"
    assert presentation.as_lines("rows 3 and 13", line_of_row) == "lines 5 and 15"
    assert presentation.as_lines("arrows 3", line_of_row) == "arrows 3"


def test_row_detail_reads_in_full_with_lines(sample):
    rows = sample.rows
    fragment = rows[rows["status"].eq("fragment")].iloc[0]
    detail = presentation.row_detail(fragment, presentation.line_map(rows))
    assert detail["title"].startswith(f"Line {fragment['line']} · ")
    assert " | ".join(detail["reasons"]).count("Rule") == fragment["reasons"].count("Rule")
    assert not any(re.search(r"\brow \d", reason) for reason in detail["reasons"])
    assert detail["rests_on"].startswith(fragment["rule1_basis"])


def test_every_code_name_shown_has_a_label_and_help(sample):
    for column in ("judged_by", "n_anchors", "r2_cv", "rmse_cv", "equation_raw", "scale_s",
                   "rule1_basis", "reasons", "line", "predicted_rt", "z"):
        label = labels.COLUMNS[column]
        assert label.text != column and "_" not in label.text and label.help
    assert set(sample.rows["rule1_basis"].dropna()) <= set(labels.BASES)
    assert set(STATUSES) == set(labels.STATUS_MEANINGS)
    for warning in sample.warnings:
        assert "_" not in labels.note_heading(warning.code), warning.code
    assert set(sample.groups["judged_by"]) <= set(labels.MODEL_LEVELS)


def test_formats_never_abbreviate():
    assert presentation.format_count(1_000_000) == "1,000,000"
    assert presentation.format_count(None) == "–"
    assert presentation.format_rate(0.8123) == "81.2%"
    assert presentation.format_size(11_700) == "11.7 kB"
    assert presentation.format_size(17_995_500) == "18.0 MB"
    assert presentation.format_size(900) == "900 B"
    assert presentation.format_count(pd.NA) == "–"


def test_documents_for_the_browser_name_no_repository_paths():
    text = presentation.for_browser("See [the spec](../x/ANALYSIS.md), `bench/law.py` and "
                                    "`python bench/law.py`; keep `a:b;Ox`.")
    assert text == ("See the spec, a script of the source code and a script of the source "
                    "code; keep `a:b;Ox`.")
    intro, parts = presentation.sections("# T\nintro\n### A · x\nbody a\n### B\nbody b\n")
    assert intro == "# T\nintro" and parts == [("A · x", "body a"), ("B", "body b")]


def test_the_bar_weighs_the_reported_steps_by_their_time():
    reported = []
    analyze(read_table(DATA / "testwork_small.csv"),
            progress=lambda fraction, step, message: reported.append((fraction, step)))
    shown = [presentation.felt_progress(fraction) for fraction, _ in reported]
    assert shown == sorted(shown) and shown[0] > 0 and shown[-1] == 1.0
    at = {step: presentation.felt_progress(fraction) for fraction, step in reported}
    assert at["rule5-model"] < 0.6 and at["save"] < 0.9   # the long steps get their share
    assert presentation.felt_progress(-1) == 0.0 and presentation.felt_progress(2) == 1.0
