"""Method page: one screen for chemists (rules with figures, statuses), details in expanders."""

import re

from apptest_support import REPO, no_exception, open_page

from ganglioside import labels
from ganglioside.params import PARAMETER_SPECS, AnalysisParams


def table(app, column: str):
    return next(t.value for t in app.table if column in t.value.columns)


def test_each_rule_has_a_card_with_a_figure_and_each_status_its_meaning(app):
    open_page(app, "method")
    no_exception(app)
    shown = "\n".join(m.value for m in app.markdown)
    for rule in ("Rule 1", "Rules 2-3", "Rule 4", "Rule 5"):
        assert f"**{rule} · " in shown
    assert len(app.get("vega_lite_chart")) == 4
    meanings = table(app, "Meaning")
    assert meanings.index.tolist() == list(labels.STATUS_MEANINGS)


def test_the_statistics_are_in_expanders_without_repository_paths_or_hex_colours(app):
    open_page(app, "method")
    document = (REPO / "docs" / "method.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", document, flags=re.MULTILINE)
    expanders = [e.label for e in app.expander]
    assert expanders[:len(headings)] == headings
    assert {"Parameters", "Column names in the downloads"} <= set(expanders)
    shown = "\n".join(str(m.value) for m in app.markdown) + "\n".join(
        t.value.to_string() for t in app.table)
    assert not re.search(r"#[0-9a-fA-F]{6}\b", shown)
    assert not re.search(r"\]\((?!http)[^)]*\)", shown), "links to repository files"
    assert "docs/" not in shown and ".py" not in shown


def test_parameter_table_lists_every_parameter_with_its_default(app):
    open_page(app, "method")
    parameters = table(app, "Parameter")
    assert parameters["Parameter"].tolist()[:len(PARAMETER_SPECS)] == \
        [spec.name for spec in PARAMETER_SPECS]
    defaults = dict(zip(parameters["Parameter"], parameters["Default"]))
    assert defaults["outlier_threshold"] == f"{AnalysisParams().outlier_threshold:g}"
    assert defaults["apply_fragment_status"] == "on"
