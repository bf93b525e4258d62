"""The pure helpers of ui_helpers.py (no script run needed)."""

import pandas as pd
import pytest

import ui_helpers as ui


@pytest.fixture
def rows() -> pd.DataFrame:
    return pd.DataFrame({
        "row_id": [0, 1, 2, 3],
        "Name": ["GD1a(36:1;O2)", "GM3(36:1;O2)", None, "GD1+OAc(36:1;O2)"],
        "status": ["valid", "outlier", "invalid", "fragment"],
        "category": ["GD", "GM", None, "GD"],
        "prefix": ["GD1a", "GM3", None, "GD1+OAc"],
        "rule1_status": ["valid", "outlier", None, "valid"],
        "anchor_disagrees": [False, True, False, False],
        "rule1_series_offset": [None, 1.2, None, None],
        "isomer_peaks": [True, False, False, False],
        "rule4_verdict": [None, None, None, "inconsistent"],
        "rule5_role": ["parent", "none", None, "fragment"],
        "rule5_heads_event_id": [1, None, None, None],
        "input_problems": [None, None, "line 4, Name: empty", None],
        "reasons": ["Rule 1: fits", "Rule 1: outlier, |z| = 3.1", "line 4, Name: empty",
                    "Rule 5: in-source fragment of row 0"],
    })


def test_filters_combine(rows):
    assert ui.filter_rows(rows)["row_id"].tolist() == [0, 1, 2, 3]
    assert ui.filter_rows(rows, statuses=["valid", "fragment"])["row_id"].tolist() == [0, 3]
    assert ui.filter_rows(rows, categories=["GD"], statuses=["fragment"])["row_id"].tolist() == [3]
    assert ui.filter_rows(rows, prefixes=["GM3"])["row_id"].tolist() == [1]
    assert ui.filter_rows(rows, row_ids=[1, 3])["row_id"].tolist() == [1, 3]


def test_text_search_is_literal_and_case_insensitive_over_name_and_reasons(rows):
    assert ui.filter_rows(rows, text="gd1a")["row_id"].tolist() == [0]
    assert ui.filter_rows(rows, text="|z|")["row_id"].tolist() == [1]   # not a regex
    assert ui.filter_rows(rows, text="in-source")["row_id"].tolist() == [3]
    assert ui.filter_rows(rows, text="   ")["row_id"].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("flag, expected", [
    ("Rule 1: outlier", [1]), ("Rule 1: anchor disagrees", [1]),
    ("Rule 1: recurring series", [1]), ("Rules 2-3: isomer peaks", [0]),
    ("Rule 4: inconsistent", [3]), ("Rule 5: fragment", [3]), ("Rule 5: heads an event", [0]),
    ("Input problem", [2]), ("Any", [0, 1, 2, 3])])
def test_rule_flags(rows, flag, expected):
    assert ui.filter_rows(rows, flag=flag)["row_id"].tolist() == expected


def test_plain_text_cannot_format_or_link():
    hostile = "**bold** _it_ [link](http://x) <b>x</b> $x^2$ :red[r] :smile: # h\n- item"
    escaped = ui.plain(hostile)
    for token in ("**", "_it_", "[link]", "](", "<b>", ":red[", ":smile:", "\n- item"):
        assert token not in escaped
    assert escaped.count("$") == escaped.count("\\$") == 2
    assert escaped.replace("\\", "").replace("  \n", "\n") == hostile


def test_chart_and_table_selections_are_read_defensively():
    assert ui.selected_point_ids({"selection": {"select": [{"row_id": 5}, {"row_id": 2},
                                                           {"row_id": 5}]}}) == [2, 5]
    assert ui.selected_point_ids({"selection": {"select": {"row_id": [3, 1]}}}) == [1, 3]
    assert ui.selected_point_ids({"selection": {}}) == []
    assert ui.selected_point_ids(None) == []
    assert ui.selected_table_rows({"selection": {"rows": [4, 0], "columns": []}}) == [4, 0]
    assert ui.selected_table_rows(None) == []


def test_formats():
    assert ui.format_rate(0.8123) == "81.2%"
    assert ui.format_rate(None) == "–"
    assert ui.format_duration(2.345) == "2.3 s"
    assert ui.format_duration(185) == "3 min 05 s"
    assert ui.format_duration(None) == "–"


def test_chart_images_are_real_png_and_svg():
    import altair as alt

    chart = alt.Chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_point().encode(x="x", y="y")
    assert ui.chart_image(chart, "png").startswith(b"\x89PNG")
    assert b"<svg" in ui.chart_image(chart, "svg")


def test_parameters_are_listed_by_rule_and_each_has_a_label():
    from ganglioside.params import PARAMETER_SPECS

    labels = [ui.PARAMETER_LABELS[spec.name] for spec in PARAMETER_SPECS]
    rules = [int(label.split("·")[0].removeprefix("Rule ")) for label in labels]
    assert rules == sorted(rules)


def test_plain_table_shows_markdown_in_cells_literally():
    table = ui.plain_table(pd.DataFrame({"**h**": ["[x](http://e.com)", 3]},
                                        index=["`i`", "n"]))
    assert "](" not in table.iloc[0, 0] and table.iloc[1, 0] == 3
    assert list(table.columns) == ["\\*\\*h\\*\\*"] and table.index[0] == "\\`i\\`"
