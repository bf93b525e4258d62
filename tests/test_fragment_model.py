"""Rule 5, algorithm 2.0: the fragment-or-own-peak model learns from the run and decides."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganglioside.rules.fragment_model import (DEFAULT_MODEL, DetectionLimit, PairEvidence,
                                         _most_fragmented, fit_fragment_model, pair_evidence)
from ganglioside.rules.fragments import Candidates

ON_LINE, OFF_LINE = 4.0, 0.03  # RT densities (per min) of a peak on its line / misidentified
VOLUME_DENSITY = 0.2
COELUTION_SCALE = 0.006  # min: mean |ΔRT| of fragments, as on the lab's sample
NO_LIMIT = DetectionLimit(-np.inf, np.empty(0))  # every peak could leave any share


def evidence(n_fragments: int = 150, n_coincident: int = 300, seed: int = 0, trusted=None,
             rival=None, rival_misidentified=None, coelution: float = COELUTION_SCALE,
             ambiguous: int = 0, prefix=None) -> PairEvidence:
    """Fragments at their parent's apex (Laplace, mean |ΔRT| ``coelution``) with 20 % of its
    Volume, off their own line; coincidences on their own line, 0.06-0.1 min from the larger
    glycan and about as large (clear of what a fragment looks like: the truth is unambiguous);
    then ``ambiguous`` peaks on their own line at a parent's apex with 20 % of its Volume. One
    head group unless ``prefix`` says otherwise."""
    rng = np.random.default_rng(seed)
    n = n_fragments + n_coincident + ambiguous
    rt_diff = np.concatenate([rng.laplace(0, coelution, n_fragments),
                              rng.choice([-1, 1], n_coincident)
                              * rng.uniform(0.06, 0.1, n_coincident), np.full(ambiguous, 0.005)])
    log_ratio = np.concatenate([rng.normal(np.log(0.2), 0.4, n_fragments),
                                rng.uniform(-0.3, 0.0, n_coincident),
                                np.full(ambiguous, np.log(0.2))])
    independent = np.concatenate([np.full(n_fragments, OFF_LINE),
                                  np.full(n_coincident + ambiguous, ON_LINE)]) * VOLUME_DENSITY
    return PairEvidence(
        fragment=np.arange(n), parent=np.arange(n) + n, parent_participant=np.full(n, n),
        rt_diff=rt_diff, log_ratio=log_ratio, parent_choices=np.ones(n), independent=independent,
        trusted=np.zeros(n, dtype=bool) if trusted is None else trusted,
        rival=np.full((n, 2), -1) if rival is None else rival,
        rival_misidentified=(np.ones((n, 2)) if rival_misidentified is None
                             else rival_misidentified),
        prefix=np.zeros(n, dtype=int) if prefix is None else prefix, parents_able=np.ones(n),
        detection=NO_LIMIT)


def test_the_model_learns_coelution_volume_share_and_frequency_from_the_run():
    model, p_fragment, _ = fit_fragment_model(evidence(), tolerance=0.1)
    assert model.coelution_scale == pytest.approx(COELUTION_SCALE, abs=0.001)
    assert np.exp(model.log_ratio_mean) == pytest.approx(0.2, rel=0.15)
    assert model.prior == pytest.approx(150 / 450, abs=0.05)
    called = p_fragment >= 0.5
    assert called[:150].mean() > 0.95 and called[150:].mean() < 0.05


@pytest.mark.parametrize("coelution", [0.002, 0.02])  # tighter and wider than the default
def test_a_few_pairs_move_the_numbers_only_part_of_the_way_from_the_defaults(coelution):
    few, _, _ = fit_fragment_model(evidence(n_fragments=8, n_coincident=8, coelution=coelution),
                                   tolerance=0.1)
    many, _, _ = fit_fragment_model(evidence(coelution=coelution), tolerance=0.1)
    assert many.coelution_scale == pytest.approx(coelution, rel=0.3)
    low, high = sorted([many.coelution_scale, DEFAULT_MODEL.coelution_scale])
    assert low < few.coelution_scale < high
    assert many.log_ratio_sd < few.log_ratio_sd < DEFAULT_MODEL.log_ratio_sd


def test_without_candidate_pairs_no_peak_gets_a_probability():
    empty = PairEvidence(*(np.empty(0, dtype=int) for _ in range(3)), np.empty(0), np.empty(0),
                         np.empty(0), independent=np.full(5, ON_LINE), trusted=np.zeros(5, bool),
                         rival=np.full((5, 2), -1), rival_misidentified=np.zeros((5, 2)),
                         prefix=np.zeros(5, dtype=int), parents_able=np.empty(0),
                         detection=NO_LIMIT)
    model, p_fragment, p_pair = fit_fragment_model(empty, tolerance=0.1)
    assert np.isnan(p_fragment).all() and len(p_pair) == 0
    assert model.coelution_scale == pytest.approx(DEFAULT_MODEL.coelution_scale)


def test_a_head_group_whose_peaks_are_mostly_fragments_lends_its_share_to_an_ambiguous_peak():
    """The same ambiguous peak (on its own line, at a parent's apex) in the head group of the
    fragments and in that of the chance coincidences."""
    one_group = evidence(ambiguous=2)
    _, pooled, _ = fit_fragment_model(one_group, tolerance=0.1)
    prefix = np.concatenate([np.zeros(150, dtype=int), np.ones(300, dtype=int), [0, 1]])
    _, by_group, _ = fit_fragment_model(evidence(ambiguous=2, prefix=prefix), tolerance=0.1)
    assert pooled[-2] == pooled[-1]
    assert by_group[-2] > pooled[-2] and by_group[-1] < pooled[-1]
    assert by_group[-2] > 0.5 > by_group[-1]


def test_the_learned_sentence_names_the_head_groups_with_more_fragments_than_the_run():
    """Head groups 0-4 hold 30 fragments each, head group 5 the 300 coincidences, head group 6
    is anchors only: three of the five are named, the first with what its share counts."""
    prefix = np.repeat(np.arange(7), [30, 30, 30, 30, 30, 300, 20])
    evidence_ = evidence(n_coincident=320, prefix=prefix, trusted=prefix == 6)
    model, p_fragment, _ = fit_fragment_model(evidence_, tolerance=0.1)
    fragments, peaks = evidence_.head_group_fragments(p_fragment)
    assert peaks.tolist() == [30, 30, 30, 30, 30, 300, 0]
    assert (fragments[:5] / 30 > 0.95).all() and fragments[5] / 300 < model.prior
    names = np.array(["GM3", "GM2", "GD3", "GM4", "GT3", "GD1", "GQ1b"])
    clause = _most_fragmented(model, pd.DataFrame({"prefix": names[prefix]}), np.arange(470),
                              p_fragment, evidence_)
    by_share = np.argsort(-fragments[:5], kind="stable")[:3]  # equal pooling: as the raw share
    shown = [f"{names[code]} ({fragments[code] / 30:.0%}" for code in by_share]
    assert clause == (f"; the most in {shown[0]} of its non-anchor peaks), {shown[1]}), "
                      f"{shown[2]})")


def test_anchors_do_not_shape_the_learned_model():
    trusted = np.zeros(450, dtype=bool)
    trusted[:150] = True  # every true fragment is an anchor: nothing fragment-like is left
    model, _, _ = fit_fragment_model(evidence(trusted=trusted), tolerance=0.1)
    learned, _, _ = fit_fragment_model(evidence(), tolerance=0.1)
    assert model.prior < learned.prior / 3


def test_a_rival_on_the_same_line_makes_a_coeluting_peak_a_fragment():
    """Two peaks of one name on one line: if the other one cannot be a fragment and fits its
    line, this one is not a peak of its own."""
    rival = np.full((450, 2), -1)
    rival[150:, 0] = 450  # every coincidence has a rival without Volume (never a fragment)
    misidentified = np.zeros((450, 2))
    misidentified[150:, 0] = 0.01  # the rival fits its line
    _, alone, _ = fit_fragment_model(evidence(), tolerance=0.1)
    _, with_rival, _ = fit_fragment_model(
        evidence(rival=rival, rival_misidentified=misidentified), tolerance=0.1)
    assert np.median(with_rival[150:]) > np.median(alone[150:]) * 5


def chain(parent_one_is_fragment: bool) -> PairEvidence:
    """Peak 0 (a GT1) has no possible parent; peak 1 (a GD1) may be its fragment; peak 2 (a GM1)
    co-elutes with both, with the same ΔRT and Volume ratio to each."""
    return PairEvidence(
        fragment=np.array([1, 2, 2]), parent=np.array([10, 10, 11]),
        parent_participant=np.array([0, 0, 1]), rt_diff=np.array([0.0, 0.01, 0.01]),
        log_ratio=np.log([0.2, 0.1, 0.1]), parent_choices=np.ones(3),
        independent=np.array([ON_LINE, OFF_LINE if parent_one_is_fragment else ON_LINE * 1e3,
                              OFF_LINE]) * VOLUME_DENSITY,
        trusted=np.zeros(3, dtype=bool), rival=np.full((3, 2), -1),
        rival_misidentified=np.zeros((3, 2)), prefix=np.arange(3), parents_able=np.ones(3),
        detection=NO_LIMIT)


def test_a_fragment_is_charged_to_a_parent_that_is_a_peak_of_its_own():
    fragment_parent = chain(parent_one_is_fragment=True)
    _, p_fragment, p_pair = fit_fragment_model(fragment_parent, tolerance=0.1)
    assert p_fragment[1] > 0.5
    assert fragment_parent.most_probable_pair(p_pair)[2] == 1  # the pair with peak 0, the GT1
    real_parent = chain(parent_one_is_fragment=False)
    _, p_fragment, p_pair = fit_fragment_model(real_parent, tolerance=0.1)
    assert p_fragment[1] < 0.5
    assert real_parent.most_probable_pair(p_pair)[2] in (1, 2)
    assert real_parent.most_probable_pair(p_pair)[0] == -1  # peak 0 has no possible parent


def test_one_stray_small_volume_does_not_set_the_detection_limit():
    volume = np.geomspace(1e4, 1e7, 300)
    with_stray = DetectionLimit.of(np.append(volume, [50.0, 0.0]))  # and a zero Volume
    assert with_stray.log_limit == pytest.approx(DetectionLimit.of(volume).log_limit, abs=0.05)
    assert np.exp(with_stray.log_limit) > 1e4


def test_the_detection_limit_counts_the_peaks_large_enough_to_leave_a_share():
    limit = DetectionLimit(np.log(10.0), np.log([5.0, 10.0, 100.0, 1000.0, 10000.0]))
    shares = np.log([1.0, 0.1, 0.01, 1e-5])  # the last one no peak could leave: still one
    assert limit.parents_able(shares).tolist() == [4, 3, 2, 1]
    # a fragment of Volume 5 with 5 % of its parent's 100: seen below the limit, so a Volume of
    # 100 can leave that share, and the parent counts itself
    assert limit.parents_able(np.log([0.05]), np.log([5.0])).tolist() == [3]
    assert limit.parents_able(np.log([0.05])).tolist() == [2]


def test_a_run_counts_the_peaks_able_to_leave_each_pairs_share_from_its_volumes():
    """Row 0 (Volume 5) co-elutes with row 1 (Volume 100) among 200 peaks of Volume 10 and 3
    of Volume 1,000: the limit is 10, but row 0 shows that 5 is detected, so Volume 100 is
    enough to leave its 5 % share."""
    volume = np.concatenate([[5.0, 100.0], np.full(200, 10.0), np.full(3, 1000.0)])
    n = len(volume)
    eligible = pd.DataFrame({
        "Name": [f"GM3({30 + i % 20}:{i // 20};O2)" for i in range(n)], "RT": np.arange(n) * 0.5,
        "Volume": volume, "Anchor": False, "prefix": "GM3", "can_have_isomers": False})
    judged = pd.DataFrame({"z": np.zeros(n), "rule1_scale": np.full(n, 0.1),
                           "isomer_series": np.ones(n), "rule1_status": "valid",
                           "_isomers_anchored": False})
    candidates = Candidates(fragment=np.array([0]), parent=np.array([1]),
                            parent_choices=np.array([1]))
    evidence_ = pair_evidence(eligible, np.arange(n), candidates, judged)
    assert np.exp(evidence_.detection.log_limit) == pytest.approx(10.0)
    assert evidence_.parents_able.tolist() == [4]


def two_parents(detection: DetectionLimit) -> PairEvidence:
    """Peak 0 (Volume 5,000) co-elutes alike with a middling parent (peak 1) and a large one
    (peak 2), whose shares lie one log unit either side of the default's typical share."""
    typical = DEFAULT_MODEL.log_ratio_mean
    return PairEvidence(
        fragment=np.array([0, 0]), parent=np.array([10, 11]), parent_participant=np.array([1, 2]),
        rt_diff=np.array([0.003, 0.003]), log_ratio=np.array([typical + 1, typical - 1]),
        parent_choices=np.ones(2), independent=np.array([OFF_LINE, ON_LINE, ON_LINE]) * 0.2,
        trusted=np.zeros(3, dtype=bool), rival=np.full((3, 2), -1),
        rival_misidentified=np.zeros((3, 2)), prefix=np.zeros(3, dtype=int),
        parents_able=detection.parents_able(np.array([typical + 1, typical - 1])),
        detection=detection)


def test_between_parents_whose_shares_are_equally_likely_the_large_one_is_the_parent():
    """Only a large parent leaves a small share above the detection limit, so the learned law
    of detected shares counts it for fewer parents."""
    run = DetectionLimit(np.log(1000.0), np.log(np.geomspace(1000.0, 1e7, 50)))
    _, _, blind = fit_fragment_model(two_parents(NO_LIMIT), tolerance=0.1)
    assert blind[0] == pytest.approx(blind[1])
    evidence_ = two_parents(run)
    _, _, p_pair = fit_fragment_model(evidence_, tolerance=0.1)
    assert evidence_.most_probable_pair(p_pair)[0] == 1  # the pair with the large parent
    able_middling, able_large = evidence_.parents_able
    assert p_pair[1] / p_pair[0] == pytest.approx(able_middling / able_large, rel=0.1)
    assert able_middling > able_large
