"""Method page: the rules explained, tables generated from the core."""

from apptest_support import REPO, no_exception, open_page, table_with

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


def test_the_method_document_is_shown_then_the_generated_tables(app):
    open_page(app, "method")
    shown = "\n".join(m.value for m in app.markdown)
    document = (REPO / "docs" / "method.md").read_text(encoding="utf-8")
    assert document in shown
    assert all(rule in document for rule in ("Rule 1", "Rules 2-3", "Rule 4", "Rule 5"))
    assert [h.value for h in app.header] == ["Final status", "Parameters",
                                             "Categories and modifiers", "Reproducibility"]
    categories = table_with(app, "Category", "Colour")
    assert categories["Category"].tolist() == list(CATEGORIES)
    assert categories.set_index("Category").loc["GD", "Colour"] == CATEGORIES["GD"].colour
