"""Rule 1, algorithm 2.0: the pieces that place lines and set the scale."""

from __future__ import annotations

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
