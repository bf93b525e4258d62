"""Rule 1, algorithm 2.0: a verdict for every head group, and parallel lines for isomer series.

Algorithm 1.0 judges a prefix only when it has ``min_anchors`` anchors of its own, and calls every
peak off that one line an outlier. On real data most prefixes have 0-2 anchors, and isomer-capable
series show whole second lines of peaks (another isomer) at a constant offset across tails. 2.0
keeps the 1.0 fit where it exists and adds, in order of preference:

``prefix``       the prefix's own 1.0 model (accepted, ``min_anchors`` or more anchors spanning
                 at least ``REFIT_MIN_SPAN`` Log P units: a slope fitted on a narrower range
                 extrapolates badly), refined by its own peaks (``refit_on_members``) like the
                 next two.
``pooled``       a shared Log P slope fitted on the anchors of every prefix (each prefix its own
                 offset; of a name anchored twice only the first isomer), with this prefix's
                 offset taken from its anchors.
``self``         the shared slope, with the offset found from the prefix's own peaks: the line
                 that the most lipid tails agree on (a misidentification is a lone peak; the
                 correct identifications of one head group line up across tails). Ties between
                 candidate lines go to the one nearest the composition prediction.
``composition``  a single anchorless peak: the offset predicted from the head group's composition
                 (sialic acids, neutral core sugars, each modifier), fitted across the prefixes
                 that have anchors; its scale includes that prediction's cross-validated error.

Every level reports its own honest cross-validated n, R² and RMSE, measured on anchors that the
level did not use (leave-one-out within a prefix for ``pooled``; the anchors of other prefixes
judged as if they had none for ``self``; leave-one-prefix-out for ``composition``).

Scale. One RT measurement scatters about as much in one head group as in another, so the scale of
every level is at least the pooled scale (the cross-validated scatter of all anchors around their
pooled lines, each weighted by how well it fits: ``robust_scale``): this stops a 3-anchor model
whose CV RMSE happens to be 0.016 min from flagging peaks 0.25 min off (spec 16.2, GT1).

Anchored isomers. Each name's first-eluting anchor places the main line; its later anchors (a
second isomer the lab confirmed) place parallel lines (``anchor_isomer_rank``).

Isomer lines. For isomer-capable series (GD1, GT1, GQ1 and GM1, which has a/b isomers too), peaks
off the main line that recur at one offset across at least ``SERIES_MIN_TAILS`` lipid tails form a
parallel line (series 2, 3, ...): such a peak is a confirmed isomer peak, not an outlier. A lone
peak off every line stays an outlier.

Residual model. A correct identification scatters around its nearest line as N(0, s²); a
misidentified peak lands anywhere within ``MISID_SPAN`` min (uniform). With prior
``PRIOR_CORRECT``, P(correct | r) = π·φ(r/s)/s / (π·φ(r/s)/s + (1 − π)/span)
(``p_correct``); the denominator (``rt_density``) is also the "peak of its own" RT density that
Rule 5 weighs fragments against (``fragment_model``). The final confidence
(``status.confidence``) combines both.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..formatting import first_items, fixed3, signed3
from .grouping import RowArrays, frame_of, in_row_order, pick, positions_by
from .isomers import name_codes
from ..params import AnalysisParams
from ..result import AnalysisWarning

ISOMER_SERIES = ("GD1", "GT1", "GQ1", "GM1")
SERIES_MIN_TAILS = 3
SERIES_MIN_SHARE = 0.1
REFIT_BAND = 2.5  # in units of the level's scale
REFIT_MIN_PEAKS = 5
REFIT_MIN_SPAN = 2.0
MAX_PARALLEL_LINES = 2
ISOMER_REFINE = 1.5
PRIOR_CORRECT = 0.85
MISID_SPAN = 5.0  # min: misidentified peaks land up to ~2.5 min either side of their line
LEVELS = ("prefix", "pooled", "self", "composition")
MIN_SCALE = 1e-3  # min: RTs carry 3 decimals, so no scale (nor densest_line bin) is smaller,
# even with a zero rt_sd_floor and anchors exactly on their lines
MAX_SCALE_ROUNDS = 100
SCALE_SETTLED = 1e-5  # min


@dataclass(frozen=True)
class LevelMetrics:
    """Honest cross-validated figures of one judging level."""

    level: str
    n: int
    r2_cv: float
    rmse_cv: float

    def as_record(self) -> dict:
        return {"level": self.level, "n": self.n, "r2_cv": self.r2_cv, "rmse_cv": self.rmse_cv}


# ---------------------------------------------------------------- the eligible rows as arrays


@dataclass(frozen=True)
class PrefixRows(RowArrays):
    """The columns the 2.0 judge reads, as arrays: all eligible rows, or one prefix's."""

    anchor: np.ndarray  # Anchor is True
    rt: np.ndarray
    log_p: np.ndarray
    prefix: np.ndarray  # codes of the prefix, numbered in order of first appearance
    tail: np.ndarray  # codes of the lipid tail (a missing tail reads as "")
    name: np.ndarray  # codes of (prefix, tail): one code per name
    shaping: np.ndarray  # no possible Rule 5 parent: may shape a line
    isomer_rank: np.ndarray  # which isomer of its name an anchor is (0: the first, or no anchor)

    @classmethod
    def of(cls, eligible: pd.DataFrame, coeluting: np.ndarray, same_peak: float
           ) -> "PrefixRows":
        """Read the eligible rows once; ``coeluting`` marks possible Rule 5 fragments, and
        anchors of one name within ``same_peak`` min are one compound (``anchor_isomer_rank``)."""
        tail = pd.factorize(eligible["tail"], use_na_sentinel=False)[0]
        prefix = pd.factorize(eligible["prefix"])[0]
        anchor, rt, name = (eligible["Anchor"].eq(True).to_numpy(),
                            eligible["RT"].to_numpy(float), name_codes(eligible))
        return cls(anchor, rt, eligible["Log P"].to_numpy(float), prefix, tail, name,
                   ~coeluting, anchor_isomer_rank(anchor, rt, name, same_peak))

    @property
    def line_anchor(self) -> np.ndarray:
        """The anchors that place a prefix's main line: each name's first-eluting anchor."""
        return self.anchor & (self.isomer_rank == 0)


