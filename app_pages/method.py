"""Method, written for chemists: one screen with what each rule checks (a small figure each) and
what each status means; the statistics, parameters and names below in expandable sections.

The texts are docs/overview.md and docs/method.md (one source for the repository and the
dashboard); the tables are generated from the core, so the page never disagrees with the analysis.
"""

from pathlib import Path

import pandas as pd
import streamlit as st

import ui_helpers as ui
from ganglioside import labels, presentation
from ganglioside.composition import CATEGORIES, KNOWN_MODIFIERS
from ganglioside.params import ALGORITHM_VERSIONS, PARAMETER_SPECS, SAMPLE_TYPES, AnalysisParams

DEFAULTS = AnalysisParams()
DOCS = Path(__file__).resolve().parents[1] / "docs"
RULE_CARD_WIDTH = 330   # px: four cards side by side on a wide screen, one per row on a phone
FIGURES = {"Rule 1": "1", "Rules 2-3": "2-3", "Rule 4": "4", "Rule 5": "5"}


def rule_cards(overview: str) -> None:
    intro, rules = presentation.sections(overview)
    st.title(intro.splitlines()[0].lstrip("# "))
    st.markdown("\n".join(intro.splitlines()[1:]))
    with st.container(horizontal=True, key="method_rules"):
        for heading, body in rules:
            with st.container(border=True, width=RULE_CARD_WIDTH):
                st.markdown(f"**{heading}**")
                rule = heading.split(" · ")[0]
                st.vega_lite_chart(spec=ui.cached_figure(FIGURES[rule]), width="stretch")
                st.markdown(body)


def status_table() -> None:
    st.subheader("What each status means")
    st.table(pd.DataFrame({"Status": list(labels.STATUS_MEANINGS),
                           "Meaning": list(labels.STATUS_MEANINGS.values())})
             .set_index("Status"))
    st.caption("Outlier, fragment and possible isomer are the peaks to check (the *To check* "
               "card). Each verdict also says what it rests on:")
    st.table(pd.DataFrame({"Rests on": list(labels.BASES), "Meaning": list(labels.BASES.values())})
             .set_index("Rests on"))


def details(method: str) -> None:
    st.subheader("The details")
    intro, parts = presentation.sections(presentation.for_browser(method), "## ")
    for heading, body in parts:
        with st.expander(heading):
            st.markdown(body)
    with st.expander("Parameters"):
        parameter_table()
    with st.expander("Categories and modifiers"):
        st.table(pd.DataFrame([{"Category": c.code, "Description": c.description,
                                "Series": ", ".join(c.subcategories)}
                               for c in CATEGORIES.values()]).set_index("Category"))
        st.table(pd.DataFrame([{"Modifier": m.name, "Meaning": m.description,
                                "Sugars": m.sugar_units, "Sialic acids": m.sialic_units}
                               for m in KNOWN_MODIFIERS.values()]).set_index("Modifier"))
    with st.expander("Column names in the downloads"):
        st.caption("The CSV, Excel and JSON files keep the program's column names; this is "
                   "what each is called on screen.")
        st.table(pd.DataFrame([{"In the file": name, "On screen": label.text,
                                "Meaning": label.help}
                               for name, label in labels.COLUMNS.items()])
                 .set_index("In the file"))
    with st.expander("Reproducibility"):
        st.markdown(
            f"Algorithm version **{DEFAULTS.algorithm_version}**. Every result records the "
            "parameters, a fingerprint (SHA-256) of the uploaded file and the library versions "
            "(JSON and Excel downloads, sheet *Parameters & provenance*); the same file with the "
            "same parameters and algorithm version always gives the same verdicts.")


def _range_text(spec) -> str:
    if spec.kind is bool:
        return "on / off"
    kind = "integer " if spec.kind is int else ""
    unit = f" {spec.unit}" if spec.unit else ""
    return f"{kind}{spec.minimum:g} – {spec.maximum:g}{unit}"


def _default_text(spec) -> str:
    value = getattr(DEFAULTS, spec.name)
    if spec.kind is bool:
        return "on" if value else "off"
    return f"{value:g}" + (f" {spec.unit}" if spec.unit else "")


def parameter_table() -> None:
    st.caption("Set under *Advanced settings* on the Analyze page. Every run records the values "
               "it used.")
    st.table(pd.DataFrame(
        [{"Setting": ui.parameter_label(spec.name), "Default": _default_text(spec),
          "Allowed": _range_text(spec), "Meaning": spec.help, "Parameter": spec.name}
         for spec in PARAMETER_SPECS]
        + [{"Setting": "Algorithm version", "Default": DEFAULTS.algorithm_version,
            "Allowed": ", ".join(ALGORITHM_VERSIONS),
            "Meaning": "Which version of the checks to run; older versions reproduce earlier "
                       "results exactly.", "Parameter": "algorithm_version"},
           {"Setting": "Sample type", "Default": DEFAULTS.sample_type,
            "Allowed": ", ".join(SAMPLE_TYPES),
            "Meaning": "Recorded with the run; no effect on the analysis.",
            "Parameter": "sample_type"}]).set_index("Setting"))


rule_cards((DOCS / "overview.md").read_text(encoding="utf-8"))
status_table()
details((DOCS / "method.md").read_text(encoding="utf-8"))
