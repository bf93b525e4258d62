"""Method: what each rule checks and what every parameter means, written for a chemist.

The text is docs/method.md (one source for the repository and the dashboard); the parameter and
category tables are generated from the core (PARAMETER_SPECS, CATEGORIES), so this page can never
disagree with what the analysis does.
"""

from pathlib import Path

import pandas as pd
import streamlit as st

import ui_helpers as ui
from ganglioside.composition import CATEGORIES, KNOWN_MODIFIERS
from ganglioside.params import ALGORITHM_VERSIONS, PARAMETER_SPECS, SAMPLE_TYPES, AnalysisParams

DEFAULTS = AnalysisParams()
METHOD_DOC = Path(__file__).resolve().parents[1] / "docs" / "method.md"

st.markdown(METHOD_DOC.read_text(encoding="utf-8"))

st.header("Final status")
st.markdown(
    "One status per peak, decided in this order (the first that applies wins):\n\n"
    "| Status | When | Meaning for you |\n|---|---|---|\n"
    "| `invalid` | a cell of the row cannot be used (see *reasons*) | fix the input row |\n"
    "| `fragment` | Rule 5 found a parent (and *apply_fragment_status* is on) | not an "
    "independent identification |\n"
    "| `outlier` | Rule 1: \\|z\\| ≥ the outlier threshold | the RT contradicts the "
    "annotation |\n"
    "| `unverified` | Rule 1 has no line for the head group | no RT evidence either way |\n"
    "| `valid` | otherwise | the RT supports the annotation |\n\n"
    "The *reasons* column gives the note of every rule for every peak, and each rule also has its "
    "own columns, so nothing that influenced the verdict is hidden. The success rate is valid / "
    "(rows − invalid).")

st.header("Parameters")
st.markdown("Set under *Advanced settings* on the Analyze page, or as flags of "
            "`python -m ganglioside analyze`. Every run records the values it used.")


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


parameter_table = pd.DataFrame(
    [{"Parameter": spec.name, "On the Analyze page": ui.parameter_label(spec.name),
      "Default": _default_text(spec), "Allowed": _range_text(spec), "Meaning": spec.help}
     for spec in PARAMETER_SPECS]
    + [{"Parameter": "algorithm_version", "On the Analyze page": "Algorithm version",
        "Default": DEFAULTS.algorithm_version, "Allowed": ", ".join(ALGORITHM_VERSIONS),
        "Meaning": "Which version of the checks to run; older versions reproduce earlier "
                   "results exactly."},
       {"Parameter": "sample_type", "On the Analyze page": "Sample type",
        "Default": DEFAULTS.sample_type, "Allowed": ", ".join(SAMPLE_TYPES),
        "Meaning": "Recorded with the run; no effect on the analysis."}])
st.dataframe(parameter_table, hide_index=True, width="stretch", key="method_parameters")
st.caption("oac_shift_max must be greater than oac_shift_min.")

st.header("Categories and modifiers")
left, right = st.columns(2)
left.dataframe(
    pd.DataFrame([{"Category": c.code, "Description": c.description, "Colour": c.colour,
                   "Series": ", ".join(c.subcategories)} for c in CATEGORIES.values()]),
    hide_index=True, width="stretch", key="method_categories")
right.dataframe(
    pd.DataFrame([{"Modifier": m.name, "Meaning": m.description, "Sugars": m.sugar_units,
                   "Sialic acids": m.sialic_units} for m in KNOWN_MODIFIERS.values()]),
    hide_index=True, width="stretch", key="method_modifiers")

st.header("Reproducibility")
st.markdown(
    f"Algorithm version **{DEFAULTS.algorithm_version}**. Every result records the parameters, "
    "the SHA-256 of the uploaded file and the library versions (JSON and Excel downloads, "
    "sheet *Parameters & provenance*); the same file with the same parameters and algorithm "
    "version always gives the same verdicts.")
