"""The synthetic demo table: shape, determinism, realism and the truth it records."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from ganglioside import analyze
from ganglioside.composition import (core_sialic_acids, modifier_totals, neutral_core_sugars,
                                     sugar_and_sialic_counts)
from ganglioside.demo import DETECTION_FLOOR, PREFIXES, TRUTH_KINDS, make_demo_table
from ganglioside.names import parse_name
from ganglioside.params import AnalysisParams

INPUT_COLUMNS = ["Name", "RT", "Volume", "Log P", "Anchor"]


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    return make_demo_table(300, seed=0, truth=True)


def _composition(name: str) -> dict[str, int]:
    parsed = parse_name(name)
    return {"sialic": core_sialic_acids(parsed), "neutral": neutral_core_sugars(parsed),
            **modifier_totals(parsed)}


def test_columns_and_types():
    table = make_demo_table(50)
    assert list(table.columns) == INPUT_COLUMNS
    assert set(table["Anchor"]) <= {"T", "F"}
    for column in ("RT", "Volume", "Log P"):
        assert table[column].dtype == np.float64 and table[column].notna().all()
    assert (table["RT"] > 0).all() and (table["Volume"] >= 1).all()
    assert (table["Volume"] == table["Volume"].round()).all()
    assert (table["RT"] == table["RT"].round(3)).all()
    assert (table["Log P"] == table["Log P"].round(2)).all()


def test_truth_columns(demo):
    assert list(demo.columns) == [*INPUT_COLUMNS, "truth_kind", "truth_parent_index"]
    assert demo["truth_parent_index"].dtype == "Int64"
    assert set(demo["truth_kind"]) == set(TRUTH_KINDS)
    has_parent = demo["truth_parent_index"].notna()
    assert (has_parent == (demo["truth_kind"] == "fragment")).all()


@pytest.mark.parametrize("n_rows", [1, 2, 5, 6, 7, 19, 300, 1234, 100_000])
def test_exact_size_and_a_fresh_index(n_rows):
    table = make_demo_table(n_rows, seed=3, truth=True)
    assert len(table) == n_rows
    assert table.index.equals(pd.RangeIndex(n_rows))


def test_too_small_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        make_demo_table(0)


def test_deterministic_per_seed():
    assert_frame_equal(make_demo_table(500, seed=7, truth=True),
                       make_demo_table(500, seed=7, truth=True))
    assert not make_demo_table(500, seed=7).equals(make_demo_table(500, seed=8))


def test_truth_is_the_same_table_with_more_columns():
    assert_frame_equal(make_demo_table(400, seed=2, truth=True)[INPUT_COLUMNS],
                       make_demo_table(400, seed=2))


def test_anchored_isomers_pair_gd1_peaks_close_together_like_the_sample():
    table = make_demo_table(600, seed=2, truth=True, anchored_isomers=True)
    assert len(table) == 600
    gd1 = table[table["Name"].str.startswith("GD1(")]
    pairs = gd1.groupby("Name").filter(lambda peaks: (peaks["Anchor"] == "T").sum() == 2)
    assert pairs["Name"].nunique() >= 3  # names anchored twice: two confirmed isomers
    anchored = pairs[pairs["Anchor"] == "T"]
    assert set(anchored["truth_kind"]) == {"correct", "isomer"}
    gaps = anchored.groupby("Name")["RT"].agg(lambda rt: rt.max() - rt.min())
    assert gaps.between(0.1, 0.8).all()
    plain = make_demo_table(600, seed=2, truth=True)
    assert (plain.loc[plain["truth_kind"] == "isomer", "Anchor"] == "F").all()


def test_misplaced_anchors_are_a_few_misidentified_anchors():
    table = make_demo_table(1000, seed=4, truth=True, misplaced_anchors=True)
    anchors = table[table["Anchor"] == "T"]
    misplaced = (anchors["truth_kind"] == "misidentified").sum()
    assert 1 <= misplaced <= 0.1 * len(anchors)
    plain = make_demo_table(1000, seed=4, truth=True)
    assert (plain.loc[plain["Anchor"] == "T", "truth_kind"] != "misidentified").all()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_every_kind_present_in_roughly_its_share(seed):
    kinds = make_demo_table(300, seed=seed, truth=True)["truth_kind"].value_counts()
    assert set(kinds.index) == set(TRUTH_KINDS)
    assert kinds["correct"] > 0.6 * 300
    assert kinds["isomer"] == kinds["fragment"] == 30 and kinds["misidentified"] == 18


def test_sorted_by_name_then_rt(demo):
    ordered = demo.sort_values(["Name", "RT"], kind="stable")
    assert demo["Name"].tolist() == ordered["Name"].tolist()
    assert demo["RT"].tolist() == ordered["RT"].tolist()


def test_names_parse_with_the_sample_prefixes_and_tails(demo):
    parsed = [parse_name(name) for name in demo["Name"]]
    assert {p.prefix for p in parsed} <= {prefix for prefix, _, _ in PREFIXES}
    assert len({p.prefix for p in parsed}) >= 15
    assert all(32 <= p.carbons <= 44 and p.oxygens in (2, 3) for p in parsed)
    assert sum(p.oxygens == 3 for p in parsed) < 0.15 * len(parsed)
    assert all(sugar_and_sialic_counts(p)[0] is not None for p in parsed)


def test_names_repeat_but_most_peaks_have_their_own_name(demo):
    per_name = demo["Name"].value_counts()
    assert (per_name >= 2).sum() >= 10
    assert (per_name == 1).sum() > len(per_name) / 2


def test_log_p_is_a_property_of_the_name_and_follows_the_structure(demo):
    assert (demo.groupby("Name")["Log P"].nunique() == 1).all()
    by_name = demo.drop_duplicates("Name").set_index("Name")["Log P"]
    table = make_demo_table(20_000, seed=1).drop_duplicates("Name").set_index("Name")["Log P"]
    assert table["GM1(36:1;O2)"] > table["GD1(36:1;O2)"] > table["GT1(36:1;O2)"]
    assert table["GM3(36:1;O2)"] > table["GM2(36:1;O2)"] > table["GM1(36:1;O2)"]
    assert table["GD1(38:1;O2)"] > table["GD1(36:1;O2)"] > table["GD1(36:2;O2)"]
    assert table["GD1+OAc(36:1;O2)"] > table["GD1(36:1;O2)"]
    assert by_name.between(-10, 15).all()  # GM4(44:1;O2), the most hydrophobic, is at 14.0


def test_rt_rises_with_log_p_at_about_1_3_to_1_4_min_per_unit():
    table = make_demo_table(3000, seed=4, truth=True)
    correct = table[table["truth_kind"] == "correct"]
    correct = correct.assign(prefix=correct["Name"].str.split("(").str[0])
    slopes = [np.polyfit(group["Log P"], group["RT"], 1)[0]
              for _, group in correct.groupby("prefix") if group["Log P"].std() > 1]
    assert len(slopes) >= 10
    assert 1.25 < np.median(slopes) < 1.45


def test_anchors_only_on_correct_peaks_and_concentrated_on_a_few_prefixes(demo):
    assert set(demo.loc[demo["Anchor"] == "T", "truth_kind"]) == {"correct"}
    per_prefix = (demo["Anchor"] == "T").groupby(demo["Name"].str.split("(").str[0]).sum()
    assert (per_prefix >= 3).sum() >= 4
    assert (per_prefix <= 2).sum() >= 10


def test_fragments_share_tail_and_rt_with_a_larger_parent_whose_glycan_contains_theirs(demo):
    fragments = demo[demo["truth_kind"] == "fragment"]
    parents = demo.loc[fragments["truth_parent_index"].astype(int).to_numpy()]
    assert set(parents["truth_kind"]) <= {"correct", "isomer"}
    rt_diff = np.abs(fragments["RT"].to_numpy() - parents["RT"].to_numpy())
    assert (rt_diff <= AnalysisParams().rt_tolerance).all()  # within Rule 5's window
    assert (fragments["Volume"].to_numpy() < parents["Volume"].to_numpy()).all()
    for fragment, parent in zip(fragments["Name"], parents["Name"]):
        assert parse_name(fragment).tail == parse_name(parent).tail
        assert (sugar_and_sialic_counts(parse_name(fragment))[0]
                < sugar_and_sialic_counts(parse_name(parent))[0])
        contained, whole = _composition(fragment), _composition(parent)
        assert all(count <= whole.get(key, 0) for key, count in contained.items())


def test_fragments_coelute_and_share_volume_as_the_samples_do():
    """On the lab's sample fragments elute within about 0.01 min of their parent's apex, carry a
    few per cent of its Volume and stay above the smallest Volume seen; not a uniform spread."""
    demo = make_demo_table(2000, seed=1, truth=True)
    fragments = demo[demo["truth_kind"] == "fragment"]
    parents = demo.loc[fragments["truth_parent_index"].astype(int).to_numpy()]
    rt_diff = np.abs(fragments["RT"].to_numpy() - parents["RT"].to_numpy())
    share = fragments["Volume"].to_numpy() / parents["Volume"].to_numpy()
    assert np.median(rt_diff) <= 0.006 and np.quantile(rt_diff, 0.95) <= 0.025
    assert 0.01 < np.median(share) < 0.05
    assert share.min() < 0.005 and share.max() > 0.2
    assert demo["Volume"].min() >= DETECTION_FLOOR  # fragments and every other peak


def test_isomers_are_second_peaks_of_capable_names_on_a_parallel_line(demo):
    isomers = demo[demo["truth_kind"] == "isomer"]
    assert {parse_name(name).base_prefix for name in isomers["Name"]} <= {"GD1", "GT1", "GQ1"}
    correct = demo[demo["truth_kind"] == "correct"]
    for name, rt in zip(isomers["Name"], isomers["RT"]):
        first_peaks = correct.loc[correct["Name"] == name, "RT"]
        assert len(first_peaks) >= 1
        assert ((rt - first_peaks).between(0.2, 1.2)).any()  # 0.4-0.9 min, plus noise


def test_a_million_rows_are_generated(tmp_path):
    table = make_demo_table(1_000_000, seed=5, truth=True)
    assert len(table) == 1_000_000
    shares = table["truth_kind"].value_counts(normalize=True)
    assert shares["fragment"] == pytest.approx(0.10, abs=1e-6)
    assert table["Name"].nunique() > 1000


@pytest.mark.parametrize("version", ["2.0", "1.0"])
def test_the_analysis_flags_misidentified_peaks_and_finds_fragments(demo, version):
    result = analyze(demo[INPUT_COLUMNS], AnalysisParams(algorithm_version=version))
    rows = result.rows
    assert len(rows) == 300 and (rows["status"] != "invalid").all()
    assert result.summary["outlier"] > 0 and result.summary["fragment_rows"] > 0
    assert result.summary["groups_accepted"] >= 3
    kind = demo["truth_kind"].to_numpy()
    outlier = (rows["rule1_status"] == "outlier").to_numpy()
    judged = (rows["rule1_status"] != "unverified").to_numpy()
    misidentified, correct = (kind == "misidentified") & judged, (kind == "correct") & judged
    assert outlier[misidentified].mean() > 0.5 > 0.1 > outlier[correct].mean()
    fragment_role = (rows["rule5_role"] == "fragment").to_numpy()
    true_fragment = kind == "fragment"
    if version == "1.0":  # every peak with a possible parent
        assert fragment_role[true_fragment].all()
    else:  # weighed against being a peak of its own
        assert fragment_role[true_fragment].mean() >= 0.85
        assert fragment_role[~true_fragment].mean() < 0.02
