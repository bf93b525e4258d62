"""Parallel isomer lines as weighted hypotheses (Rule 1, algorithm 2.1).

Positional isomers (GD1a/GD1b, GT1a/b/c, GQ1b/c, GM1a/b) have one composition and one name in the
peak list, and elute at a fixed distance from one another: peaks of one head group that recur at
one offset from its main line across lipid tails form a parallel line. But misidentified peaks
land anywhere around the line, and a few of them can meet at one offset by chance. Algorithm 2.0
accepted a line from a fixed count of names, so every peak that later landed near it passed as an
isomer. 2.1 weighs each line instead:

* **Anchored lines** (second isomers the lab anchored, in this head group or in another of its
  series: the isomer offset sits in the core, which modifiers do not change) are confirmed.
* **Inferred lines** (only unanchored peaks of the head group itself: a line never travels to
  another head group on unanchored peaks alone) get the posterior probability that they are real
  (``line_probability``): a two-part mixture of the head group's peaks (its main line, or a
  misidentification anywhere within ``MISID_SPAN`` at the run's own error rate) against the same
  mixture with the line, its share of the peaks and its offset unknown (Bayes factor, the share
  integrated over a grid, the offset by a Laplace approximation over the offsets isomer
  chemistry allows: ``ISOMER_RANGE``). The more misidentified peaks a run has, the more names a
  line needs: at a 6 % error rate 4 names in a 40-peak head group make a line of probability
  0.99, 2 names one of about 0.5.
* **Isomer chemistry**: positional isomers differ only in where a sialic acid sits, so a
  positional isomer moves a peak no farther than a whole sialic acid does (``docs/method.md``,
  Isomer lines): ``isomer_range`` is the largest step one sialic acid makes in the run (same
  tail, same modifiers, anchored lines), at least ``ISOMER_RANGE`` (the sample's largest). A
  recurring offset beyond it is no isomer line: its peaks stay outliers, with a note that they
  recur (possibly a co-annotated species).

Every peak is judged by a line without itself: the line's offset and its probability leave the
judged peak out (``LineEvidence``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from .rule1_pooled import densest_line

ISOMER_RANGE = 1.0  # min: the smallest isomer range (the largest sialic-acid step on the sample)
PRIOR_LINE_ODDS = 1.0  # a head group of an isomer series is as likely to show a line as not
LINE_TRUSTED = 0.9  # P(line is real) from which its peaks are valid
SHARE_GRID = 32  # points of the grid the line's share of the peaks is integrated over
MIN_LINE_NAMES = 2  # a line is a recurrence: one peak at an offset is no line


@dataclass(frozen=True)
class LineEvidence:
    """One parallel line of a head group: its offset from the main line, its members (positions
    among the head group's rows: the anchors that place an anchored line, the peaks of an
    inferred one), each member's view of the line without itself (offset and probability), the
    line's probability from all members, and how many peaks support it (an anchored line: its
    anchors in the whole series)."""

    offset: float
    members: np.ndarray
    loo_offset: np.ndarray
    loo_probability: np.ndarray
    probability: float
    support: int
    anchored: bool = False

    def offsets(self, n_rows: int) -> np.ndarray:
        """The line's offset as each row of the head group sees it (its members without
        themselves)."""
        offset = np.full(n_rows, self.offset)
        offset[self.members] = self.loo_offset
        return offset

    def probabilities(self, n_rows: int) -> np.ndarray:
        """P(the line is real) as each row sees it."""
        probability = np.full(n_rows, self.probability)
        probability[self.members] = self.loo_probability
        return probability

    def supports(self, n_rows: int) -> np.ndarray:
        """How many peaks place the line as each row sees it."""
        support = np.full(n_rows, self.support)
        support[self.members] -= 1
        return support


def windows(offsets: np.ndarray, names: np.ndarray, width: float,
            min_names: int = MIN_LINE_NAMES) -> Iterator[np.ndarray]:
    """Groups of offsets that recur within ±``width`` across at least ``min_names`` distinct
    names (non-negative codes), densest first, each offset in at most one group: the offsets
    within ±width of the line that the most names agree on (``densest_line``). A generator, so
    a caller that needs the first few groups sorts the offsets only that often."""
    remaining = np.arange(len(offsets))
    while len(remaining) >= min_names:
        centre = densest_line(offsets[remaining], names[remaining], width, prior=0.0)
        inside = np.abs(offsets[remaining] - centre) <= width
        if len(np.unique(names[remaining[inside]])) < min_names:
            return
        yield remaining[inside]
        remaining = remaining[~inside]


def line_probability(base: np.ndarray, main: np.ndarray, line: np.ndarray, members: np.ndarray,
                     main_share: float, sigma: float, isomer_range: float
                     ) -> tuple[float, np.ndarray]:
    """P(the line is real) from all its members, and for each member without it.

    ``base`` is each peak's density under the head group's mixture without the line (main line,
    confirmed lines, misidentification); ``main`` and ``line`` the densities of the main line and
    of the line at each peak; ``members`` the positions of the line's members. The line takes a
    share ρ of the peaks from the main line's ``main_share``: uniform over (0, main_share),
    integrated on a grid. Its offset is uniform over ±``isomer_range`` and known to σ/√k from
    its k members (Laplace approximation).
    """
    shares = main_share * (np.arange(SHARE_GRID) + 0.5) / SHARE_GRID
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.log1p(np.clip(shares[None, :] * ((line - main) / base)[:, None], -1 + 1e-12,
                                 None))
    total = terms.sum(axis=0)
    k = len(members)
    full = _posterior(total[None, :], np.array([k]), sigma, isomer_range)[0]
    loo = _posterior(total[None, :] - terms[members], np.full(k, k - 1), sigma, isomer_range)
    return float(full), loo


def _posterior(log_ratio: np.ndarray, k: np.ndarray, sigma: float, isomer_range: float
               ) -> np.ndarray:
    """P(line) per row of ``log_ratio`` (log likelihood ratio at each share of the grid) with
    ``k`` members: the share averaged out, the offset's Occam factor, the prior odds."""
    averaged = logsumexp(log_ratio, axis=1) - np.log(SHARE_GRID)
    with np.errstate(divide="ignore"):
        occam = np.log(np.sqrt(2 * np.pi) * sigma / np.sqrt(k) / (2 * isomer_range))
    log_odds = np.where(k >= 1, averaged + occam + np.log(PRIOR_LINE_ODDS), -np.inf)
    return 1 / (1 + np.exp(-np.clip(log_odds, -700, 700)))


def loo_offsets(residual: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Each member's view of the line's offset: the mean residual of the other members."""
    total = residual[members].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total - residual[members]) / (len(members) - 1)
