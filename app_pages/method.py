"""Method: what each rule checks and what every parameter means, written for a chemist.

The parameter and category tables are generated from the core (PARAMETER_SPECS, CATEGORIES), so
this page can never disagree with what the analysis does.
"""

import pandas as pd
import streamlit as st

import ui_helpers as ui
from ganglioside.composition import CATEGORIES, KNOWN_MODIFIERS
from ganglioside.params import ALGORITHM_VERSIONS, PARAMETER_SPECS, SAMPLE_TYPES, AnalysisParams

DEFAULTS = AnalysisParams()

st.title("How the checks work")
st.caption("Written for the chemist who has to explain a verdict to a reviewer.")
st.markdown(
    "The checker takes a table of annotated LC-MS/MS peaks of gangliosides (one row per "
    "chromatographic peak: **Name**, **RT**, **Volume**, **Log P**, **Anchor**) and asks, for "
    "every annotation, whether the retention time and the chemistry support it. Each peak ends "
    "with one **status** and the evidence of every rule, so a verdict can always be traced and "
    "explained to a reviewer. Anchors are the identifications you trust (for example confirmed "
    "by MS/MS spectra or standards): only they train the retention-time models.")

st.subheader("Rule 1 · retention time follows the head group's line", divider="gray")
st.markdown(
    "On reversed phase, peaks of one head group (the **prefix**, e.g. `GD1`, `GD1a` or "
    "`GD1+dHex`, each its own group) elute in order of their hydrophobicity. For each prefix with "
    f"at least **min_anchors** anchors (default {DEFAULTS.min_anchors}) a Bayesian ridge "
    "regression of RT on Log P is fitted on the anchors; with many anchors the ceramide carbon and "
    "double-bond counts may join as predictors when they add independent information.\n\n"
    "* The model is **cross-validated** (leave-one-out below 5 anchors, 3-fold below 10, else "
    f"5-fold) and **accepted** only if its CV R² reaches **r2_threshold** "
    f"(default {DEFAULTS.r2_threshold:g}).\n"
    "* Every peak of an accepted group gets a predicted RT and a **z score**: its distance from "
    "the line divided by the typical cross-validated error of the model (never less than "
    f"**rt_sd_floor**, default {DEFAULTS.rt_sd_floor:g} min).\n"
    f"* |z| ≥ **outlier_threshold** (default {DEFAULTS.outlier_threshold:g}) makes the peak an "
    "**outlier**: its RT does not fit its annotation. An anchor can be an outlier too; it is then "
    "flagged *anchor disagrees with model*.\n"
    "* A prefix without enough anchors, or whose model is rejected, gives no evidence: its peaks "
    "are **unverified**, not outliers.\n"
    "* Outliers of one prefix that sit at about the same distance from the line across at least 3 "
    "different ceramides are marked as a **recurring series**: often another isomer or a "
    "co-annotated species. This is information only.\n\n"
    "The Regression tab of the results shows every model with its equation in the units of your "
    "table (e.g. `RT = 7.2894 + 1.3519*Log P`), so it can be checked by hand.")

st.subheader("Rule 1 in algorithm 2.0 (the default): a verdict for every head group",
             divider="gray")
st.markdown(
    "On real data most head groups have only 0-2 anchors, so algorithm 1.0 leaves their peaks "
    "unverified. Algorithm 2.0 keeps every 1.0 model that is accepted and judges the other head "
    "groups with the best evidence available, in this order:\n\n"
    "1. **prefix**: the head group's own accepted model (as in 1.0);\n"
    "2. **pooled**: a Log P slope shared by all head groups, with this head group's offset taken "
    "from its 1 or 2 anchors;\n"
    "3. **self**: the shared slope, with the offset most of this head group's lipid tails agree "
    "on (a misidentification is a lone peak; correct identifications line up across tails);\n"
    "4. **composition**: for a single peak without anchors, the offset predicted from the head "
    "group's composition (sialic acids, sugars, modifiers).\n\n"
    "Each level reports its own cross-validated n, R² and RMSE (Results → Regression → Judging "
    "levels). For isomer-capable series (GD1, GT1, GQ1, GM1), peaks on a parallel line at a "
    "constant offset across at least 3 tails are recognised as another isomer, not as outliers. "
    "Every peak also gets a **confidence**: the probability that its verdict is right.\n\n"
    "Choose algorithm 1.0 under *Advanced settings* to reproduce earlier results exactly.")

