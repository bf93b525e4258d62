"""Rule 1, algorithm 2.1: lines that a few wrong peaks cannot move, and no peak judging itself.

2.1 keeps 2.0's levels (``prefix``, ``pooled``, ``self``, ``composition``: what a head group's
main line rests on) and changes how every line is fitted and how a peak is judged by it:

* **One fit per head group, leave-one-out.** A head group's main line RT = a + b·(Log P − c) is a
  Bayesian line fit: b has the run's shared slope as its prior (``SLOPE_PRIOR_SD``: the sample's
  own models have slopes within 1.28-1.42 min per Log P unit), a is flat, or, for a head group
  without anchors, has the offset its composition predicts as prior. Its data are the anchors
  (weight 1) and its own peaks weighted by how likely they sit on the main line. A peak is judged
  by the same fit without itself: for a linear fit with fixed weights the leave-one-out residual
  is r / (1 − h) and the line's variance q / (1 − h) (h the peak's leverage), so this costs
  nothing per peak. z = r_loo / √(σ² + q_loo): a line known only roughly widens its own band.
* **Too few other points: unverified.** A peak is judged only when the line rests on something
  besides itself: an anchor, its head group's own peaks in at least ``SELF_MIN_TAILS`` other
  lipid tails, or a composition prediction. An anchor with nothing else to compare stays
  ``valid`` as a trusted identification, and says so (``rule1_basis`` ``anchor only``).
* **Robust.** The shared slope is refitted with each anchor weighted by how well it fits (the
  two-part residual model of ``rule1_pooled``), the pooled scale is the mixture scale of the
  anchors' leave-one-out residuals, and a head group's own peaks count by their probability of
  being on the line (expectation-maximisation with the isomer lines and a misidentification
  anywhere within ``MISID_SPAN`` at the run's own error rate): a few misplaced peaks move
  neither the lines nor the scale of the rest.
* **A head group's scale** is the pooled scale, widened where its own anchors scatter: σ² is
  the mean of ``SCALE_PRIOR_WEIGHT`` pooled scales² and the anchors' squared leave-one-out
  residuals (GD2's two anchors, 1.2 min apart on the sample, widen its band to about 0.7 min).
* **No anchors, no verdict.** The shared slope and the scale come from anchors; a run without
  enough of them (no head group with two) leaves every peak ``unverified``, as the Analyze page
  says.
* **Isomer lines are weighted hypotheses** (``isomer_lines``).

Each row reports what its verdict rests on (``rule1_basis``, ``BASES``) and, for the final
verdict (``status``), the probability that its identification is correct given its RT
(``_p_correct``) and the density of its RT as a peak of its own (``_rt_density``, Rule 5's).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.stats import poisson

from ..formatting import fixed3, signed3
from ..params import AnalysisParams
from ..result import AnalysisWarning
from .grouping import pick, positions_by
from .isomer_lines import (ISOMER_RANGE, LINE_TRUSTED, LineEvidence, line_probability,
                           loo_offsets, windows)
from .rule1_pooled import (ISOMER_SERIES, JUDGED_COLUMNS, MAX_PARALLEL_LINES, MIN_SCALE,
                           MISID_SPAN, PRIOR_CORRECT, REFIT_MIN_SPAN, REPLACED_WARNINGS,
                           SERIES_MIN_TAILS, LevelMetrics, PrefixRows, composition_model,
                           joined, cv_metrics, scattered_anchor_warnings, self_level_metrics,
                           warnings_v2, composition_features, densest_line, normal_density,
                           p_correct, scale_and_share, with_group_counts)

SLOPE_PRIOR_SD = 0.05  # min per Log P unit: how far a head group's slope strays from the shared
SCALE_PRIOR_WEIGHT = 4.0  # pooled scales a head group's anchors are weighed against
MIN_SCALE_RESIDUALS = 3  # leave-one-out anchor residuals the pooled scale needs
SELF_MIN_TAILS = 2.0  # other lipid tails a line of a head group's own peaks needs
ERROR_PRIOR_PEAKS = 20.0  # the run's error rate is pooled with this many peaks at 1 - prior
ROBUST_ROUNDS = 20
EM_ROUNDS = 30
SETTLED = 1e-4
MIN_MAIN_SHARE = 0.05
RECURRING_CHANCE = 1e-3  # how rarely chance alone may put that many outliers in one band
FLAT_PRECISION = 1e-6  # min^-2: a flat offset prior (SD 1,000 min), invertible without data

BASES = {
    "anchored line": "its head group's line, placed by anchors",
    "anchored isomer line": "a parallel line placed by anchored isomers (its head group's or "
                            "its series')",
    "line of its own peaks": "no anchors: the line its head group's other peaks agree on",
    "inferred isomer line": "a parallel line its head group's other peaks show, well supported",
    "weak isomer line": "a parallel line its head group's other peaks show, weakly supported",
    "composition only": "no model of its own: the RT its composition predicts",
    "anchor only": "an anchor with nothing else to compare it with",
    "none": "no RT evidence",
}
"""``rule1_basis``: what each row's Rule 1 verdict rests on (an outlier: the line it is off)."""
MAIN_BASIS = {"prefix": "anchored line", "pooled": "anchored line",
              "self": "line of its own peaks", "composition": "composition only"}


# ---------------------------------------------------------------- the run's slope and scale


@dataclass(frozen=True)
class RunContext:
    """What every head group is judged with: shared slope, scale, composition priors, the run's
    share of misidentified peaks, and the honest figures of each level."""

    slope: float
    slope_sd: float  # prior SD of a head group's slope: strays plus the shared slope's error
    scale: float
    priors: dict[str, float]
    composition_rmse: float
    metrics: dict[str, LevelMetrics]
    usable: bool  # enough anchors for a slope and a scale
    error_rate: float = 1 - PRIOR_CORRECT
    series_offsets: dict = field(default_factory=dict)  # (series, rank) -> per-prefix sums
    isomer_range: float = ISOMER_RANGE


