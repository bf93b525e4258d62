"""Rule 1, algorithm 2.0: the pieces that place lines and set the scale."""

from __future__ import annotations

import numpy as np
import pytest

from ganglioside.rule1_pooled import anchor_isomer_rank, robust_scale


def test_each_names_anchors_are_ranked_by_rt_and_other_peaks_rank_first():
    anchor = np.array([True, True, False, True, True, True])
    rt = np.array([9.6, 9.1, 8.0, 7.5, 12.0, 10.0])
    name = np.array([0, 0, 0, 1, 2, 2])
    assert anchor_isomer_rank(anchor, rt, name).tolist() == [1, 0, 0, 0, 1, 0]


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