def anchor_isomer_rank(anchor: np.ndarray, rt: np.ndarray, name: np.ndarray,
                       same_peak: float) -> np.ndarray:
    """Per row which isomer of its name an anchor is, by RT: 0 for the first-eluting one (and
    for every non-anchor), 1 for the next, ...

    Two anchored peaks of one name are two confirmed isomers (the lab anchors GD1a and GD1b,
    0.38-0.51 min apart, in 11 tails). A line through both sits between them and triples the
    scatter; so each isomer gets its own line: the first-eluting anchors place the main line,
    the second ones an anchored parallel line (``_verdicts``). Anchors of one name less than
    ``same_peak`` min apart (Rule 5's co-elution window) are one compound listed twice.
    """
    rank = np.zeros(len(rt), dtype=np.int64)
    at = np.flatnonzero(anchor)
    order = at[np.lexsort((rt[at], name[at]))]
    same_name = np.diff(name[order]) == 0
    later = np.concatenate([[0], same_name & (np.diff(rt[order]) > same_peak)])
    steps = np.cumsum(later)
    first = np.searchsorted(name[order], name[order])
    rank[order] = steps - steps[first]
    return rank


# ---------------------------------------------------------------- shared slope and scale


def group_means(code: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean of ``values`` within each group (``code`` numbers the groups 0..n_groups-1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.bincount(code, values, n_groups) / np.bincount(code, minlength=n_groups)


def shared_slope(anchors: PrefixRows, n_prefixes: int) -> float:
    """Within-prefix least-squares slope of RT on Log P over all anchors (one offset per prefix)."""
    x = anchors.log_p - group_means(anchors.prefix, anchors.log_p, n_prefixes)[anchors.prefix]
    y = anchors.rt - group_means(anchors.prefix, anchors.rt, n_prefixes)[anchors.prefix]
    denominator = float((x * x).sum())
    return float((x * y).sum()) / denominator if denominator > 0 else 0.0


def pooled_cv(anchors: PrefixRows, slope: float, n_prefixes: int
              ) -> tuple[LevelMetrics, np.ndarray]:
    """Leave-one-out within each prefix: offset from the prefix's other anchors (1+ needed)."""
    u = anchors.rt - slope * anchors.log_p
    count = np.bincount(anchors.prefix, minlength=n_prefixes)[anchors.prefix]
    total = np.bincount(anchors.prefix, u, n_prefixes)[anchors.prefix]
    usable = count >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        predicted = slope * anchors.log_p + (total - u) / (count - 1)
    residual = (anchors.rt - predicted)[usable]
    return cv_metrics("pooled", anchors.rt[usable], residual), residual


def robust_scale(residual: np.ndarray) -> float:
    """The SD of the residuals that fit the residual model's correct part (0 for none).

    Anchors are trusted, but two anchors of one head group can disagree (on the lab's sample
    GD2's two anchors sit 1.2 min apart after the shared slope, GM3's 0.5 min, the other
    prefixes' anchors within 0.3 min): the plain RMSE of all cross-validated residuals would
    then set a 0.3 min scale for every prefix. So the residuals are fitted with the same
    two-part model the peaks are judged with (``p_correct``: a normal scatter, or a misfit
    anywhere within ``MISID_SPAN``), learning by expectation-maximisation both the scale and
    the share that fit, starting from ``PRIOR_CORRECT``. Where every anchor agrees that share
    goes to 1 and the scale is the plain RMSE (the benchmark's scales move by at most 0.01 min);
    on the sample 86 % fit, GD2's and GM3's anchor pairs do not, and the scale is 0.096 min.
    """
    return scale_and_share(residual)[0]


def scale_and_share(residual: np.ndarray) -> tuple[float, float]:
    """``robust_scale`` and the share of the residuals that fit its normal part."""
    if not len(residual):
        return 0.0, PRIOR_CORRECT
    scale, share = float(np.sqrt(np.mean(residual ** 2))), PRIOR_CORRECT
    for _ in range(MAX_SCALE_ROUNDS):
        if scale == 0:
            break
        weight = p_correct(residual / scale, scale, share)
        if not weight.sum() > 0:  # every residual far off the scale (absurd RTs): keep it
            break
        updated = float(np.sqrt(weight @ residual ** 2 / weight.sum()))
        share = float(weight.mean())
        if abs(updated - scale) < SCALE_SETTLED:
            return updated, share
        scale = updated
    return scale, share


def cv_metrics(level: str, y: np.ndarray, residual: np.ndarray) -> LevelMetrics:
    if len(y) < 2:
        return LevelMetrics(level, len(y), np.nan, np.nan)
    spread = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - float(np.sum(residual ** 2)) / spread if spread > 0 else np.nan
    return LevelMetrics(level, len(y), r2, float(np.sqrt(np.mean(residual ** 2))))


# ---------------------------------------------------------------- composition offsets


def composition_features(eligible: pd.DataFrame, first: np.ndarray,
                         modifier_counts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Design matrix of one row per prefix (from its first row, at ``first``): intercept, sialic
    acids, neutral core sugars, one column per modifier; and whether its counts are known."""
    sialic = eligible["sialic_acid_count"].to_numpy(float, na_value=np.nan)[first]
    neutral = eligible["_neutral_core"].to_numpy(float, na_value=np.nan)[first]
    mods = modifier_counts.reindex(eligible["row_id"].to_numpy()[first]).fillna(0).to_numpy(float)
    features = np.column_stack([np.ones(len(first)), sialic, neutral, mods])
    return features, ~(np.isnan(sialic) | np.isnan(neutral))


def fit_offsets(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted ridge-stabilised least squares (tiny ridge keeps unseen modifiers at 0)."""
    w = np.sqrt(weight)[:, None]
    ridge = 1e-3 * np.eye(x.shape[1])
    ridge[0, 0] = 0.0
    return np.linalg.solve((x * w).T @ (x * w) + ridge, (x * w).T @ (y * w[:, 0]))


# ---------------------------------------------------------------- lines from a prefix's own peaks


def densest_line(u: np.ndarray, tails: np.ndarray, width: float, prior: float) -> float:
    """Offset that the most distinct lipid tails agree on within about ±width.

    Offsets are binned at width/2; a candidate line is a bin with its two neighbours on each side,
    and its support is the number of distinct tails (``tails``: non-negative integer codes) with a
    peak in those five bins. Ties go to the candidate nearest ``prior``; the line is the median
    offset of the winning window. Only occupied bins are counted (sorting, n log n in the number
    of peaks), so memory stays linear whatever the offsets: an RT of 1e18 min, or RT and Volume
    columns swapped, spread the bins over a range no array could hold.
    """
    half = max(width / 2, MIN_SCALE)
    bins = np.floor(u / half)  # whole numbers as floats: no integer overflow
    own_bins, own_tails = _distinct_pairs(bins, tails)
    spread, _ = _distinct_pairs(np.concatenate([own_bins + k for k in range(-2, 3)]),
                                np.tile(own_tails, 5))
    candidates, support = np.unique(spread, return_counts=True)
    best = candidates[support == support.max()]
    centre = best[np.argmin(np.abs((best + 0.5) * half - prior))]
    in_window = np.abs(bins - centre) <= 2
    return float(np.median(u[in_window]))


def _distinct_pairs(bins: np.ndarray, tails: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (bin, tail) pairs, sorted by bin: two sort keys instead of ``np.unique``
    over rows, which compares each row as raw bytes (ten times slower at 10^5 peaks)."""
    order = np.lexsort((tails, bins))
    bins, tails = bins[order], tails[order]
    first = np.ones(len(bins), dtype=bool)
    first[1:] = (bins[1:] != bins[:-1]) | (tails[1:] != tails[:-1])
    return bins[first], tails[first]


def isomer_lines(offsets: np.ndarray, tails: np.ndarray, width: float) -> list[float]:
    """Offsets (relative to the main line) of recurring parallel lines, strongest first.

    A line needs ``SERIES_MIN_TAILS`` distinct names and at least ``SERIES_MIN_SHARE`` of the
    series' names: isomer peaks are a systematic feature of a series, while misidentified peaks
    scatter over ±2.5 min and only by chance pile up a few names at one offset. At most
    ``MAX_PARALLEL_LINES`` (positional isomers a, b, c: the main line and two more).
    """
    lines: list[float] = []
    needed = max(SERIES_MIN_TAILS, SERIES_MIN_SHARE * len(np.unique(tails)))
    remaining = np.abs(offsets) > width
    while remaining.sum() >= needed and len(lines) < MAX_PARALLEL_LINES:
        u, t = offsets[remaining], tails[remaining]
        centre = densest_line(u, t, width, prior=0.0)
        member = remaining & (np.abs(offsets - centre) <= width)
        if len(np.unique(tails[member])) < needed:
            break
        lines.append(float(np.median(offsets[member])))
        remaining &= ~member
    return lines


# ---------------------------------------------------------------- the judge


@dataclass
class PooledContext:
    """What every prefix is judged with: slope, scale, composition priors and level metrics."""

    slope: float
    scale: float
    prefix_scale: float  # typical CV RMSE of the accepted own models: a floor for each of them
    priors: dict[str, float]  # offset predicted from each prefix's composition, where known
    composition_rmse: float
    metrics: dict[str, LevelMetrics]

    def base_scale(self, level: str) -> float:
        """The scale s a level judges with before a prefix's own terms: an own model's CV RMSE
        may be larger, and a pooled line adds the uncertainty of its offset."""
        return {"prefix": self.prefix_scale, "pooled": self.scale, "self": self.scale,
                "composition": float(np.hypot(self.scale, self.composition_rmse))}[level]


def build_context(eligible: pd.DataFrame, rows: PrefixRows, groups: list[tuple[str, np.ndarray]],
                  modifier_counts: pd.DataFrame, own: pd.DataFrame,
                  params: AnalysisParams) -> PooledContext:
    """Fit the shared slope, pooled scale and composition-offset model on the anchors."""
    anchors = rows.take(np.flatnonzero(rows.line_anchor))
    slope = shared_slope(anchors, len(groups)) if len(anchors.rt) >= 2 else 0.0
    pooled, residual = pooled_cv(anchors, slope, len(groups))
    floor = max(params.rt_sd_floor, MIN_SCALE)
    scale = max(robust_scale(residual), floor)
    features, known = composition_features(eligible, np.array([at[0] for _, at in groups],
                                                               dtype=np.intp), modifier_counts)
    n_anchors = np.bincount(anchors.prefix, minlength=len(groups))
    coef, comp_metrics = composition_model(features, np.flatnonzero(known & (n_anchors > 0)),
                                            n_anchors, anchors, slope)
    anchored = [group for group, count in zip(groups, n_anchors) if count > 0]
    metrics = {"pooled": pooled, "composition": comp_metrics,
               "self": self_level_metrics(rows, anchored, slope, scale)}
    own_ok = own[own["accepted"].astype(bool)]
    prefix_scale = floor
    if len(own_ok):
        metrics["prefix"] = LevelMetrics("prefix", int(own_ok["n_anchors"].sum()),
                                         float(own_ok["r2_cv"].median()),
                                         float(own_ok["rmse_cv"].median()))
        prefix_scale = max(prefix_scale, metrics["prefix"].rmse_cv)
    # one prefix at a time: the same dot product as for a prefix alone, to the last bit
    priors = {} if coef is None else {groups[i][0]: float((features[i:i + 1] @ coef)[0])
                                      for i in np.flatnonzero(known)}
    return PooledContext(slope, scale, prefix_scale, priors, comp_metrics.rmse_cv, metrics)


def composition_model(features, usable, n_anchors, anchors: PrefixRows, slope):
    """Offsets of the ``usable`` prefixes (anchored, known composition) fitted on their
    composition, and the leave-one-prefix-out error of a predicted offset."""
    if len(usable) < 4:
        return None, LevelMetrics("composition", 0, np.nan, np.nan)
    u = anchors.rt - slope * anchors.log_p
    x = features[usable]
    y = group_means(anchors.prefix, u, len(features))[usable]
    weight = n_anchors[usable].astype(float)
    predicted = np.full(len(features), np.nan)
    for i in range(len(y)):  # leave one prefix out: honest error of a predicted offset
        keep = np.arange(len(y)) != i
        predicted[usable[i]] = x[i] @ fit_offsets(x[keep], y[keep], weight[keep])
    scored = np.isin(anchors.prefix, usable)
    rt = anchors.rt[scored]
    pred_rt = slope * anchors.log_p[scored] + predicted[anchors.prefix[scored]]
    return fit_offsets(x, y, weight), cv_metrics("composition", rt, rt - pred_rt)


def self_level_metrics(rows: PrefixRows, anchored, slope, scale) -> LevelMetrics:
    """Judge anchored prefixes as if anchorless; score their anchors against the found line."""
    ys, residuals = [], []
    for _, at in sorted(anchored, key=lambda group: group[0]):
        if len(at) < 2:
            continue
        prefix = rows.take(at)
        u = prefix.rt - slope * prefix.log_p
        line = densest_line(u, prefix.tail, 2 * scale, np.median(u))
        ys.append(prefix.rt[prefix.line_anchor])
        residuals.append(u[prefix.line_anchor] - line)
    if not ys:
        return LevelMetrics("self", 0, np.nan, np.nan)
    return cv_metrics("self", np.concatenate(ys), np.concatenate(residuals))


def judge_prefixes(eligible: pd.DataFrame, modifier_counts: pd.DataFrame, rule1: pd.DataFrame,
                   own: pd.DataFrame, params: AnalysisParams, coeluting: np.ndarray
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Algorithm 2.0 Rule 1 columns for every eligible row, the level metrics table, and per
    prefix the level that judged it with its counts.

    ``rule1`` and ``own`` are the 1.0 per-row columns and regression table: a prefix whose own
    model was accepted keeps its 1.0 line (floored by the typical own-model scale).
    ``coeluting`` marks possible Rule 5 fragments: at their parent's RT they would form false
    parallel lines (fragments of one parent series sit at a constant offset from their own line),
    so they are judged against the lines but never shape one.
    """
    rows = PrefixRows.of(eligible, coeluting, params.rt_tolerance)
    groups = positions_by(eligible["prefix"])
    own = _without_isomer_mixing_models(own, rows, groups)
    ctx = build_context(eligible, rows, groups, modifier_counts, own, params)
    own_fits = {prefix: {"accepted": accepted, "n_anchors": n, "r2_cv": r2, "rmse_cv": rmse}
                for prefix, accepted, n, r2, rmse in zip(own["prefix"], own["accepted"],
                                                         own["n_anchors"], own["r2_cv"],
                                                         own["rmse_cv"])}
    own_predicted = rule1["predicted_rt"].to_numpy(float)
    lines = {prefix: _main_line(rows.take(at), own_predicted[at], own_fits[prefix], ctx,
                                ctx.priors.get(prefix))
             for prefix, at in groups}
    base = eligible["base_prefix"].to_numpy(object)
    bases = {prefix: base[at[0]] for prefix, at in groups}
    parallel = _family_lines(rows, groups, lines, bases, params)
    parts = [_verdicts(rows.take(at), prefix, lines[prefix], parallel.get(bases[prefix], []),
                       params, bases[prefix] in ISOMER_SERIES) if lines[prefix]
             else _undecided(rows.take(at), prefix)
             for prefix, at in groups]
    judged, counts = joined(parts, groups, eligible.index)
    spread = np.array([line.anchor_spread if line else np.nan for line in lines.values()])
    counts["anchor_spread_s"] = spread
    counts["anchors_scattered"] = spread >= params.outlier_threshold * ctx.scale
    counts["anchored_isomers"] = [int((rows.isomer_rank[at] > 0).sum()) for _, at in groups]
    levels = pd.DataFrame([m.as_record() for m in ctx.metrics.values()])
    levels["scale_s"] = [ctx.base_scale(level) for level in levels["level"]]
    return judged, levels, counts


def _without_isomer_mixing_models(own: pd.DataFrame, rows: PrefixRows, groups) -> pd.DataFrame:
    """``own`` with the 1.0 models of prefixes with anchored isomers not accepted: fitted on both
    isomers' anchors, their line runs between the two (and their CV RMSE would raise every
    other own model's floor); the pooled level judges them by their first isomers instead."""
    mixing = [prefix for prefix, at in groups if rows.isomer_rank[at].any()]
    return own.assign(accepted=own["accepted"].astype(bool) & ~own["prefix"].isin(mixing))


def joined(parts: list[dict[str, np.ndarray]], groups: list[tuple[str, np.ndarray]],
            index: pd.Index, columns: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The prefixes' columns (``JUDGED_COLUMNS`` unless ``columns`` says otherwise) as one table
    in the eligible rows' order, and their counts."""
    values = {column: np.concatenate([part[column] for part in parts]) if parts
              else np.empty(0, dtype=dtype)
              for column, dtype in (columns or JUDGED_COLUMNS).items()}
    starts = np.cumsum([0, *(len(at) for _, at in groups)])[:-1]
    counts = _prefix_counts([prefix for prefix, _ in groups], values, starts)
    values["isomer_series"] = pd.array(values["isomer_series"], dtype="Int64")
    return in_row_order(values, [at for _, at in groups], index), counts


JUDGED_COLUMNS = {"rule1_status": object, "rule1_model": object, "rule1_model_n": np.int64,
                  "rule1_model_r2_cv": float, "predicted_rt": float, "residual": float, "z": float,
                  "rule1_scale": float, "isomer_series": float,
                  "anchor_disagrees": bool, "rule1_series_offset": float, "_rule1_note": object,
                  "_isomers_anchored": bool}
"""The 2.0 Rule 1 columns per row, in order, with the dtypes of their arrays (the isomer line,
NaN for none, becomes a nullable integer in the table)."""


def _prefix_counts(prefixes: list[str], values: dict[str, np.ndarray], starts: np.ndarray
                   ) -> pd.DataFrame:
    """Per prefix (its rows start at ``starts`` in ``values``): the level that judged it, its
    verdict counts and its number of isomer lines."""
    status = values["rule1_status"]
    counts = {"judged_by": pd.array(values["rule1_model"][starts], dtype="str")}
    for name in ("valid", "outlier", "unverified"):
        counts[f"n_{name}"] = np.add.reduceat((status == name).astype(np.int64), starts)
    counts["n_anchor_disagrees"] = np.add.reduceat(values["anchor_disagrees"].astype(np.int64),
                                                   starts)
    counts["scale_s"] = values["rule1_scale"][starts]
    counts["isomer_lines"] = np.maximum.reduceat(
        np.nan_to_num(values["isomer_series"], nan=1.0), starts).astype(np.int64)
    return frame_of(counts, pd.Index(prefixes, dtype="str"))


@dataclass(frozen=True)
class MainLine:
    """The line a prefix is judged by, and the level that gave it."""

    level: str
    n: int
    r2: float
    predicted: np.ndarray
    scale: float
    anchor_spread: float = np.nan  # pooled level: SD of its anchors around their line


def _main_line(rows: PrefixRows, own_predicted: np.ndarray, group: dict, ctx: PooledContext,
               prior: float | None) -> MainLine | None:
    """The best available line of one prefix (module docstring); None if no level applies."""
    if bool(group["accepted"]) and np.ptp(rows.log_p[rows.anchor]) >= REFIT_MIN_SPAN:
        scale = max(float(group["rmse_cv"]), ctx.base_scale("prefix"))
        return MainLine("prefix", int(group["n_anchors"]), float(group["r2_cv"]),
                        refit_on_members(rows.log_p, rows.rt, own_predicted, rows.shaping,
                                         REFIT_BAND * scale), scale)
    u = rows.rt - ctx.slope * rows.log_p
    shaping, spread = rows.shaping, np.nan
    if rows.anchor.any():
        level, n = "pooled", int(rows.line_anchor.sum())
        offset = float(u[rows.line_anchor].mean())
        spread = float(np.std(u[rows.line_anchor], ddof=1)) if n > 1 else np.nan
        scale = pooled_line_scale(ctx.base_scale("pooled"), spread, n)
    elif len(np.unique(rows.tail[shaping])) >= 2:
        level, n, scale = "self", int(shaping.sum()), ctx.base_scale("self")
        offset = densest_line(u[shaping], rows.tail[shaping], 2 * ctx.scale,
                              prior if prior is not None else float(np.median(u[shaping])))
    elif prior is not None and not np.isnan(ctx.composition_rmse):
        level, n, offset = "composition", int(shaping.sum()), prior
        scale = ctx.base_scale("composition")
    else:
        return None
    predicted = ctx.slope * rows.log_p + offset
    if level in ("pooled", "self"):
        predicted = refit_on_members(rows.log_p, rows.rt, predicted,
                                     shaping & ~nearer_anchored_isomers(rows, predicted),
                                     REFIT_BAND * scale)
    return MainLine(level, n, ctx.metrics[level].r2_cv, predicted, scale, spread)


def nearer_anchored_isomers(rows: PrefixRows, predicted: np.ndarray) -> np.ndarray:
    """The peaks nearer a line of anchored later isomers than the main line ``predicted``: they
    must not tilt the main line when its own peaks refine it."""
    residual = rows.rt - predicted
    offsets = anchored_isomer_offsets(residual, rows.isomer_rank)
    if not len(offsets):
        return np.zeros(len(residual), dtype=bool)
    return np.abs(residual[:, None] - offsets[None, :]).min(axis=1) < np.abs(residual)


def pooled_line_scale(scale: float, anchor_spread: float, n: int) -> float:
    """The scale of a line whose offset is the mean of ``n`` anchors: one peak's scatter plus
    the offset's uncertainty. That uncertainty is the scatter over √n, measured by the anchors
    themselves where they spread more than anchors do in general (on the sample GD2's two
    anchors sit 1.2 min apart: its line is known only to about ±0.6 min)."""
    return float(np.sqrt(scale ** 2 + np.fmax(scale, anchor_spread) ** 2 / n))


def refit_on_members(log_p, rt, predicted, shaping, band) -> np.ndarray:
    """Let a prefix's own peaks tilt its line when they span enough Log P.

    Slopes differ a little between head groups (1.28-1.42 min per unit on the sample), which over
    a wide Log P range moves the line by more than the RT scatter; and a ``prefix`` model fitted
    on 3-5 anchors extrapolates its slope to tails the anchors do not cover. The peaks already on
    the line (within ``band``, possible fragments excluded) refit slope and offset by least
    squares when there are at least ``REFIT_MIN_PEAKS`` of them spread over ``REFIT_MIN_SPAN``
    Log P units. On the benchmark this cut the correct peaks flagged from 1.6 % to 1.2 %.
    """
    members = shaping & (np.abs(rt - predicted) <= band)
    if members.sum() < REFIT_MIN_PEAKS or np.ptp(log_p[members]) < REFIT_MIN_SPAN:
        return predicted
    slope, intercept = np.polyfit(log_p[members], rt[members], 1)
    return slope * log_p + intercept


def own_offset(residual: np.ndarray, family_offset: float, width: float) -> float:
    """A family isomer line as this prefix shows it: the median of its own peaks near the line.

    The isomer offset can differ a little with the modifiers; a prefix with at least 2 peaks
    within ``ISOMER_REFINE`` widths of the family's offset uses their median.
    """
    near = residual[np.abs(residual - family_offset) <= ISOMER_REFINE * width]
    return float(np.median(near)) if len(near) >= 2 else family_offset


def _family_lines(rows: PrefixRows, groups, lines: dict, bases: dict, params
                  ) -> dict[str, list[float]]:
    """Parallel isomer lines per isomer-capable series, from all its prefixes together.

    Positional isomers differ in where a sialic acid sits on the core, which extra modifiers do
    not change: GD1, GD1+OAc and GD1+dHex share their isomer offsets. Pooling the series'
    prefixes lets a small prefix's isomer peaks join a line that its family shows across
    >= ``SERIES_MIN_TAILS`` distinct (prefix, tail) names.
    """
    residual, names, scales = defaultdict(list), defaultdict(list), defaultdict(list)
    for prefix, at in groups:
        base, line = bases[prefix], lines[prefix]
        if base not in ISOMER_SERIES or line is None:
            continue
        keep = rows.shaping[at]
        residual[base].append((rows.rt[at] - line.predicted)[keep])
        names[base].append(rows.name[at][keep])
        scales[base].append(line.scale)
    return {base: isomer_lines(np.concatenate(residual[base]), np.concatenate(names[base]),
                               params.outlier_threshold * float(np.median(scales[base])))
            for base in residual}


def _verdicts(rows: PrefixRows, prefix, line: MainLine, parallel: list[float], params,
              isomer_capable: bool = False) -> dict[str, np.ndarray]:
    """Status, z and isomer line of every row of one prefix: its main line, the lines of its
    anchored isomers, its family's parallel lines centred on its own peaks, and
    (isomer-capable) lines of its own peaks that recur off those at one offset
    (``isomer_lines`` on its unexplained peaks), at most ``MAX_PARALLEL_LINES`` parallel lines
    in all. A row is judged against its nearest line, an anchored later isomer against its own."""
    level, n, r2, predicted, scale = line.level, line.n, line.r2, line.predicted, line.scale
    residual = rows.rt - predicted
    width = params.outlier_threshold * scale
    offsets = anchored_isomer_offsets(residual, rows.isomer_rank)
    kept = np.abs(offsets) > width  # inside the main line's band: one line
    anchored = offsets[kept]
    family = [own_offset(residual[rows.shaping], offset, width) for offset in parallel]
    lines = np.array([0.0, *anchored, *(offset for offset in family
                                        if np.all(np.abs(offset - anchored) > width))]
                     )[:MAX_PARALLEL_LINES + 1]
    if isomer_capable and len(lines) <= MAX_PARALLEL_LINES:
        unexplained = rows.shaping & (np.abs(residual[:, None] - lines[None, :]).min(axis=1)
                                      > width)
        own = isomer_lines(residual[unexplained], rows.name[unexplained], width)
        lines = np.append(lines, own[:MAX_PARALLEL_LINES + 1 - len(lines)])
    distance = residual[:, None] - lines[None, :]
    rank_line = np.concatenate([[-1], np.where(kept, np.cumsum(kept), -1)])  # by isomer rank
    rank_line[rank_line >= len(lines)] = -1
    own_line = rank_line[rows.isomer_rank]
    nearest = np.where(own_line > 0, own_line, np.argmin(np.abs(distance), axis=1))
    off_line = distance[np.arange(len(rows.rt)), nearest]
    z = off_line / scale
    outlier = np.abs(z) >= params.outlier_threshold
    out = _constant_columns(len(rows.rt), level, n, r2)
    out.update(
        rule1_status=pick(outlier, "outlier", "valid"),
        predicted_rt=predicted + lines[nearest], residual=off_line, z=z,
        rule1_scale=np.full(len(rows.rt), scale),
        isomer_series=np.where(outlier, np.nan, nearest + 1),
        anchor_disagrees=outlier & rows.anchor,
        rule1_series_offset=np.where(~outlier & (nearest > 0), lines[nearest], np.nan))
    out["_rule1_note"] = _notes(prefix, level, n, r2, outlier, nearest + 1, z, scale,
                                lines.tolist(), params)
    out["_isomers_anchored"] = np.full(len(rows.rt), bool(len(anchored)))
    return out


def anchored_isomer_offsets(residual: np.ndarray, isomer_rank: np.ndarray) -> np.ndarray:
    """Offsets from the main line of the lines that anchored second (third...) isomers place:
    the median residual of the anchors of each rank above 0."""
    return np.array([float(np.median(residual[isomer_rank == rank]))
                     for rank in range(1, int(isomer_rank.max(initial=0)) + 1)])


def _constant_columns(n_rows: int, level: str, n: int, r2: float) -> dict[str, np.ndarray]:
    """The judging model's columns, the same on every row of a prefix."""
    return {"rule1_model": np.full(n_rows, level, dtype=object),
            "rule1_model_n": np.full(n_rows, n, dtype=np.int64),
            "rule1_model_r2_cv": np.full(n_rows, r2, dtype=float)}


def rt_density(z: np.ndarray, scale: np.ndarray | float, prior: float = PRIOR_CORRECT
               ) -> np.ndarray:
    """Density (per min) of a peak's RT at ``z`` scales off its nearest line: a correct
    identification (N(0, s²)) or, with ``1 - prior``, a misidentified one."""
    return _on_line(z, scale, prior) + (1 - prior) / MISID_SPAN


def p_correct(z: np.ndarray, scale: np.ndarray | float, prior: float = PRIOR_CORRECT
              ) -> np.ndarray:
    """P(correct identification | residual) of the two-part residual model."""
    return _on_line(z, scale, prior) / rt_density(z, scale, prior)


def _on_line(z, scale, prior):
    return prior * normal_density(z, 0.0, 1.0) / scale


def normal_density(x: np.ndarray, mean: float, sd: np.ndarray | float) -> np.ndarray:
    """The normal distribution's density at ``x``."""
    return np.exp(-0.5 * ((x - mean) / sd) ** 2) / (np.sqrt(2 * np.pi) * sd)


def _notes(prefix, level, n, r2, outlier, series, z, scale, lines, params) -> np.ndarray:
    model = f"{level} model for {prefix} (n = {n}, CV R² {'n/a' if np.isnan(r2) else fixed3(r2)})"
    s = fixed3(scale)
    notes = []
    for is_outlier, line, zi in zip(outlier.tolist(), series.tolist(), z.tolist()):
        if is_outlier:
            notes.append(f"Rule 1: outlier, |z| = {fixed3(abs(zi))} ≥ "
                         f"{params.outlier_threshold:g} off every line of the {model}, "
                         f"s = {s} min")
        elif line > 1:
            notes.append(f"Rule 1: isomer peak on parallel line {line} "
                         f"({signed3(lines[line - 1])} min) of the {model} (z = {fixed3(zi)})")
        else:
            notes.append(f"Rule 1: fits the {model} (z = {fixed3(zi)}, s = {s} min)")
    return np.array(notes, dtype=object)


def _undecided(rows: PrefixRows, prefix) -> dict[str, np.ndarray]:
    n_rows, anchor = len(rows.rt), rows.anchor
    out = _constant_columns(n_rows, "none", 0, np.nan)
    out["rule1_status"] = pick(anchor, "valid", "unverified")
    for column in ("predicted_rt", "residual", "z", "rule1_scale", "isomer_series",
                   "rule1_series_offset"):
        out[column] = np.full(n_rows, np.nan)
    out["anchor_disagrees"] = np.zeros(n_rows, dtype=bool)
    out["_isomers_anchored"] = np.zeros(n_rows, dtype=bool)
    out["_rule1_note"] = pick(
        anchor, f"Rule 1: anchor (no model for {prefix} at any level)",
        f"Rule 1: unverified, no model for {prefix} at any level (no anchor, one peak, "
        "composition not predictable)")
    return out


V2_RULE1_COLUMNS = ["rule1_model", "rule1_model_n", "rule1_model_r2_cv", "isomer_series"]
REPLACED_WARNINGS = ("groups_without_model", "model_rejected", "anchor_disagrees")


def judge_v2(eligible: pd.DataFrame, modifier_counts: pd.DataFrame, rule1: pd.DataFrame,
             groups: pd.DataFrame, warnings: list[AnalysisWarning], params: AnalysisParams,
             coeluting: np.ndarray
             ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[AnalysisWarning]]:
    """Replace the 1.0 Rule 1 verdicts by 2.0's; returns rows, groups, levels and warnings.
    ``coeluting`` marks the rows that have a possible Rule 5 parent (they shape no line)."""
    judged, levels, counts = judge_prefixes(eligible, modifier_counts, rule1, groups, params,
                                            coeluting)
    groups = with_group_counts(groups, counts)
    kept = [w for w in warnings if w.code not in REPLACED_WARNINGS]
    pooled_scale = float(levels.set_index("level").at["pooled", "scale_s"])
    return judged, groups, levels, kept + list(warnings_v2(groups, judged, eligible)) + list(
        scattered_anchor_warnings(groups, eligible, pooled_scale, params))


def with_group_counts(groups: pd.DataFrame, counts: pd.DataFrame) -> pd.DataFrame:
    """The 1.0 groups table with the per-prefix counts of 2.x in place of its own, and the
    scale 2.x judged with."""
    scale = counts.pop("scale_s")
    groups = pd.concat([groups.drop(columns=list(counts.columns), errors="ignore"),
                        counts.reindex(groups["prefix"]).reset_index(drop=True)], axis=1)
    groups["scale_s"] = scale.reindex(groups["prefix"]).to_numpy()
    return groups


def scattered_anchor_warnings(groups: pd.DataFrame, eligible: pd.DataFrame,
                               pooled_scale: float, params: AnalysisParams):
    """One warning per pooled-level prefix whose anchors scatter at least ``outlier_threshold``
    pooled scales around their line: one of them is probably misassigned."""
    anchor = eligible["Anchor"].eq(True).to_numpy()
    anchors = dict(positions_by(eligible["prefix"].to_numpy(object)[anchor]))
    row_id = eligible["row_id"].to_numpy()[anchor]
    flagged = groups[groups["anchors_scattered"].fillna(False).astype(bool)]
    for prefix, spread, scale in zip(flagged["prefix"], flagged["anchor_spread_s"],
                                     flagged["scale_s"]):
        ids = row_id[anchors[prefix]].tolist()
        yield AnalysisWarning(
            "anchors_scattered", "warning",
            f"{prefix}: its anchors scatter {fixed3(spread)} min (SD) around their line, at "
            f"least {params.outlier_threshold:g} times the {fixed3(pooled_scale)} min of anchors "
            f"in general; its line is that uncertain, so its peaks are judged with "
            f"s = {fixed3(scale)} min. Check these anchors (rows {first_items(ids)})",
            tuple(ids), prefix)


def warnings_v2(groups: pd.DataFrame, judged: pd.DataFrame, eligible: pd.DataFrame):
    for prefix, accepted, n_anchors, reason, judged_by in zip(
            groups["prefix"], groups["accepted"], groups["n_anchors"], groups["reason"],
            groups["judged_by"]):
        if not accepted and n_anchors >= 1 and reason and "required anchors" not in reason:
            yield AnalysisWarning("model_rejected", "warning",
                                  f"{prefix}: own model rejected ({reason}); "
                                  f"judged by the {judged_by} model instead", (), prefix)
    for prefix, accepted, judged_by, isomers in zip(groups["prefix"], groups["accepted"],
                                                    groups["judged_by"],
                                                    groups["anchored_isomers"]):
        if accepted and judged_by != "prefix":
            why = (f"{isomers} of its anchors are second isomers of a name, and its 1.0 line runs "
                   "between the isomers" if isomers else "its anchors span less than "
                   f"{REFIT_MIN_SPAN:g} Log P units, too narrow to extrapolate a slope from")
            yield AnalysisWarning("own_model_unused", "info",
                                  f"{prefix}: its own model (accepted by 1.0) is not used: {why}; "
                                  f"judged by the {judged_by} model", (), prefix)
    row_id = eligible["row_id"].to_numpy()
    disagree = judged["anchor_disagrees"].to_numpy(bool)
    for prefix, at in positions_by(eligible["prefix"].to_numpy(object)[disagree]):
        ids = row_id[disagree][at].tolist()
        yield AnalysisWarning("anchor_disagrees", "warning",
                              f"{prefix}: {len(ids)} anchor(s) lie off every line of the model "
                              f"(rows {first_items(ids)})", tuple(ids), prefix)
    levels = Counter(groups["judged_by"].tolist())
    yield AnalysisWarning("rule1_levels", "info", "Rule 1 prefixes judged by level: " + ", ".join(
        f"{level} {levels[level]}" for level in (*LEVELS, "none")), ())
    if levels["none"]:
        ids = row_id[(judged["rule1_status"] == "unverified").to_numpy(bool)].tolist()
        yield AnalysisWarning("groups_without_model", "info",
                              f"{levels['none']} prefixes could not be judged at any level; "
                              f"{len(ids)} rows are unverified", tuple(ids))
