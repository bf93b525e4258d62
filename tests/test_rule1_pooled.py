"""Rule 1, algorithm 2.0: the pieces that place lines and set the scale."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ganglioside.rules.rule1_pooled import anchor_isomer_rank, densest_line, robust_scale


def test_each_names_anchors_are_ranked_by_rt_and_other_peaks_rank_first():
    anchor = np.array([True, True, False, True, True, True, True])
    rt = np.array([9.6, 9.1, 8.0, 7.5, 12.0, 10.0, 11.0])
    name = np.array([0, 0, 0, 1, 2, 2, 2])
    assert anchor_isomer_rank(anchor, rt, name, 0.1).tolist() == [1, 0, 0, 0, 2, 0, 1]


def test_anchors_of_one_name_within_the_coelution_window_are_one_compound():
    anchor = np.ones(4, dtype=bool)
    rt = np.array([9.1, 9.15, 9.6, 9.68])
    assert anchor_isomer_rank(anchor, rt, np.zeros(4, int), 0.1).tolist() == [0, 0, 1, 1]


def test_the_scale_follows_the_residuals_that_fit_and_ignores_a_few_that_do_not():
    residual = np.random.default_rng(0).normal(0, 0.1, 40)
    plain = float(np.sqrt(np.mean(residual ** 2)))
    assert robust_scale(residual) == pytest.approx(plain, rel=0.1)
    disagreeing = np.append(residual, [1.2, -1.2])
    assert robust_scale(disagreeing) == pytest.approx(plain, rel=0.1)
    assert float(np.sqrt(np.mean(disagreeing ** 2))) > 2.5 * plain


def test_no_residual_means_no_scale():
    assert robust_scale(np.empty(0)) == 0.0
    assert robust_scale(np.zeros(3)) == 0.0


def test_the_densest_line_needs_no_more_bins_than_a_thousandth_of_a_minute_gives():
    """A zero scale floor with anchors exactly on their lines gives a scale of about 1e-15 min:
    binning at that width would ask for petabytes."""
    u = np.array([1.0, 1.0005, 3.0, 9.0])
    assert densest_line(u, np.array([0, 1, 2, 3]), 1e-15, prior=0.0) == pytest.approx(1.00025)


def _densest_line_by_definition(u, tails, width, prior):
    """The docstring's definition spelled out naively: every (bin, tail) of the five-bin windows,
    distinct rows by ``np.unique``, support counted per candidate bin."""
    half = max(width / 2, 1e-3)
    bins = np.floor(u / half)
    spread = np.concatenate([bins + k for k in range(-2, 3)])
    pairs = np.unique(np.column_stack([spread, np.tile(tails, 5)]), axis=0)
    candidates, support = np.unique(pairs[:, 0], return_counts=True)
    best = candidates[support == support.max()]
    centre = best[np.argmin(np.abs((best + 0.5) * half - prior))]
    return float(np.median(u[np.abs(bins - centre) <= 2]))


@pytest.mark.parametrize("seed", range(4))
def test_the_densest_line_is_the_one_its_definition_gives(seed):
    """Offsets at every scale (ties, repeated names, far values), against the naive version."""
    rng = np.random.default_rng(seed)
    for case in range(100):
        n = int(rng.integers(1, 300))
        u = rng.normal(0, [0.01, 1.0, 100.0, 1e18][case % 4], n)
        if case % 3 == 0:
            u = np.round(u, 1)  # many peaks in one bin
        tails = rng.integers(0, max(1, n // int(rng.integers(1, 10))), n)
        width, prior = float(rng.choice([1e-15, 0.1, 0.5, 2.0])), float(rng.normal())
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an empty window's median is NaN
            expected = _densest_line_by_definition(u, tails, width, prior)
            assert densest_line(u, tails, width, prior) == pytest.approx(expected, nan_ok=True,
                                                                        rel=0, abs=0)