st.subheader("Rules 2-3 · sugars, sialic acids and isomers", divider="gray")
st.markdown(
    "The name is parsed into core, modifiers and ceramide (`GD1+OAc(36:1;O2)`: core `GD1`, one "
    "O-acetyl group, 36 carbons, 1 double bond, 2 oxygens). Sugar and sialic-acid counts follow "
    "the Svennerholm convention. Series that have positional isomers (GD1, GT1, GQ1: a, b, c, α) "
    "may legitimately show several peaks for one name; such rows are marked *isomer peaks* and "
    "numbered by RT (peak 1 of 3, ...). Nothing is re-assigned automatically.")

st.subheader("Rule 4 · O-acetylation makes a ganglioside elute later", divider="gray")
st.markdown(
    "An O-acetyl group makes the molecule less polar, so `GD1+OAc(36:1;O2)` should elute later "
    "than `GD1(36:1;O2)`. Each O-acetylated peak is compared with the closest peak of the same "
    "compound with one O-acetyl fewer. The shift is **consistent** when it lies between "
    f"**oac_shift_min** and **oac_shift_max** (defaults {DEFAULTS.oac_shift_min:g} and "
    f"{DEFAULTS.oac_shift_max:g} min), **inconsistent** otherwise, and **not verifiable** without "
    "a base peak. Rule 4 is a flag only: a missing base peak is weak evidence against the "
    "acetylated one.")

st.subheader("Rule 5 · in-source fragments", divider="gray")
st.markdown(
    "In the ion source a ganglioside can lose sugars or sialic acids and appear as a smaller "
    "ganglioside at the **same retention time**. A peak is taken as an **in-source fragment** of a "
    "larger peak when they share the ceramide, its glycan is contained in the larger one's (fewer "
    "sugars, no more sialic acids or modifiers), its volume is smaller, and the two elute within "
    f"**rt_tolerance** (default {DEFAULTS.rt_tolerance:g} min). When several parents qualify, the "
    "most intense is chosen. Each peak is judged directly against each possible parent; chains "
    "(GQ1 → GT1 → GD1) are kept as separate events.")

st.subheader("Final status", divider="gray")
st.markdown(
    "One status per peak, decided in this order (the first that applies wins):\n\n"
    "| Status | When | Meaning for you |\n|---|---|---|\n"
    "| `invalid` | a cell of the row cannot be used (see *reasons*) | fix the input row |\n"
    "| `fragment` | Rule 5 found a parent (and *apply_fragment_status* is on) | not an independent "
    "identification |\n"
    "| `outlier` | Rule 1: \\|z\\| ≥ outlier threshold | the RT contradicts the annotation |\n"
    "| `unverified` | Rule 1 has no accepted model for the prefix | no RT evidence either way |\n"
    "| `valid` | otherwise | the RT supports the annotation |\n\n"
    "The *reasons* column gives the note of every rule for every peak, and each rule also has its "
    "own columns, so nothing that influenced the verdict is hidden. The success rate is valid / "
    "(rows − invalid).")

st.subheader("Parameters", divider="gray")
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

st.subheader("Categories and modifiers", divider="gray")
left, right = st.columns(2)
left.dataframe(
    pd.DataFrame([{"Category": c.code, "Description": c.description, "Colour": c.colour,
                   "Series": ", ".join(c.subcategories)} for c in CATEGORIES.values()]),
    hide_index=True, width="stretch", key="method_categories")
right.dataframe(
    pd.DataFrame([{"Modifier": m.name, "Meaning": m.description, "Sugars": m.sugar_units,
                   "Sialic acids": m.sialic_units} for m in KNOWN_MODIFIERS.values()]),
    hide_index=True, width="stretch", key="method_modifiers")

st.subheader("Reproducibility", divider="gray")
st.markdown(
    f"Algorithm version **{DEFAULTS.algorithm_version}**. Every result records the parameters, "
    "the SHA-256 of the uploaded file and the library versions (JSON and Excel downloads, "
    "sheet *Parameters & provenance*); the same file with the same parameters and algorithm "
    "version always gives the same verdicts.")
