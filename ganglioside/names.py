"""Compound-name grammar (spec 3): head group, modifiers and lipid tail of a name.

``parse_name("GD1a+2OAc(d18:1/18:0)")`` gives core ``GD1a``, isomer ``a``, modifiers
``(("OAc", 2),)`` and the normalized tail ``36:1;O2``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import NameParseError
from .limits import MAX_CARBONS, MAX_DOUBLE_BONDS, MAX_MODIFIER_COUNT, MAX_OXYGENS

SIALIC_CODES = "AMDTQP"  # index = number of sialic acids of the core
UNKNOWN_CATEGORY = "Unknown"
HINT_OXYGENS = {"m": 1, "d": 2, "t": 3}

_ALPHA_WORD = re.compile(r"-alpha", re.IGNORECASE)
_GANGLIO_CORE = re.compile(r"G(?P<code>[AMDTQP])(?P<series>[1-4])(?P<isomer>[abc]α?|α)?")
_MODIFIER = re.compile(r"(?P<count>[0-9]*)(?P<name>.*)", re.DOTALL)
_MODIFIER_NAME = re.compile(r"[^\W\d_][^\W_]*")
_LIPID_PART = re.compile(r"(?P<hint>[mdt])?(?P<carbons>[0-9]+):(?P<double_bonds>[0-9]+)"
                         r"(?:;O(?P<oxygens>[0-9]*))?")
_SPECIES_SEPARATOR = re.compile(r"[/_]")


@dataclass(frozen=True)
class ParsedName:
    """The fields of spec 3.3 for one name."""

    prefix: str
    core: str
    isomer: str | None
    modifiers: tuple[tuple[str, int], ...]
    oac_count: int
    base_prefix: str
    category: str
    suffix: str
    tail: str
    carbons: int
    double_bonds: int
    oxygens: int | None

    @property
    def is_ganglio(self) -> bool:
        """True for a ganglio-core (``G`` + sialic code + series digit), False for an other-core."""
        return self.category != UNKNOWN_CATEGORY

    @property
    def modifiers_text(self) -> str:
        """Export form of the modifiers: ``dHex+2OAc``; empty string if none (spec 3.3)."""
        return modifiers_text(self.modifiers)


def modifiers_text(modifiers: tuple[tuple[str, int], ...]) -> str:
    """Join (name, count) pairs as ``name`` or ``<count>name`` with ``+``, no leading ``+``."""
    return "+".join(name if count == 1 else f"{count}{name}" for name, count in modifiers)


def normalize_for_parsing(text: str) -> str:
    """Spec 3.1: drop all whitespace, write ``-alpha`` (any case) as ``α``."""
    return _ALPHA_WORD.sub("α", "".join(text.split()))


def parse_name(text: str) -> ParsedName:
    """Parse a (2.4-normalized) name; raise NameParseError with the spec 3.5 detail if it fails."""
    name = normalize_for_parsing(text)
    prefix, lipid = _split_prefix_and_lipid(name)
    core, *modifier_texts = prefix.split("+")
    if not core:
        raise NameParseError("empty head group")
    modifiers = tuple(_parse_modifier(item) for item in modifier_texts)
    core_match = _GANGLIO_CORE.fullmatch(core)
    if core_match:
        isomer = core_match["isomer"]
        base_prefix = f"G{core_match['code']}{core_match['series']}"
        category = f"G{core_match['code']}"
    else:
        isomer, base_prefix, category = None, core, UNKNOWN_CATEGORY
    carbons, double_bonds, oxygens = _parse_lipid(lipid)
    return ParsedName(
        prefix=prefix, core=core, isomer=isomer, modifiers=modifiers,
        oac_count=sum(count for mod_name, count in modifiers if mod_name == "OAc"),
        base_prefix=base_prefix, category=category, suffix=lipid,
        tail=tail_text(carbons, double_bonds, oxygens),
        carbons=carbons, double_bonds=double_bonds, oxygens=oxygens)


def tail_text(carbons: int, double_bonds: int, oxygens: int | None) -> str:
    """Normalized tail ``a:b``, ``a:b;O`` or ``a:b;O<x>`` (spec 3.2)."""
    if oxygens is None:
        return f"{carbons}:{double_bonds}"
    return f"{carbons}:{double_bonds};O" + ("" if oxygens == 1 else str(oxygens))


def _split_prefix_and_lipid(name: str) -> tuple[str, str]:
    opening, closing = name.find("("), name.find(")")
    if opening < 0 and closing < 0:
        raise NameParseError("no lipid part in parentheses")
    if name.count("(") != name.count(")") or closing < opening:
        raise NameParseError("unbalanced parentheses")
    if name[closing + 1:]:
        raise NameParseError("text after ')'")
    return name[:opening], name[opening + 1:closing]


def _parse_modifier(text: str) -> tuple[str, int]:
    if not text:
        raise NameParseError("empty modifier")
    match = _MODIFIER.fullmatch(text)
    count_text, mod_name = match["count"], match["name"]
    if count_text and not count_text.strip("0"):
        raise NameParseError("modifier count must be at least 1")
    if not mod_name:
        raise NameParseError(f"modifier '{text}' has no name")
    if not _MODIFIER_NAME.fullmatch(mod_name):
        raise NameParseError(f"modifier '{text}' is not a count followed by a name")
    if not count_text:
        return mod_name, 1
    return mod_name, _bounded(count_text, MAX_MODIFIER_COUNT, f"modifier '{text}': count")


def _parse_lipid(lipid: str) -> tuple[int, int, int | None]:
    parts = _SPECIES_SEPARATOR.split(lipid)
    matches = [_LIPID_PART.fullmatch(part) for part in parts]
    acyl_has_hint = len(parts) == 2 and matches[1] is not None and matches[1]["hint"]
    if len(parts) > 2 or not all(matches) or acyl_has_hint:
        raise NameParseError(f"lipid part '{lipid}' is not a:b;Ox")
    oxygen_counts = [_part_oxygens(match, lipid) for match in matches]
    known = [count for count in oxygen_counts if count is not None]
    carbons = sum(_bounded(match["carbons"], MAX_CARBONS, "carbons") for match in matches)
    double_bonds = sum(_bounded(match["double_bonds"], MAX_DOUBLE_BONDS, "double bonds")
                       for match in matches)
    oxygens = sum(known) if known else None
    _bounded(str(carbons), MAX_CARBONS, "carbons")  # the two chains of a species together
    _bounded(str(double_bonds), MAX_DOUBLE_BONDS, "double bonds")
    _bounded(str(oxygens or 0), MAX_OXYGENS, "oxygens")
    return carbons, double_bonds, oxygens


def _bounded(digits: str, limit: int, what: str) -> int:
    """The decimal number ``digits``; NameParseError if it exceeds ``limit`` (limits.py): a
    chemically impossible count is an input problem, never an overflow further on."""
    significant = digits.lstrip("0")
    if len(significant) > len(str(limit)) or int(digits) > limit:
        shown = significant if len(significant) <= 20 else f"{significant[:20]}…"
        raise NameParseError(f"{what} {shown} is more than {limit}")
    return int(digits)


def _part_oxygens(match: re.Match, lipid: str) -> int | None:
    hint, oxygens = match["hint"], match["oxygens"]
    if hint and oxygens is not None:
        raise NameParseError(f"lipid part '{lipid}' is not a:b;Ox")
    if hint:
        return HINT_OXYGENS[hint]
    if oxygens is None:
        return None
    if oxygens == "":
        return 1
    if not oxygens.strip("0"):
        raise NameParseError(f"lipid part '{lipid}' is not a:b;Ox")
    return _bounded(oxygens, MAX_OXYGENS, "oxygens")
