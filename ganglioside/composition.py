"""Sugar and sialic-acid counts (spec 4) and the categorizer (spec 11).

Counts follow the Svennerholm convention: for ``G`` + sialic code + series digit the core has
``5 - digit`` neutral sugars and as many sialic acids as the code says; known modifiers add their
units; an unknown modifier or an other-core makes both counts unknown (None).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .names import SIALIC_CODES, UNKNOWN_CATEGORY, ParsedName

ISOMER_CAPABLE_SERIES = frozenset({"GD1", "GT1", "GQ1"})


@dataclass(frozen=True)
class ModifierInfo:
    """A known modifier of spec 4.2 with its description of spec 11."""

    name: str
    meaning: str
    sugar_units: int
    sialic_units: int
    description: str


KNOWN_MODIFIERS: dict[str, ModifierInfo] = {info.name: info for info in (
    ModifierInfo("Hex", "hexose", 1, 0, "hexose"),
    ModifierInfo("HexNAc", "N-acetylhexosamine", 1, 0, "N-acetylhexosamine"),
    ModifierInfo("dHex", "deoxyhexose (fucose)", 1, 0, "deoxyhexose (e.g. fucose)"),
    ModifierInfo("Fuc", "deoxyhexose (fucose)", 1, 0, "fucose"),
    ModifierInfo("NeuAc", "N-acetylneuraminic acid", 1, 1, "extra N-acetylneuraminic acid"),
    ModifierInfo("NeuGc", "N-glycolylneuraminic acid", 1, 1, "extra N-glycolylneuraminic acid"),
    ModifierInfo("OAc", "O-acetyl group", 0, 0, "O-acetylation (of a sialic acid)"),
    ModifierInfo("Ac", "acetyl group", 0, 0, "acetylation"),
    ModifierInfo("SO3", "sulfate", 0, 0, "sulfation"),
)}
UNKNOWN_MODIFIER_DESCRIPTION = "unknown modification"


@dataclass(frozen=True)
class Category:
    """One row of the categorizer table (spec 11)."""

    code: str
    name: str
    sialic_acids: int | None
    colour: str
    subcategories: tuple[str, ...]

    @property
    def description(self) -> str:
        """``Disialogangliosides (2 sialic acids)``; fixed text for ``Unknown``."""
        if self.sialic_acids is None:
            return "Head group not recognised as a ganglioside"
        plural = "" if self.sialic_acids == 1 else "s"
        return f"{self.name} ({self.sialic_acids} sialic acid{plural})"


CATEGORIES: dict[str, Category] = {category.code: category for category in (
    Category("GA", "Asialogangliosides", 0, "#888888", ("GA1", "GA2")),
    Category("GM", "Monosialogangliosides", 1, "#1f77b4", ("GM1", "GM2", "GM3", "GM4")),
    Category("GD", "Disialogangliosides", 2, "#ff7f0e", ("GD1", "GD2", "GD3")),
    Category("GT", "Trisialogangliosides", 3, "#2ca02c", ("GT1", "GT2", "GT3")),
    Category("GQ", "Tetrasialogangliosides", 4, "#d62728", ("GQ1", "GQ2")),
    Category("GP", "Pentasialogangliosides", 5, "#9467bd", ("GP1",)),
    Category(UNKNOWN_CATEGORY, "Unrecognised head group", None, "#888888", ()),
)}
CATEGORY_COLOURS: dict[str, str] = {code: category.colour for code, category in CATEGORIES.items()}


def category_description(code: str) -> str:
    """Spec 11 description of a category code; unknown codes read as ``Unknown``."""
    return CATEGORIES.get(code, CATEGORIES[UNKNOWN_CATEGORY]).description


def modifier_description(name: str) -> str:
    """Spec 11 description of a modifier name (``unknown modification`` if not known)."""
    info = KNOWN_MODIFIERS.get(name)
    return info.description if info else UNKNOWN_MODIFIER_DESCRIPTION


def core_sialic_acids(parsed: ParsedName) -> int | None:
    """Sialic acids of the core (A 0 ... P 5); None for an other-core."""
    return SIALIC_CODES.index(parsed.base_prefix[1]) if parsed.is_ganglio else None


def neutral_core_sugars(parsed: ParsedName) -> int | None:
    """Neutral sugars of the core, ``5 - series digit``; None for an other-core."""
    return 5 - int(parsed.base_prefix[2]) if parsed.is_ganglio else None


def unknown_modifier_names(parsed: ParsedName) -> list[str]:
    """Names of the modifiers of ``parsed`` that spec 4.2 does not know, in written order."""
    return [name for name, _ in parsed.modifiers if name not in KNOWN_MODIFIERS]


def sugar_and_sialic_counts(parsed: ParsedName) -> tuple[int | None, int | None]:
    """(sugar_count, sialic_acid_count) of spec 4; (None, None) when they cannot be known."""
    if not parsed.is_ganglio or unknown_modifier_names(parsed):
        return None, None
    sialic = core_sialic_acids(parsed)
    sugars = sialic + neutral_core_sugars(parsed)
    for name, count in parsed.modifiers:
        sugars += count * KNOWN_MODIFIERS[name].sugar_units
        sialic += count * KNOWN_MODIFIERS[name].sialic_units
    return sugars, sialic


def can_have_isomers(base_prefix: str | None) -> bool:
    """Spec 4.3: the series GD1, GT1 and GQ1 have positional isomers."""
    return base_prefix in ISOMER_CAPABLE_SERIES


def modifier_totals(parsed: ParsedName) -> dict[str, int]:
    """Summed count per modifier name (``+OAc+OAc`` and ``+2OAc`` both give ``{"OAc": 2}``)."""
    totals: dict[str, int] = {}
    for name, count in parsed.modifiers:
        totals[name] = totals.get(name, 0) + count
    return totals


def non_oac_key(parsed: ParsedName) -> str:
    """Canonical text of the non-OAc modifiers as a multiset, e.g. ``HexNAc+2dHex`` (Rule 4)."""
    totals = sorted((name, count) for name, count in modifier_totals(parsed).items()
                    if name != "OAc")
    return "+".join(name if count == 1 else f"{count}{name}" for name, count in totals)


# --- counts for charts (spec 11) -------------------------------------------------------------

def _categorized(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["category"].notna()]


def category_counts(rows: pd.DataFrame) -> pd.DataFrame:
    """Per category (table order): name, colour, description, rows and distinct names.

    ``rows`` needs the columns ``category`` and ``Name``; rows without category (invalid) are
    left out. Categories without rows are listed with zero counts.
    """
    categorized = _categorized(rows)
    grouped = categorized.groupby("category", sort=False)["Name"]
    row_counts, name_counts = grouped.size(), grouped.nunique()
    return pd.DataFrame({
        "category": list(CATEGORIES),
        "name": [category.name for category in CATEGORIES.values()],
        "colour": [category.colour for category in CATEGORIES.values()],
        "description": [category.description for category in CATEGORIES.values()],
        "rows": [int(row_counts.get(code, 0)) for code in CATEGORIES],
        "distinct_names": [int(name_counts.get(code, 0)) for code in CATEGORIES],
    })


def base_prefix_counts(rows: pd.DataFrame) -> pd.DataFrame:
    """Per base prefix (sorted by category order, then name): category, rows, distinct names."""
    categorized = _categorized(rows)
    table = (categorized.groupby(["category", "base_prefix"], sort=False)["Name"]
             .agg(rows="size", distinct_names="nunique").reset_index())
    order = {code: position for position, code in enumerate(CATEGORIES)}
    table["_order"] = table["category"].map(order)
    table = table.sort_values(["_order", "base_prefix"], kind="stable").drop(columns="_order")
    return table[["base_prefix", "category", "rows", "distinct_names"]].reset_index(drop=True)


def modifier_row_counts(rows: pd.DataFrame) -> pd.DataFrame:
    """Per modifier name: description and the number of rows carrying it (most rows first).

    Reads the text form of the ``modifiers`` column (``dHex+2OAc``).
    """
    texts = _categorized(rows)["modifiers"].dropna()
    per_text = texts.value_counts()
    totals: dict[str, int] = {}
    for text, row_count in per_text.items():
        for name in {item.lstrip("0123456789") for item in str(text).split("+") if item}:
            totals[name] = totals.get(name, 0) + int(row_count)
    ordered = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return pd.DataFrame({
        "modifier": [name for name, _ in ordered],
        "description": [modifier_description(name) for name, _ in ordered],
        "rows": pd.Series([count for _, count in ordered], dtype="int64"),
    })