def robust_slope(anchors: PrefixRows, n_prefixes: int
                 ) -> tuple[float, float, float, np.ndarray]:
    """Shared slope, its variance, the pooled scale and the anchors' leave-one-out residuals.

    Iteratively reweighted: each anchor weighs by P(correct | its residual from its head group's
    other anchors) under the two-part model, so a misplaced anchor neither tilts the slope nor
    widens the scale. Residuals of anchors alone in their head group are NaN."""
    weight = np.ones(len(anchors.rt))
    slope = scale = 0.0
    residual = np.full(len(anchors.rt), np.nan)
    spread = 0.0
    for _ in range(ROBUST_ROUNDS):
        slope, spread = _within_slope(anchors, weight, n_prefixes)
        residual = _loo_residuals(anchors, slope, weight, n_prefixes)
        known = ~np.isnan(residual)
        scale, share = scale_and_share(residual[known])
        if scale <= 0:
            break
        updated = np.ones(len(weight))
        updated[known] = p_correct(residual[known] / scale, scale, share)
        if np.max(np.abs(updated - weight), initial=0.0) < SETTLED:
            break
        weight = updated
    variance = scale ** 2 / spread if spread > 0 else np.inf
    return slope, variance, scale, residual


def _within_slope(anchors: PrefixRows, weight: np.ndarray, n_prefixes: int
                  ) -> tuple[float, float]:
    """Weighted least-squares slope with one offset per head group, and Σ w (x − x̄)²."""
    x = anchors.log_p - _weighted_means(anchors.prefix, anchors.log_p, weight, n_prefixes)
    y = anchors.rt - _weighted_means(anchors.prefix, anchors.rt, weight, n_prefixes)
    spread = float(weight @ (x * x))
    return (float(weight @ (x * y)) / spread if spread > 0 else 0.0), spread


def _weighted_means(code, values, weight, n_groups) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.bincount(code, weight * values, n_groups) / np.bincount(code, weight, n_groups)
    return np.nan_to_num(means)[code]


def _loo_residuals(anchors: PrefixRows, slope, weight, n_prefixes) -> np.ndarray:
    """Each anchor's RT minus its head group's line through the other anchors (weighted)."""
    u = anchors.rt - slope * anchors.log_p
    total = np.bincount(anchors.prefix, weight * u, n_prefixes)[anchors.prefix]
    others = np.bincount(anchors.prefix, weight, n_prefixes)[anchors.prefix] - weight
    count = np.bincount(anchors.prefix, minlength=n_prefixes)[anchors.prefix]
    with np.errstate(invalid="ignore", divide="ignore"):
        residual = u - (total - weight * u) / others
    return np.where((count >= 2) & (others > 1e-9), residual, np.nan)


def build_run_context(eligible: pd.DataFrame, rows: PrefixRows, groups, modifier_counts,
                      params: AnalysisParams) -> RunContext:
    """Fit the shared slope, the pooled scale and the composition offsets on the anchors."""
    anchors = rows.take(np.flatnonzero(rows.line_anchor))
    slope, slope_var, scale, residual = robust_slope(anchors, len(groups))
    known = residual[~np.isnan(residual)]
    usable = len(known) >= MIN_SCALE_RESIDUALS and np.isfinite(slope_var)
    scale = max(scale, params.rt_sd_floor, MIN_SCALE)
    features, composable = composition_features(
        eligible, np.array([at[0] for _, at in groups], dtype=np.intp), modifier_counts)
    n_anchors = np.bincount(anchors.prefix, minlength=len(groups))
    coef, composition = composition_model(features, np.flatnonzero(composable & (n_anchors > 0)),
                                           n_anchors, anchors, slope)
    priors = {} if coef is None or not usable else {
        groups[i][0]: float(features[i] @ coef) for i in np.flatnonzero(composable)}
    anchored = [group for group, count in zip(groups, n_anchors) if count > 0]
    metrics = {"pooled": cv_metrics("pooled", anchors.rt[~np.isnan(residual)], known),
               "composition": composition,
               "self": self_level_metrics(rows, anchored, slope, scale)}
    return RunContext(slope, float(np.sqrt(SLOPE_PRIOR_SD ** 2 + slope_var)), scale, priors,
                      composition.rmse_cv, metrics, bool(usable))


# ---------------------------------------------------------------- a head group's main line


