"""bench/fragment_law.py: the fit that sets the demo's fragment law recovers a known law."""

from __future__ import annotations

import numpy as np
import pytest

from bench.fragment_law import coeluting_pairs, fit, rt_laws
from ganglioside.demo import FRAGMENT_LOG_SHARE, FRAGMENT_RT_SCALE, make_demo_table


def test_the_laplace_fit_recovers_the_demo_fragment_law_from_all_candidate_parents(tmp_path):
    """Demo peaks often have several possible parents; the fit must not take the largest one
    for the parent (which biased it towards wide co-elution and small shares)."""
    path = tmp_path / "demo.csv"
    make_demo_table(2000, seed=1).to_csv(path, index=False)
    pairs = coeluting_pairs(path)
    assert np.bincount(pairs.peak).max() > 1  # some peaks have several candidates
    rt_law, start = rt_laws()["laplace"]
    p, _ = fit(pairs, rt_law, start)
    assert np.exp(p[0]) == pytest.approx(FRAGMENT_RT_SCALE, rel=0.3)
    assert p[2] == pytest.approx(FRAGMENT_LOG_SHARE[0], abs=0.3)
