"""Method page: the rules explained, tables generated from the core."""

from apptest_support import no_exception, open_page, table_with

from ganglioside.composition import CATEGORIES
from ganglioside.params import PARAMETER_SPECS, AnalysisParams


def test_parameter_table_lists_every_parameter_with_its_default(app):
    open_page(app, "method")
    no_exception(app)
    table = table_with(app, "Parameter", "Default", "Allowed")
    names = table["Parameter"].tolist()
    assert names[:len(PARAMETER_SPECS)] == [spec.name for spec in PARAMETER_SPECS]
    defaults = dict(zip(table["Parameter"], table["Default"]))
    assert defaults["outlier_threshold"] == f"{AnalysisParams().outlier_threshold:g}"
    assert defaults["rt_tolerance"].startswith(f"{AnalysisParams().rt_tolerance:g}")
    assert defaults["apply_fragment_status"] == "on"


def test_every_rule_and_category_is_explained(app):
    open_page(app, "method")
    headers = " ".join(h.value for h in app.subheader)
    for rule in ("Rule 1", "Rules 2-3", "Rule 4", "Rule 5", "Final status", "Parameters"):
        assert rule in headers
    categories = table_with(app, "Category", "Colour")
    assert categories["Category"].tolist() == list(CATEGORIES)
    assert categories.set_index("Category").loc["GD", "Colour"] == CATEGORIES["GD"].colour