@dataclass(frozen=True)
class LineFit:
    """A Bayesian straight line RT = a + b·(Log P − centre): its posterior mean (a, b) and
    covariance (min², min²/Log P unit...), the scale σ of one peak around it, and the weights
    it was fitted with."""

    coef: np.ndarray
    cov: np.ndarray
    centre: float
    sigma: float
    weight: np.ndarray

    def predicted(self, log_p: np.ndarray) -> np.ndarray:
        return self.coef[0] + self.coef[1] * (log_p - self.centre)

    def variance(self, log_p: np.ndarray) -> np.ndarray:
        """Variance of the line itself at ``log_p`` (not of a peak around it)."""
        dx = log_p - self.centre
        return self.cov[0, 0] + 2 * self.cov[0, 1] * dx + self.cov[1, 1] * dx * dx

    def left_out(self, rt: np.ndarray, log_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's residual from the line fitted without it, and that line's variance at it:
        r / (1 − h) and q / (1 − h), h = w·q/σ² (exact for fixed weights and known σ); NaN
        where the row was the line's only data."""
        q = self.variance(log_p)
        keep = 1 - self.weight * q / self.sigma ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            usable = keep > 1e-9
            residual = np.where(usable, (rt - self.predicted(log_p)) / keep, np.nan)
            return residual, np.where(usable, q / keep, np.nan)


@dataclass(frozen=True)
class LinePrior:
    """Prior of a head group's line: slope around the shared one; offset (at the centre) from
    its composition, or flat."""

    slope: float
    slope_sd: float
    offset: float = 0.0
    offset_sd: float = np.inf


def fit_line(rt, log_p, weight, sigma: float, prior: LinePrior, centre: float) -> LineFit:
    """Posterior of (a, b) for data weighted by ``weight`` with noise σ, and the prior."""
    dx = log_p - centre
    precision = np.array([[weight.sum(), weight @ dx], [weight @ dx, weight @ (dx * dx)]])
    precision /= sigma ** 2
    rhs = np.array([weight @ rt, weight @ (dx * rt)]) / sigma ** 2
    prior_precision = np.array([FLAT_PRECISION if np.isinf(prior.offset_sd)
                                else prior.offset_sd ** -2, prior.slope_sd ** -2])
    precision += np.diag(prior_precision)
    rhs += prior_precision * np.array([prior.offset, prior.slope])
    cov = np.linalg.inv(precision)
    return LineFit(cov @ rhs, cov, centre, sigma, weight)


@dataclass
class PrefixJudge:
    """The evidence one head group is judged with: its rows, its main line and level, its
    parallel lines (anchored ones first) and the run's error rate."""

    rows: PrefixRows
    level: str
    fit: LineFit
    member: np.ndarray  # non-anchor peaks that may shape lines (no possible Rule 5 parent)
    error_rate: float
    threshold: float
    lines: list[LineEvidence] = field(default_factory=list)
    spread: float = np.nan  # SD of the anchors' leave-one-out residuals
    has_prior: bool = False
    isomer_capable: bool = False
    isomer_range: float = ISOMER_RANGE

    @property
    def width(self) -> float:
        """Half-width of a line's band: ``outlier_threshold`` scales."""
        return self.threshold * self.fit.sigma

    def line_share(self, line: LineEvidence, residual: np.ndarray) -> float:
        """The share of the head group's peaks on a parallel line: an inferred line's members
        among its peaks; for an anchored line, its own anchors and the peaks in its band (one
        more of each, so a line no peak of this head group shows keeps a small share)."""
        n_member = int(self.member.sum())
        if not line.anchored:
            return len(line.members) / max(n_member, 1)
        near = int((self.member & (np.abs(residual - line.offset) <= self.width)).sum())
        return (len(line.members) + near + 1) / (n_member + len(line.members) + 2)

    def components(self, residual: np.ndarray, line_var: np.ndarray) -> dict[str, np.ndarray]:
        """Densities (per min) of each row's residual from the main line: on the main line, on
        a parallel line that is real, and in all (a misidentification anywhere within
        ``MISID_SPAN`` at the run's error rate, or on a line that is not real): the total is the
        density of the RT of a peak of its own. Parallel lines are seen without the row."""
        n_rows, sigma2 = len(residual), self.fit.sigma ** 2
        shares = [self.line_share(line, residual) for line in self.lines]
        main_share = max(1 - self.error_rate - sum(shares), MIN_MAIN_SHARE)
        main = main_share * normal_density(residual, 0.0, np.sqrt(sigma2 + line_var))
        real = np.zeros(n_rows)
        doubtful = np.zeros(n_rows)
        for line, share in zip(self.lines, shares):
            spread = np.sqrt(sigma2 * (1 + 1 / np.maximum(line.supports(n_rows), 1)) + line_var)
            probability = line.probabilities(n_rows)
            real += probability * share * normal_density(residual, line.offsets(n_rows), spread)
            doubtful += (1 - probability) * share / MISID_SPAN
        total = main + real + doubtful + self.error_rate / MISID_SPAN
        return {"main": main, "lines": real, "total": total, "main_share": main_share}


def judge_level(rows: PrefixRows, prior_offset: float | None, ctx: RunContext,
                params: AnalysisParams) -> str | None:
    """The level a head group is judged at (what its main line rests on), or None."""
    if not ctx.usable:
        return None
    line_anchor = rows.line_anchor
    if line_anchor.sum() >= params.min_anchors and np.ptp(rows.log_p[line_anchor]) >= (
            REFIT_MIN_SPAN):
        return "prefix"
    if line_anchor.any():
        return "pooled"
    member = rows.shaping & ~rows.anchor
    if len(np.unique(rows.tail[member])) >= SELF_MIN_TAILS:
        return "self"
    return "composition" if prior_offset is not None else None


def main_line(rows: PrefixRows, level: str, prior_offset: float | None, ctx: RunContext,
              params: AnalysisParams, series: dict[int, tuple[float, int]]) -> PrefixJudge:
    """A head group's main line by expectation-maximisation: the anchors weigh 1, its own peaks
    their probability of sitting on it (against its anchored parallel lines and a
    misidentification anywhere within ``MISID_SPAN`` at the run's error rate). ``series`` gives
    per isomer rank the offset sum and count of the anchored isomers of its series' other head
    groups."""
    member = rows.shaping & ~rows.anchor
    centre = float(np.mean(rows.log_p))
    prior = LinePrior(ctx.slope, ctx.slope_sd)
    with_prior = prior_offset is not None and not rows.line_anchor.any()
    if with_prior:
        prior = LinePrior(ctx.slope, ctx.slope_sd, prior_offset + ctx.slope * centre,
                          ctx.composition_rmse)
    weight = _starting_weights(rows, member, prior_offset, ctx, params)
    sigma = ctx.scale
    judge = None
    for _ in range(EM_ROUNDS):
        fit = fit_line(rows.rt, rows.log_p, weight, sigma, prior, centre)
        updated_sigma, spread = _prefix_scale(rows, fit, ctx.scale)
        judge = PrefixJudge(rows, level, fit, member, ctx.error_rate, params.outlier_threshold,
                            spread=spread, has_prior=with_prior)
        judge.lines = anchored_lines(judge, series, params.outlier_threshold * ctx.scale)
        parts = judge.components(rows.rt - fit.predicted(rows.log_p), fit.variance(rows.log_p))
        updated = np.where(rows.line_anchor, 1.0,
                           np.where(member, parts["main"] / parts["total"], 0.0))
        if (np.max(np.abs(updated - weight), initial=0.0) < SETTLED
                and abs(updated_sigma - sigma) < SETTLED):
            break
        weight, sigma = updated, updated_sigma
    return judge


def _starting_weights(rows, member, prior_offset, ctx, params) -> np.ndarray:
    """Anchors place the first line; without them, the own peaks in the band of the offset most
    tails agree on (ties: nearest the composition prediction)."""
    weight = rows.line_anchor.astype(float)
    if rows.line_anchor.any() or not member.any():
        return weight
    u = rows.rt - ctx.slope * rows.log_p
    offset = densest_line(u[member], rows.tail[member], 2 * ctx.scale,
                          prior_offset if prior_offset is not None else float(
                              np.median(u[member])))
    return np.where(member & (np.abs(u - offset) <= params.outlier_threshold * ctx.scale),
                    1.0, weight)


def _prefix_scale(rows: PrefixRows, fit: LineFit, pooled: float) -> tuple[float, float]:
    """σ of one peak around the head group's line: the pooled scale, widened by its anchors'
    leave-one-out scatter; and that scatter (root mean square, NaN for fewer than 2)."""
    residual = fit.left_out(rows.rt, rows.log_p)[0][rows.line_anchor]
    residual = residual[~np.isnan(residual)]
    if len(residual) < 2:
        return pooled, np.nan
    variance = (SCALE_PRIOR_WEIGHT * pooled ** 2 + float(residual @ residual)) / (
        SCALE_PRIOR_WEIGHT + len(residual))
    return float(np.sqrt(variance)), float(np.sqrt(np.mean(residual ** 2)))


def anchored_lines(judge: PrefixJudge, series: dict[int, tuple[float, int]], band: float
                   ) -> list[LineEvidence]:
    """The parallel lines that anchored isomers place: per isomer rank (second, third, ...
    anchored peak of a name) the mean offset of this head group's anchors of that rank and of
    its series' other head groups'; each of its own such anchors sees it without itself. A line
    within ``band`` of the main line is the main line."""
    rows, fit = judge.rows, judge.fit
    residual = rows.rt - fit.predicted(rows.log_p)
    lines = []
    for rank in range(1, max(int(rows.isomer_rank.max(initial=0)), max(series, default=0)) + 1):
        members = np.flatnonzero(rows.isomer_rank == rank)
        other_sum, other_n = series.get(rank, (0.0, 0))
        total, count = float(residual[members].sum()) + other_sum, len(members) + other_n
        if count == 0 or abs(total / count) <= band:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            loo = (total - residual[members]) / (count - 1)
        lines.append(LineEvidence(total / count, members, loo, np.ones(len(members)), 1.0,
                                  count, anchored=True))
    return lines[:MAX_PARALLEL_LINES]


# ---------------------------------------------------------------- inferred isomer lines


def infer_lines(judge: PrefixJudge) -> list[LineEvidence]:
    """Parallel lines of the head group's own unanchored peaks off its main and anchored lines,
    within the isomer range, each with its probability (``isomer_lines``)."""
    rows, fit = judge.rows, judge.fit
    residual = rows.rt - fit.predicted(rows.log_p)
    line_var = fit.variance(rows.log_p)
    lines = []
    while len(judge.lines) + len(lines) < MAX_PARALLEL_LINES:
        candidate = _next_line(judge, residual, line_var, lines)
        if candidate is None:
            break
        lines.append(candidate)
    return lines


def _next_line(judge, residual, line_var, accepted) -> LineEvidence | None:
    """The densest recurring offset within the isomer range among the peaks off the main line,
    off every anchored line and on no line found so far, weighed."""
    current = PrefixJudge(judge.rows, judge.level, judge.fit, judge.member, judge.error_rate,
                          judge.threshold, [*judge.lines, *accepted])
    parts = current.components(residual, line_var)
    off = judge.member & ((parts["main"] + parts["lines"]) < 0.5 * parts["total"])
    off &= np.abs(residual) <= judge.isomer_range + judge.width
    for line in accepted:
        off[line.members] = False
    at = np.flatnonzero(off)
    for group in windows(residual[at], judge.rows.name[at], judge.width):
        members = at[group]
        offset = float(np.mean(residual[members]))
        if abs(offset) <= judge.isomer_range:
            return _weighed_line(judge, parts, residual, line_var, members, offset)
    return None


def _weighed_line(judge, parts, residual, line_var, members, offset) -> LineEvidence:
    """An inferred line at ``offset`` with its probability, from all members and without each."""
    peaks = np.flatnonzero(judge.member)
    sd = np.sqrt(judge.fit.sigma ** 2 + line_var[peaks])
    probability, loo = line_probability(
        parts["total"][peaks], normal_density(residual[peaks], 0.0, sd),
        normal_density(residual[peaks], offset, sd), np.searchsorted(peaks, members),
        parts["main_share"], judge.fit.sigma, judge.isomer_range)
    return LineEvidence(offset, members, loo_offsets(residual, members), loo, probability,
                        len(members))


def recurring_offsets(judge: PrefixJudge, residual: np.ndarray, off: np.ndarray
                      ) -> np.ndarray:
    """Per row the offset of a recurring group it belongs to (NaN for none): off-line peaks
    that recur at one offset across ``SERIES_MIN_TAILS`` lipid tails, more names than these
    peaks, spread over ``MISID_SPAN``, would put in one band by chance (Poisson, below
    ``RECURRING_CHANCE``), but make no isomer line (beyond the isomer range, or in a series
    without isomers): possibly a co-annotated species."""
    at = np.flatnonzero(off)
    offsets = np.full(len(residual), np.nan)
    by_chance = len(at) * 2 * judge.width / MISID_SPAN
    needed = max(SERIES_MIN_TAILS, int(poisson.isf(RECURRING_CHANCE, by_chance)) + 1)
    for group in windows(residual[at], judge.rows.name[at], judge.width, needed):
        members = at[group]
        if len(np.unique(judge.rows.tail[members])) >= SERIES_MIN_TAILS:
            offsets[members] = float(np.median(residual[members]))
    return offsets


# ---------------------------------------------------------------- verdicts of one head group


def supported(judge: PrefixJudge) -> np.ndarray:
    """Rows whose main line rests on something besides themselves: another anchor, the head
    group's own peaks in ``SELF_MIN_TAILS`` other lipid tails (a tail counts when its peaks
    are more likely on the line than not: their weights sum to 0.5 or more), or a composition
    prediction."""
    rows = judge.rows
    other_anchors = int(rows.line_anchor.sum()) - rows.line_anchor
    weight = np.where(judge.member, judge.fit.weight, 0.0)
    per_tail = np.bincount(rows.tail, weight)
    own = (per_tail[rows.tail] >= 0.5) & (per_tail[rows.tail] - weight < 0.5)
    other_tails = int((per_tail >= 0.5).sum()) - own
    return (other_anchors >= 1) | (other_tails >= SELF_MIN_TAILS) | judge.has_prior


def verdict_columns(judge: PrefixJudge, prefix: str, ctx: RunContext, params: AnalysisParams
                    ) -> dict[str, np.ndarray]:
    """Every Rule 1 column of one head group's rows, each judged without itself."""
    rows, fit = judge.rows, judge.fit
    n_rows = len(rows.rt)
    residual, line_var = fit.left_out(rows.rt, rows.log_p)
    offsets = np.column_stack([np.zeros(n_rows), *(line.offsets(n_rows) for line in judge.lines)])
    spread = np.column_stack([np.sqrt(fit.sigma ** 2 + line_var), *(
        np.sqrt(fit.sigma ** 2 * (1 + 1 / np.maximum(line.supports(n_rows), 1)) + line_var)
        for line in judge.lines)])
    z_all = (residual[:, None] - offsets) / spread
    nearest = _nearest_line(judge, z_all)
    pick_at = (np.arange(n_rows), nearest)
    z = z_all[pick_at]
    judged = supported(judge) & np.isfinite(z)
    outlier = judged & (np.abs(z) >= params.outlier_threshold)
    parts = judge.components(residual, line_var)
    probability = np.full(n_rows, np.nan)
    for k, line in enumerate(judge.lines, start=1):
        on_it = nearest == k
        probability[on_it] = line.probabilities(n_rows)[on_it]
    off = judge.member & outlier
    recurring = recurring_offsets(judge, residual, off & ~_isomer_range(judge, residual))
    basis = _basis(judge, judged, outlier, nearest, probability)
    out = {
        "rule1_status": np.where(judged, pick(outlier, "outlier", "valid"),
                                 pick(rows.anchor, "valid", "unverified")),
        "rule1_model": np.full(n_rows, judge.level, dtype=object),
        "rule1_model_n": np.full(n_rows, _model_n(judge), dtype=np.int64),
        "rule1_model_r2_cv": np.full(n_rows, ctx.metrics[judge.level].r2_cv, dtype=float),
        "predicted_rt": np.where(judged, rows.rt - residual + offsets[pick_at], np.nan),
        "residual": np.where(judged, residual - offsets[pick_at], np.nan),
        "z": np.where(judged, z, np.nan),
        "rule1_scale": np.where(judged, spread[pick_at], np.nan),
        "isomer_series": np.where(judged & ~outlier, nearest + 1, np.nan),
        "anchor_disagrees": outlier & rows.anchor,
        "rule1_series_offset": np.where(judged & ~outlier & (nearest > 0), offsets[pick_at],
                                        np.where(outlier, recurring, np.nan)),
        "_isomers_anchored": np.full(n_rows, any(line.anchored and len(line.members)
                                                 for line in judge.lines)),
        "rule1_basis": basis,
        "isomer_line_probability": np.where(judged & ~outlier, probability, np.nan),
        "_p_correct": np.where(judged, (parts["main"] + parts["lines"]) / parts["total"],
                               np.nan),
        "_rt_density": np.where(judged, parts["total"], 1 / MISID_SPAN),
    }
    out["_rule1_note"] = _notes(judge, prefix, out, nearest, recurring, params)
    return out


def _nearest_line(judge: PrefixJudge, z_all: np.ndarray) -> np.ndarray:
    """Per row the line it is judged against (0 is the main line): an anchored later isomer its
    own rank's line; a peak in the main line's band the main line (a parallel line only
    explains peaks off it); any other the nearest line."""
    with np.errstate(invalid="ignore"):
        distance = np.where(np.isnan(z_all), np.inf, np.abs(z_all))
    nearest = np.where(distance[:, 0] < judge.threshold, 0, np.argmin(distance, axis=1))
    for k, line in enumerate(judge.lines, start=1):
        if line.anchored:
            nearest[line.members] = k
    return nearest


def _isomer_range(judge: PrefixJudge, residual: np.ndarray) -> np.ndarray:
    """Rows whose offset from the main line an inferred isomer line of this head group could
    have (none outside an isomer series)."""
    if not judge.isomer_capable:
        return np.zeros(len(residual), dtype=bool)
    return np.abs(residual) <= judge.isomer_range + judge.width


def _basis(judge: PrefixJudge, judged, outlier, nearest, probability) -> np.ndarray:
    """``rule1_basis`` of each row (``BASES``)."""
    main = MAIN_BASIS[judge.level]
    kinds = np.array([main, *("anchored isomer line" if line.anchored else "inferred isomer line"
                              for line in judge.lines)], dtype=object)
    basis = kinds[np.where(outlier, 0, nearest)]
    weak = ~outlier & (nearest > 0) & (probability < LINE_TRUSTED)
    basis[weak] = "weak isomer line"
    basis[~judged] = pick(judge.rows.anchor, "anchor only", "none")[~judged]
    return basis


def _model_n(judge: PrefixJudge) -> int:
    """The number of points the main line rests on: anchors, or the head group's own peaks."""
    anchors = int(judge.rows.line_anchor.sum())
    return anchors if anchors else int(round(float(judge.fit.weight[judge.member].sum())))


def _notes(judge: PrefixJudge, prefix: str, out: dict, nearest: np.ndarray,
           recurring: np.ndarray, params: AnalysisParams) -> np.ndarray:
    """The Rule 1 note of each row: the line it fits (and what places it) or is off."""
    model = f"{judge.level} line of {prefix} ({_rests_on(judge)})"
    lines = judge.lines
    notes = []
    for status, basis, line, z, scale, probability, recur in zip(
            out["rule1_status"].tolist(), out["rule1_basis"].tolist(), nearest.tolist(),
            out["z"].tolist(), out["rule1_scale"].tolist(),
            out["isomer_line_probability"].tolist(), recur_list(recurring, judge, prefix)):
        if basis == "none":
            notes.append(f"Rule 1: unverified, nothing places a line of {prefix} without this "
                         "peak (no anchor, no other lipid tail, no composition prediction)")
        elif basis == "anchor only":
            notes.append(f"Rule 1: anchor, nothing else places a line of {prefix} to compare "
                         "it with")
        elif status == "outlier":
            notes.append(f"Rule 1: outlier, |z| = {fixed3(abs(z))} ≥ "
                         f"{params.outlier_threshold:g} off every line of the {model}, "
                         f"s = {fixed3(scale)} min{recur}")
        elif line == 0:
            notes.append(f"Rule 1: fits the {model} (z = {fixed3(z)}, s = {fixed3(scale)} min)")
        else:
            notes.append(_line_note(lines[line - 1], line + 1, basis, probability, prefix, z,
                                    judge.error_rate))
    return np.array(notes, dtype=object)


def recur_list(recurring: np.ndarray, judge: PrefixJudge, prefix: str) -> list[str]:
    """The recurring-offset clause of each outlier's note ("" for none)."""
    why = (f"farther than positional isomers elute (≤ {fixed3(judge.isomer_range)} min)"
           if judge.isomer_capable else f"{prefix} has no positional isomers")
    tails = {}
    for offset in np.unique(recurring[~np.isnan(recurring)]):
        at = recurring == offset
        tails[offset] = (int(at.sum()), len(np.unique(judge.rows.tail[at])))
    return ["" if np.isnan(offset) else
            f"; one of {tails[offset][0]} peaks that recur at {signed3(offset)} min across "
            f"{tails[offset][1]} tails, {why}: possibly a co-annotated species"
            for offset in recurring.tolist()]


def _rests_on(judge: PrefixJudge) -> str:
    anchors = int(judge.rows.line_anchor.sum())
    peaks = int(round(float(judge.fit.weight[judge.member].sum())))
    if anchors:
        return f"{anchors} anchor{'s' if anchors > 1 else ''} and {peaks} of its peaks"
    if judge.level == "self":
        return f"no anchor; {peaks} of its peaks"
    return "no anchor; predicted from its composition"


def _line_note(line: LineEvidence, number: int, basis: str, probability: float, prefix: str,
               z: float, error_rate: float) -> str:
    where = f"parallel line {number} ({signed3(line.offset)} min)"
    if line.anchored:
        return (f"Rule 1: isomer peak on {where} of {prefix}, placed by {line.support} anchored "
                f"isomers of its series (z = {fixed3(z)})")
    others = len(line.members) - 1
    others = f"{others} other name{'s' if others != 1 else ''}"
    if basis == "inferred isomer line":
        return (f"Rule 1: isomer peak on {where} that {others} of {prefix} show "
                f"(P(line) {fixed3(probability)}; z = {fixed3(z)})")
    return (f"Rule 1: possible isomer on {where}, which only {others} of {prefix} show: "
            f"P(line) {fixed3(probability)}, as chance meetings of misidentified peaks (at this "
            f"run's error rate, {error_rate:.0%}) would often show it; check (z = {fixed3(z)})")


def _columns_of(judge: PrefixJudge | None, rows: PrefixRows, prefix: str, ctx: RunContext,
                params: AnalysisParams) -> dict[str, np.ndarray]:
    """The Rule 1 columns of one head group: judged, or undecided with the reason."""
    if judge is not None:
        return verdict_columns(judge, prefix, ctx, params)
    if ctx.usable:
        why = (f"nothing places a line of {prefix} (no anchor, one lipid tail, no composition "
               "prediction)")
    else:
        why = ("the run has too few anchors for a shared slope and a scale (no head group with "
               "two anchors in different tails), so no line can be placed")
    return _undecided(rows, why)


def _undecided(rows: PrefixRows, why: str) -> dict[str, np.ndarray]:
    """A head group no level can judge: anchors stay valid, the other rows unverified."""
    n_rows = len(rows.rt)
    out = {"rule1_status": pick(rows.anchor, "valid", "unverified"),
           "rule1_model": np.full(n_rows, "none", dtype=object),
           "rule1_model_n": np.zeros(n_rows, dtype=np.int64),
           "rule1_model_r2_cv": np.full(n_rows, np.nan),
           "anchor_disagrees": np.zeros(n_rows, dtype=bool),
           "_isomers_anchored": np.zeros(n_rows, dtype=bool),
           "rule1_basis": pick(rows.anchor, "anchor only", "none"),
           "_rt_density": np.full(n_rows, 1 / MISID_SPAN),
           "_rule1_note": pick(rows.anchor, f"Rule 1: anchor; {why}",
                               f"Rule 1: unverified, {why}")}
    for column in ("predicted_rt", "residual", "z", "rule1_scale", "isomer_series",
                   "rule1_series_offset", "isomer_line_probability", "_p_correct"):
        out[column] = np.full(n_rows, np.nan)
    return out


# ---------------------------------------------------------------- the whole run


JUDGED_COLUMNS_V21 = {**JUDGED_COLUMNS, "rule1_basis": object, "isomer_line_probability": float,
                      "_p_correct": float, "_rt_density": float}
V21_RULE1_COLUMNS = ["rule1_model", "rule1_model_n", "rule1_model_r2_cv", "isomer_series",
                     "rule1_basis", "isomer_line_probability"]


def judge_v21(eligible: pd.DataFrame, modifier_counts: pd.DataFrame, groups: pd.DataFrame,
              warnings: list[AnalysisWarning], params: AnalysisParams, coeluting: np.ndarray
              ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[AnalysisWarning]]:
    """Algorithm 2.1 Rule 1 columns for every eligible row, the groups table with the level that
    judged each head group, the level metrics and the warnings (the 1.0 ones it replaces
    dropped). ``coeluting`` marks possible Rule 5 fragments: judged, but they shape no line."""
    rows = PrefixRows.of(eligible, coeluting, params.rt_tolerance)
    by_prefix = positions_by(eligible["prefix"])
    ctx = build_run_context(eligible, rows, by_prefix, modifier_counts, params)
    heads = _head_groups(eligible, by_prefix, ctx)
    for head in heads:
        head.level = judge_level(rows.take(head.at), head.prior, ctx, params)
    ctx = _learned_from_main_lines(rows, heads, ctx, params)
    judges = {head.prefix: _final_judge(rows, head, ctx, params) for head in heads}
    ctx = replace(ctx, metrics=_with_prefix_level(ctx, judges))
    parts = [_columns_of(judges[head.prefix], rows.take(head.at), head.prefix, ctx, params)
             for head in heads]
    judged, counts = joined(parts, by_prefix, eligible.index, JUDGED_COLUMNS_V21)
    groups = _groups_with_counts(groups, counts, judges, params, ctx)
    levels = pd.DataFrame([m.as_record() for m in ctx.metrics.values()])
    levels["scale_s"] = [float(np.hypot(ctx.scale, ctx.composition_rmse)) if level ==
                         "composition" else ctx.scale for level in levels["level"]]
    kept = [w for w in warnings if w.code not in REPLACED_WARNINGS]
    return judged, groups, levels, kept + [
        w for w in warnings_v2(groups, judged, eligible) if w.code != "own_model_unused"] + list(
        scattered_anchor_warnings(groups, eligible, ctx.scale, params)) + _run_warnings(ctx)


@dataclass
class HeadGroup:
    """One prefix: its rows (positions in the eligible rows), series, composition prior, the
    level it is judged at, and its composition apart from sialic acids (neutral core sugars and
    modifiers) with its sialic acids."""

    prefix: str
    at: np.ndarray
    series: str
    prior: float | None
    kind: tuple = ()
    sialic: int | None = None
    level: str | None = None


def _head_groups(eligible: pd.DataFrame, by_prefix, ctx: RunContext) -> list[HeadGroup]:
    """One ``HeadGroup`` per prefix, from its first row."""
    base = eligible["base_prefix"].to_numpy(object)
    neutral = eligible["_neutral_core"].to_numpy(float, na_value=np.nan)
    sialic = eligible["sialic_acid_count"].to_numpy(float, na_value=np.nan)
    modifiers = eligible["modifiers"].fillna("").to_numpy(object)
    heads = []
    for prefix, at in by_prefix:
        first = at[0]
        known = not (np.isnan(neutral[first]) or np.isnan(sialic[first]))
        heads.append(HeadGroup(prefix, at, base[first], ctx.priors.get(prefix),
                               (neutral[first], modifiers[first]) if known else (),
                               int(sialic[first]) if known else None))
    return heads


def _learned_from_main_lines(rows: PrefixRows, heads: list[HeadGroup], ctx: RunContext,
                             params: AnalysisParams) -> RunContext:
    """A first pass of main lines gives what the final pass needs from the whole run: each
    series' anchored isomer offsets, the run's share of misidentified peaks (off their main
    line, in head groups without isomers), pooled with ``ERROR_PRIOR_PEAKS`` at 1 − prior, and
    the isomer range (``sialic_step``, at least ``ISOMER_RANGE``)."""
    offsets: dict = {}
    off, peaks = 0.0, 0
    lines_by_tail = {}
    for head in heads:
        if head.level is None:
            continue
        judge = main_line(rows.take(head.at), head.level, head.prior, ctx, params, {})
        for rank, (total, count) in _own_isomer_sums(judge).items():
            offsets.setdefault((head.series, rank), {})[head.prefix] = (total, count)
        if head.series not in ISOMER_SERIES:
            off += float((1 - judge.fit.weight[judge.member]).sum())
            peaks += int(judge.member.sum())
        if head.level in ("prefix", "pooled"):
            lines_by_tail[head.prefix] = _main_rt_by_tail(judge)
    error_rate = (off + ERROR_PRIOR_PEAKS * (1 - PRIOR_CORRECT)) / (peaks + ERROR_PRIOR_PEAKS)
    return replace(ctx, error_rate=error_rate, series_offsets=offsets,
                   isomer_range=max(ISOMER_RANGE, sialic_step(heads, lines_by_tail)))


def _main_rt_by_tail(judge: PrefixJudge) -> dict[int, float]:
    """Where a head group's main line puts each of its lipid tails (tail code -> RT)."""
    rows = judge.rows
    predicted = judge.fit.predicted(rows.log_p)
    return {int(tail): float(predicted[rows.tail == tail].mean()) for tail in np.unique(rows.tail)}


def sialic_step(heads: list[HeadGroup], lines_by_tail: dict[str, dict[int, float]]) -> float:
    """The largest RT step one sialic acid makes in this run: between anchored main lines of
    head groups with the same neutral core and modifiers and one sialic acid apart, the median
    over their common lipid tails (0 when no such pair)."""
    steps = [0.0]
    by_kind = {(head.kind, head.sialic): head.prefix for head in heads
               if head.prefix in lines_by_tail and head.sialic is not None}
    for (kind, sialic), prefix in by_kind.items():
        other = by_kind.get((kind, sialic + 1))
        if other is None:
            continue
        mine, theirs = lines_by_tail[prefix], lines_by_tail[other]
        common = [tail for tail in mine if tail in theirs]
        if common:
            steps.append(float(np.median([abs(mine[t] - theirs[t]) for t in common])))
    return max(steps)


def _own_isomer_sums(judge: PrefixJudge) -> dict[int, tuple[float, int]]:
    """Per isomer rank the summed offset and count of the head group's anchored isomers."""
    rows = judge.rows
    residual = rows.rt - judge.fit.predicted(rows.log_p)
    return {rank: (float(residual[rows.isomer_rank == rank].sum()),
                   int((rows.isomer_rank == rank).sum()))
            for rank in range(1, int(rows.isomer_rank.max(initial=0)) + 1)}


def _series_of_others(ctx: RunContext, head: HeadGroup) -> dict[int, tuple[float, int]]:
    """Per isomer rank the anchored isomers' summed offset and count in the series' other head
    groups."""
    found = {}
    for (series, rank), by_prefix in ctx.series_offsets.items():
        if series != head.series:
            continue
        others = [value for prefix, value in by_prefix.items() if prefix != head.prefix]
        if others:
            found[rank] = (sum(total for total, _ in others), sum(count for _, count in others))
    return found


def _final_judge(rows: PrefixRows, head: HeadGroup, ctx: RunContext, params: AnalysisParams
                 ) -> PrefixJudge | None:
    if head.level is None:
        return None
    judge = main_line(rows.take(head.at), head.level, head.prior, ctx, params,
                      _series_of_others(ctx, head))
    judge.isomer_capable = head.series in ISOMER_SERIES
    judge.isomer_range = ctx.isomer_range
    if judge.isomer_capable:
        judge.lines = [*judge.lines, *infer_lines(judge)]
    return judge


def _groups_with_counts(groups: pd.DataFrame, counts: pd.DataFrame, judges: dict,
                        params: AnalysisParams, ctx: RunContext) -> pd.DataFrame:
    """The groups table with 2.1's per-prefix counts, scale and anchor scatter."""
    fits = [judges[prefix] for prefix in counts.index]
    spread = np.array([judge.spread if judge else np.nan for judge in fits])
    counts["scale_s"] = [judge.fit.sigma if judge else np.nan for judge in fits]
    counts["anchor_spread_s"] = spread
    counts["anchors_scattered"] = spread >= params.outlier_threshold * ctx.scale
    counts["anchored_isomers"] = [int((judge.rows.isomer_rank > 0).sum()) if judge else 0
                                  for judge in fits]
    return with_group_counts(groups, counts)


def _with_prefix_level(ctx: RunContext, judges: dict) -> dict[str, LevelMetrics]:
    """Honest cross-validated n, R² and RMSE of each level: the run's, and the ``prefix``
    level's from its head groups' anchors, each left out of its own line."""
    metrics = dict(ctx.metrics)
    ys, residuals = [], []
    for judge in judges.values():
        if judge and judge.level == "prefix":
            at = judge.rows.line_anchor
            ys.append(judge.rows.rt[at])
            residuals.append(judge.fit.left_out(judge.rows.rt, judge.rows.log_p)[0][at])
    metrics["prefix"] = cv_metrics("prefix", np.concatenate([[], *ys]),
                                 np.concatenate([[], *residuals]))
    return metrics


def _run_warnings(ctx: RunContext) -> list[AnalysisWarning]:
    """What the whole run's Rule 1 rests on: too few anchors, or the error rate learned."""
    if not ctx.usable:
        return [AnalysisWarning(
            "no_rt_model", "warning", "Rule 1 (2.1): the anchors are too few for a shared slope "
            "and a scale (no head group has two anchors in different lipid tails): every peak "
            "that is not an anchor is unverified by RT.")]
    return [AnalysisWarning(
        "rule1_error_rate", "info", f"Rule 1 (2.1): {ctx.error_rate:.1%} of the peaks of head "
        "groups without isomers lie off their line; an isomer line that only unanchored peaks "
        "show must have more names than misidentified peaks at this rate would put together "
        f"by chance. Pooled scale s = {fixed3(ctx.scale)} min, shared slope "
        f"{ctx.slope:.3f} min per Log P unit.")]
