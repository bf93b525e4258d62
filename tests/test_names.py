"""Name grammar (spec 3), sugar/sialic counts (spec 4) and the categorizer (spec 11)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganglioside import composition
from ganglioside.errors import NameParseError
from ganglioside.names import ParsedName, parse_name

# --- spec 3.4 examples ------------------------------------------------------------------------

# name, prefix, core, isomer, modifiers, base_prefix, category, tail, sugars, sialic
SPEC_EXAMPLES = [
    ("GD1(36:1;O2)", "GD1", "GD1", None, (), "GD1", "GD", "36:1;O2", 6, 2),
    ("GD1a(36:1;O2)", "GD1a", "GD1a", "a", (), "GD1", "GD", "36:1;O2", 6, 2),
    ("GD1+Hex+HexNAc+OAc(36:1;O2)", "GD1+Hex+HexNAc+OAc", "GD1", None,
     (("Hex", 1), ("HexNAc", 1), ("OAc", 1)), "GD1", "GD", "36:1;O2", 8, 2),
    ("GD1+2OAc(38:1;O2)", "GD1+2OAc", "GD1", None, (("OAc", 2),), "GD1", "GD", "38:1;O2", 6, 2),
    ("GD1+OAc+OAc(38:1;O2)", "GD1+OAc+OAc", "GD1", None, (("OAc", 1), ("OAc", 1)), "GD1", "GD",
     "38:1;O2", 6, 2),
    ("GQ1bα(36:1;O2)", "GQ1bα", "GQ1bα", "bα", (), "GQ1", "GQ", "36:1;O2", 8, 4),
    ("GQ1b-alpha(36:1;O2)", "GQ1bα", "GQ1bα", "bα", (), "GQ1", "GQ", "36:1;O2", 8, 4),
    ("GD1α(36:1;O2)", "GD1α", "GD1α", "α", (), "GD1", "GD", "36:1;O2", 6, 2),
    ("GM1+NeuAc(34:1;O2)", "GM1+NeuAc", "GM1", None, (("NeuAc", 1),), "GM1", "GM", "34:1;O2", 6, 2),
    ("GM1+dHex(36:1;O2)", "GM1+dHex", "GM1", None, (("dHex", 1),), "GM1", "GM", "36:1;O2", 6, 1),
    ("GM3(d18:1/18:0)", "GM3", "GM3", None, (), "GM3", "GM", "36:1;O2", 3, 1),
    ("GM3(36:1;O)", "GM3", "GM3", None, (), "GM3", "GM", "36:1;O", 3, 1),
    ("GM1 (36:1; O2)", "GM1", "GM1", None, (), "GM1", "GM", "36:1;O2", 5, 1),
    ("Cer(36:1;O2)", "Cer", "Cer", None, (), "Cer", "Unknown", "36:1;O2", None, None),
    ("GD1A(36:1;O2)", "GD1A", "GD1A", None, (), "GD1A", "Unknown", "36:1;O2", None, None),
    ("GD1+Sia2(36:1;O2)", "GD1+Sia2", "GD1", None, (("Sia2", 1),), "GD1", "GD", "36:1;O2",
     None, None),
]


@pytest.mark.parametrize(
    "text, prefix, core, isomer, modifiers, base_prefix, category, tail, sugars, sialic",
    SPEC_EXAMPLES)
def test_spec_examples(text, prefix, core, isomer, modifiers, base_prefix, category, tail,
                       sugars, sialic):
    parsed = parse_name(text)
    assert (parsed.prefix, parsed.core, parsed.isomer, parsed.modifiers, parsed.base_prefix,
            parsed.category, parsed.tail) == (prefix, core, isomer, modifiers, base_prefix,
                                              category, tail)
    assert composition.sugar_and_sialic_counts(parsed) == (sugars, sialic)


@pytest.mark.parametrize("text, oac_count", [
    ("GD1+2OAc(38:1;O2)", 2), ("GD1+OAc+OAc(38:1;O2)", 2), ("GD1(36:1;O2)", 0),
    ("GT1b+dHex+3OAc(36:1;O2)", 3), ("Cer+OAc(36:1;O2)", 1)])
def test_oac_count_sums_the_counts_of_oac(text, oac_count):
    assert parse_name(text).oac_count == oac_count


@pytest.mark.parametrize("lipid, carbons, double_bonds, oxygens, tail", [
    ("36:1;O2", 36, 1, 2, "36:1;O2"),
    ("36:0;O3", 36, 0, 3, "36:0;O3"),
    ("36:1;O", 36, 1, 1, "36:1;O"),
    ("d36:1", 36, 1, 2, "36:1;O2"),
    ("t36:0", 36, 0, 3, "36:0;O3"),
    ("m36:1", 36, 1, 1, "36:1;O"),
    ("d18:1/18:0", 36, 1, 2, "36:1;O2"),
    ("d18:1_18:0", 36, 1, 2, "36:1;O2"),
    ("18:1;O2/18:0;O", 36, 1, 3, "36:1;O3"),
    ("18:1/18:0;O", 36, 1, 1, "36:1;O"),
    ("36:1", 36, 1, None, "36:1"),
    ("18:1/18:0", 36, 1, None, "36:1"),
])
def test_lipid_forms(lipid, carbons, double_bonds, oxygens, tail):
    parsed = parse_name(f"GM3({lipid})")
    assert (parsed.carbons, parsed.double_bonds, parsed.oxygens, parsed.tail) == (
        carbons, double_bonds, oxygens, tail)
    assert parsed.suffix == lipid


def test_suffix_is_the_lipid_as_written_after_whitespace_removal():
    assert parse_name("GM1 ( d18:1 / 18:0 )").suffix == "d18:1/18:0"


@pytest.mark.parametrize("text, detail", [
    ("GD1", "no lipid part in parentheses"),
    ("GD1(36:1;O2", "unbalanced parentheses"),
    ("GD1)36:1;O2(", "unbalanced parentheses"),
    ("GD1(36:1;O2)x", "text after ')'"),
    ("(36:1;O2)", "empty head group"),
    ("+OAc(36:1;O2)", "empty head group"),
    ("GD1+(36:1;O2)", "empty modifier"),
    ("GD1++OAc(36:1;O2)", "empty modifier"),
    ("GD1+0OAc(36:1;O2)", "modifier count must be at least 1"),
    ("GD1+2(36:1;O2)", "modifier '2' has no name"),
    ("GD1(36-1;O2)", "lipid part '36-1;O2' is not a:b;Ox"),
    ("GD1(d36:1;O2)", "lipid part 'd36:1;O2' is not a:b;Ox"),
    ("GD1(36:1;O0)", "lipid part '36:1;O0' is not a:b;Ox"),
    ("GD1(d18:1/d18:0)", "lipid part 'd18:1/d18:0' is not a:b;Ox"),
    ("GD1(18:1/18:0/2:0)", "lipid part '18:1/18:0/2:0' is not a:b;Ox"),
    ("GD1()", "lipid part '' is not a:b;Ox"),
])
def test_names_that_do_not_parse(text, detail):
    with pytest.raises(NameParseError) as raised:
        parse_name(text)
    assert raised.value.detail == detail


def test_modifier_name_must_start_with_a_letter():
    with pytest.raises(NameParseError, match="modifier 'O-Ac'"):
        parse_name("GD1+O-Ac(36:1;O2)")


def test_matching_is_case_sensitive_except_alpha_word():
    assert parse_name("GD1a-ALPHA(36:1;O2)").isomer == "aα"
    assert parse_name("gd1(36:1;O2)").category == "Unknown"


def test_lower_case_oxygen_is_not_accepted():
    with pytest.raises(NameParseError):
        parse_name("GD1(36:1;o2)")


def test_modifiers_text_form():
    assert parse_name("GD1+dHex+OAc(36:1;O2)").modifiers_text == "dHex+OAc"
    assert parse_name("GD1+2OAc(36:1;O2)").modifiers_text == "2OAc"
    assert parse_name("GD1+1OAc(36:1;O2)").modifiers_text == "OAc"
    assert parse_name("GD1(36:1;O2)").modifiers_text == ""


# --- property tests ---------------------------------------------------------------------------

ISOMERS = ["a", "b", "c", "aα", "bα", "cα", "α"]
GANGLIO_CORE = re.compile(r"G[AMDTQP][1-4]([abc]α?|α)?")
WHITESPACE = st.sampled_from([" ", "  ", "\t", "\u00a0", "\u3000", "\n"])


@st.composite
def alpha_spelling(draw):
    """α written as the letter or as '-alpha' in any case."""
    return draw(st.sampled_from(["α", "-alpha", "-Alpha", "-ALPHA", "-aLpHa"]))


@st.composite
def cores(draw):
    """(written core, expected core, expected isomer, expected base_prefix, category)."""
    if draw(st.booleans()):
        code = draw(st.sampled_from("AMDTQP"))
        series = draw(st.sampled_from("1234"))
        isomer = draw(st.sampled_from([None, *ISOMERS]))
        written = isomer or ""
        if isomer and isomer.endswith("α"):
            written = isomer[:-1] + draw(alpha_spelling())
        base = f"G{code}{series}"
        return base + written, base + (isomer or ""), isomer, base, f"G{code}"
    other = draw(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                         min_size=1, max_size=8).filter(
        lambda text: not GANGLIO_CORE.fullmatch(text)))
    return other, other, None, other, "Unknown"


@st.composite
def modifier_stacks(draw):
    """(written text, expected (name, count) tuple)."""
    names = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,6}", fullmatch=True)
    items = draw(st.lists(st.tuples(names, st.integers(1, 30)), max_size=5))
    written = ""
    for name, count in items:
        count_text = str(count) if count > 1 else draw(st.sampled_from(["", "1"]))
        written += f"+{count_text}{name}"
    return written, tuple(items)


@st.composite
def lipid_parts(draw, allow_hint: bool):
    """(written, carbons, double bonds, oxygens or None)."""
    carbons, double_bonds = draw(st.integers(0, 60)), draw(st.integers(0, 12))
    kind = draw(st.sampled_from(["hint", "oxy", "O", "none"] if allow_hint else
                                ["oxy", "O", "none"]))
    if kind == "hint":
        hint = draw(st.sampled_from("mdt"))
        return f"{hint}{carbons}:{double_bonds}", carbons, double_bonds, "mdt".index(hint) + 1
    if kind == "oxy":
        oxygens = draw(st.integers(1, 9))
        return f"{carbons}:{double_bonds};O{oxygens}", carbons, double_bonds, oxygens
    if kind == "O":
        return f"{carbons}:{double_bonds};O", carbons, double_bonds, 1
    return f"{carbons}:{double_bonds}", carbons, double_bonds, None


@st.composite
def lipids(draw):
    """(written, carbons, double bonds, oxygens): sum form or species form."""
    first = draw(lipid_parts(allow_hint=True))
    if draw(st.booleans()):
        return first
    second = draw(lipid_parts(allow_hint=False))
    separator = draw(st.sampled_from("/_"))
    oxygens = [part[3] for part in (first, second) if part[3] is not None]
    return (f"{first[0]}{separator}{second[0]}", first[1] + second[1], first[2] + second[2],
            sum(oxygens) if oxygens else None)


@st.composite
def with_whitespace(draw, text: str):
    """Insert whitespace anywhere (also inside '-alpha': whitespace goes first, spec 3.1)."""
    pieces = []
    for char in text:
        if draw(st.integers(0, 5)) == 0:
            pieces.append(draw(WHITESPACE))
        pieces.append(char)
    if draw(st.booleans()):
        pieces.append(draw(WHITESPACE))
    return "".join(pieces)


@st.composite
def valid_names(draw):
    core = draw(cores())
    stack, modifiers = draw(modifier_stacks())
    lipid = draw(lipids())
    written = f"{core[0]}{stack}({lipid[0]})"
    return draw(with_whitespace(written)), core[1] + stack, core, modifiers, lipid


@settings(max_examples=400, deadline=None)
@given(valid_names())
def test_generated_names_parse_back_to_their_parts(case):
    written, prefix, (_, core, isomer, base_prefix, category), modifiers, lipid = case
    parsed = parse_name(written)
    assert parsed.prefix == prefix
    assert parsed.core == core
    assert parsed.isomer == isomer
    assert parsed.base_prefix == base_prefix
    assert parsed.category == category
    assert parsed.modifiers == modifiers
    assert parsed.oac_count == sum(count for name, count in modifiers if name == "OAc")
    assert (parsed.carbons, parsed.double_bonds, parsed.oxygens) == lipid[1:]
    assert parsed.suffix == lipid[0]


@settings(max_examples=300, deadline=None)
@given(valid_names())
def test_tail_text_round_trips(case):
    parsed = parse_name(case[0])
    again = parse_name(f"X({parsed.tail})")
    assert (again.carbons, again.double_bonds, again.oxygens) == (
        parsed.carbons, parsed.double_bonds, parsed.oxygens)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("GMDTQPAabcα0123456789+-():;/_Odmt xX\u200b")) |
               st.characters(), max_size=40))
def test_arbitrary_text_only_raises_name_parse_error(text):
    try:
        result = parse_name(text)
    except NameParseError as error:
        assert error.detail
    else:
        assert isinstance(result, ParsedName)


# --- composition (spec 4) ---------------------------------------------------------------------

@pytest.mark.parametrize("core, sialic, total", [
    ("GA2", 0, 3), ("GA1", 0, 4), ("GM4", 1, 2), ("GM3", 1, 3), ("GM2", 1, 4), ("GM1", 1, 5),
    ("GD3", 2, 4), ("GD2", 2, 5), ("GD1", 2, 6), ("GT3", 3, 5), ("GT2", 3, 6), ("GT1", 3, 7),
    ("GQ1", 4, 8), ("GP1", 5, 9)])
def test_core_counts_follow_svennerholm(core, sialic, total):
    for written in (core, core + "b", core + "aα"):
        parsed = parse_name(f"{written}(36:1;O2)")
        assert composition.sugar_and_sialic_counts(parsed) == (total, sialic)
        assert composition.neutral_core_sugars(parsed) == total - sialic


@pytest.mark.parametrize("modifier, sugar_units, sialic_units", [
    ("Hex", 1, 0), ("HexNAc", 1, 0), ("dHex", 1, 0), ("Fuc", 1, 0), ("NeuAc", 1, 1),
    ("NeuGc", 1, 1), ("OAc", 0, 0), ("Ac", 0, 0), ("SO3", 0, 0)])
def test_known_modifiers_add_their_units_times_count(modifier, sugar_units, sialic_units):
    parsed = parse_name(f"GM1+3{modifier}(36:1;O2)")
    assert composition.sugar_and_sialic_counts(parsed) == (5 + 3 * sugar_units,
                                                           1 + 3 * sialic_units)


def test_unknown_modifier_or_other_core_makes_counts_unknown():
    assert composition.sugar_and_sialic_counts(parse_name("GM1+hex(36:1;O2)")) == (None, None)
    assert composition.unknown_modifier_names(parse_name("GM1+hex+OAc+Sia2(36:1)")) == [
        "hex", "Sia2"]
    other = parse_name("Cer+Hex(36:1;O2)")
    assert composition.sugar_and_sialic_counts(other) == (None, None)
    assert composition.neutral_core_sugars(other) is None


@pytest.mark.parametrize("text, expected", [
    ("GD1(36:1)", True), ("GD1a(36:1)", True), ("GD1+OAc(36:1)", True),
    ("GQ1bα+2OAc(36:1)", True), ("GT1b(36:1)", True), ("GD2(36:1)", False),
    ("GM1(36:1)", False), ("GD1A(36:1)", False), ("GQ2(36:1)", False)])
def test_can_have_isomers(text, expected):
    assert composition.can_have_isomers(parse_name(text).base_prefix) is expected


def test_non_oac_key_is_an_order_free_multiset_without_oac():
    key = composition.non_oac_key
    assert key(parse_name("GD1+dHex+HexNAc+OAc(36:1)")) == key(parse_name("GD1+HexNAc+dHex(36:1)"))
    assert key(parse_name("GD1+Hex+Hex(36:1)")) == key(parse_name("GD1+2Hex+2OAc(36:1)"))
    assert key(parse_name("GD1+Hex(36:1)")) != key(parse_name("GD1+2Hex(36:1)"))
    assert key(parse_name("GD1+OAc(36:1)")) == ""


# --- categorizer (spec 11) --------------------------------------------------------------------

def test_category_table_and_descriptions():
    assert list(composition.CATEGORIES) == ["GA", "GM", "GD", "GT", "GQ", "GP", "Unknown"]
    assert composition.CATEGORY_COLOURS == {
        "GA": "#888888", "GM": "#1f77b4", "GD": "#ff7f0e", "GT": "#2ca02c", "GQ": "#d62728",
        "GP": "#9467bd", "Unknown": "#888888"}
    assert composition.category_description("GD") == "Disialogangliosides (2 sialic acids)"
    assert composition.category_description("GM") == "Monosialogangliosides (1 sialic acid)"
    assert composition.category_description("GA") == "Asialogangliosides (0 sialic acids)"
    assert composition.category_description("Unknown") == \
        "Head group not recognised as a ganglioside"
    assert composition.CATEGORIES["GM"].subcategories == ("GM1", "GM2", "GM3", "GM4")


@pytest.mark.parametrize("name, description", [
    ("OAc", "O-acetylation (of a sialic acid)"), ("Ac", "acetylation"),
    ("dHex", "deoxyhexose (e.g. fucose)"), ("Fuc", "fucose"), ("Hex", "hexose"),
    ("HexNAc", "N-acetylhexosamine"), ("NeuAc", "extra N-acetylneuraminic acid"),
    ("NeuGc", "extra N-glycolylneuraminic acid"), ("SO3", "sulfation"),
    ("Sia2", "unknown modification"), ("oac", "unknown modification")])
def test_modifier_descriptions(name, description):
    assert composition.modifier_description(name) == description


def _rows(names: list[str | None]) -> pd.DataFrame:
    parsed = [parse_name(name) if name else None for name in names]
    return pd.DataFrame({
        "Name": names,
        "category": [p.category if p else None for p in parsed],
        "base_prefix": [p.base_prefix if p else None for p in parsed],
        "modifiers": [p.modifiers_text if p else None for p in parsed],
    })


def test_category_counts_count_rows_and_distinct_names():
    rows = _rows(["GD1(36:1)", "GD1(36:1)", "GD1a(36:1)", "GM1(36:1)", "Cer(36:1)", None])
    counts = composition.category_counts(rows).set_index("category")
    assert counts.loc["GD", ["rows", "distinct_names"]].tolist() == [3, 2]
    assert counts.loc["GM", ["rows", "distinct_names"]].tolist() == [1, 1]
    assert counts.loc["Unknown", ["rows", "distinct_names"]].tolist() == [1, 1]
    assert counts.loc["GT", "rows"] == 0
    assert counts.loc["GD", "colour"] == "#ff7f0e"
    assert counts["rows"].sum() == 5


def test_base_prefix_counts_in_category_order():
    rows = _rows(["GD1(36:1)", "GD1a(36:1)", "GM3(36:1)", "GM1(36:1)", "GM1(38:1)"])
    table = composition.base_prefix_counts(rows)
    assert table["base_prefix"].tolist() == ["GM1", "GM3", "GD1"]
    assert table["rows"].tolist() == [2, 1, 2]
    assert table["distinct_names"].tolist() == [2, 1, 2]


def test_modifier_row_counts_count_rows_not_units():
    rows = _rows(["GD1+2OAc(36:1)", "GD1+OAc+dHex(36:1)", "GD1+OAc+OAc(36:1)", "GD1(36:1)"])
    table = composition.modifier_row_counts(rows)
    assert table["modifier"].tolist() == ["OAc", "dHex"]
    assert table["rows"].tolist() == [3, 1]
    assert table["description"].tolist() == ["O-acetylation (of a sialic acid)",
                                             "deoxyhexose (e.g. fucose)"]
