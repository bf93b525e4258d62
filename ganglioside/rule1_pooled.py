"""Rule 1, algorithm 2.0: a verdict for every head group, and parallel lines for isomer series.

Algorithm 1.0 judges a prefix only when it has ``min_anchors`` anchors of its own, and calls every
peak off that one line an outlier. On real data most prefixes have 0-2 anchors, and isomer-capable
series show whole second lines of peaks (another isomer) at a constant offset across tails. 2.0
keeps the 1.0 fit where it exists and adds, in order of preference:

``prefix``       the prefix's own 1.0 model (accepted, ``min_anchors`` or more anchors).
``pooled``       a shared Log P slope fitted on the anchors of every prefix (each prefix its own
                 offset), with this prefix's offset taken from its 1 or 2 anchors.
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
every level is at least the pooled scale (the cross-validated RMSE of all anchors around their
pooled lines): this stops a 3-anchor model whose CV RMSE happens to be 0.016 min from flagging
peaks 0.25 min off (spec 16.2, GT1).

Isomer lines. For isomer-capable series (GD1, GT1, GQ1 and GM1, which has a/b isomers too), peaks
off the main line that recur at one offset across at least ``SERIES_MIN_TAILS`` lipid tails form a
parallel line (series 2, 3, ...): such a peak is a confirmed isomer peak, not an outlier. A lone
peak off every line stays an outlier.

Confidence. The probability that the verdict is right, from a two-part model of the residual r
around the nearest line: a correct identification scatters as N(0, s²); a misidentified peak lands
anywhere within ``MISID_SPAN`` min (uniform). With prior ``PRIOR_CORRECT``,
P(correct | r) = π·φ(r/s)/s / (π·φ(r/s)/s + (1 − π)/span). A valid verdict gets P(correct | r), an
outlier 1 − P(correct | r); an in-source fragment gets the share of the RT tolerance its ΔRT leaves
unused, scaled into [0.5, 1]. The reliability table of ``bench/accuracy.py`` checks the calibration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .formatting import first_items, fixed3, signed3
from .params import AnalysisParams
from .result import AnalysisWarning

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


@dataclass(frozen=True)
class LevelMetrics:
    """Honest cross-validated figures of one judging level."""

    level: str
    n: int
    r2_cv: float
    rmse_cv: float

    def as_record(self) -> dict:
        return {"level": self.level, "n": self.n, "r2_cv": self.r2_cv, "rmse_cv": self.rmse_cv}


# ---------------------------------------------------------------- shared slope and scale


def shared_slope(anchors: pd.DataFrame) -> float:
    """Within-prefix least-squares slope of RT on Log P over all anchors (one offset per prefix)."""
    x = anchors["Log P"] - anchors.groupby("prefix")["Log P"].transform("mean")
    y = anchors["RT"] - anchors.groupby("prefix")["RT"].transform("mean")
    denominator = float((x * x).sum())
    return float((x * y).sum()) / denominator if denominator > 0 else 0.0


def pooled_cv(anchors: pd.DataFrame, slope: float) -> tuple[LevelMetrics, np.ndarray]:
    """Leave-one-out within each prefix: offset from the prefix's other anchors (1+ needed)."""
    u = anchors["RT"] - slope * anchors["Log P"]
    by = anchors.groupby("prefix")
    count, total = by["RT"].transform("size"), u.groupby(anchors["prefix"]).transform("sum")
    usable = count >= 2
    predicted = slope * anchors["Log P"] + (total - u) / (count - 1)
    residual = (anchors["RT"] - predicted)[usable].to_numpy()
    return _metrics("pooled", anchors["RT"][usable].to_numpy(), residual), residual


def _metrics(level: str, y: np.ndarray, residual: np.ndarray) -> LevelMetrics:
    if len(y) < 2:
        return LevelMetrics(level, len(y), np.nan, np.nan)
    spread = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - float(np.sum(residual ** 2)) / spread if spread > 0 else np.nan
    return LevelMetrics(level, len(y), r2, float(np.sqrt(np.mean(residual ** 2))))


# ---------------------------------------------------------------- composition offsets


def composition_features(prefixes: pd.DataFrame, modifier_names: list[str]) -> np.ndarray:
    """Design matrix: intercept, sialic acids, neutral core sugars, one column per modifier."""
    columns = [np.ones(len(prefixes)), prefixes["sialic_acid_count"].to_numpy(float),
               prefixes["_neutral_core"].to_numpy(float)]
    columns += [prefixes[name].to_numpy(float) for name in modifier_names]
    return np.column_stack(columns)


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
    and its support is the number of distinct tails with a peak in those five bins (vectorised,
    linear in the number of peaks). Ties go to the candidate nearest ``prior``; the line is the
    median offset of the winning window.
    """
    half = width / 2 if width > 0 else 1e-3
    bins = np.floor(u / half).astype(np.int64)
    spread = pd.DataFrame({"bin": np.concatenate([bins + k for k in range(-2, 3)]),
                           "tail": np.tile(tails, 5)}).drop_duplicates()
    support = spread.groupby("bin").size()
    best = support.index[support.to_numpy() == support.max()].to_numpy()
    centre = best[np.argmin(np.abs((best + 0.5) * half - prior))]
    in_window = np.abs(bins - centre) <= 2
    return float(np.median(u[in_window]))


def isomer_lines(offsets: np.ndarray, tails: np.ndarray, width: float) -> list[float]:
    """Offsets (relative to the main line) of recurring parallel lines, strongest first.

    A line needs ``SERIES_MIN_TAILS`` distinct names and at least ``SERIES_MIN_SHARE`` of the
    series' names: isomer peaks are a systematic feature of a series, while misidentified peaks
    scatter over ±2.5 min and only by chance pile up a few names at one offset. At most
    ``MAX_PARALLEL_LINES`` (positional isomers a, b, c: the main line and two more).
    """
    lines: list[float] = []
    needed = max(SERIES_MIN_TAILS, SERIES_MIN_SHARE * len(set(tails)))
    remaining = np.abs(offsets) > width
    while remaining.sum() >= needed and len(lines) < MAX_PARALLEL_LINES:
        u, t = offsets[remaining], tails[remaining]
        centre = densest_line(u, t, width, prior=0.0)
        member = remaining & (np.abs(offsets - centre) <= width)
        if len(set(tails[member])) < needed:
            break
        lines.append(float(np.median(offsets[member])))
        remaining &= ~member
    return lines


# ---------------------------------------------------------------- the judge


@dataclass
class PooledContext:
    """What every prefix is judged with: slope, scale, composition model and level metrics."""

    slope: float
    scale: float
    prefix_scale: float  # typical CV RMSE of the accepted own models: a floor for each of them
    offsets_coef: np.ndarray | None
    composition_rmse: float
    modifier_names: list[str]
    metrics: dict[str, LevelMetrics]


def build_context(eligible: pd.DataFrame, modifier_counts: pd.DataFrame, own: pd.DataFrame,
                  params: AnalysisParams) -> PooledContext:
    """Fit the shared slope, pooled scale and composition-offset model on the anchors."""
    anchors = eligible[eligible["Anchor"].eq(True)]
    slope = shared_slope(anchors) if len(anchors) >= 2 else 0.0
    pooled, residual = pooled_cv(anchors, slope)
    scale = max(float(np.sqrt(np.mean(residual ** 2))) if len(residual) else 0.0,
                params.rt_sd_floor)
    names = [c for c in modifier_counts.columns]
    prefixes = _prefix_table(eligible, modifier_counts, names)
    anchored = prefixes[prefixes["n_anchors"] > 0]
    coef, comp_metrics = _composition_model(anchored, anchors, slope, names)
    metrics = {"pooled": pooled, "composition": comp_metrics,
               "self": _self_level_metrics(eligible, anchors, slope, scale)}
    own_ok = own[own["accepted"].astype(bool)]
    prefix_scale = params.rt_sd_floor
    if len(own_ok):
        metrics["prefix"] = LevelMetrics("prefix", int(own_ok["n_anchors"].sum()),
                                         float(own_ok["r2_cv"].median()),
                                         float(own_ok["rmse_cv"].median()))
        prefix_scale = max(prefix_scale, metrics["prefix"].rmse_cv)
    return PooledContext(slope, scale, prefix_scale, coef, comp_metrics.rmse_cv, names, metrics)


def _prefix_table(eligible, modifier_counts, names) -> pd.DataFrame:
    first = eligible.drop_duplicates("prefix").set_index("prefix")
    table = first[["sialic_acid_count", "_neutral_core"]].copy()
    mods = modifier_counts.reindex(first["row_id"]).fillna(0)
    for name in names:
        table[name] = mods[name].to_numpy()
    table["n_anchors"] = eligible.groupby("prefix")["Anchor"].apply(lambda a: int(a.eq(True).sum()))
    table["known"] = table["sialic_acid_count"].notna() & table["_neutral_core"].notna()
    return table


def _composition_model(anchored, anchors, slope, names):
    usable = anchored[anchored["known"]]
    if len(usable) < 4:
        return None, LevelMetrics("composition", 0, np.nan, np.nan)
    offset = (anchors["RT"] - slope * anchors["Log P"]).groupby(anchors["prefix"]).mean()
    y = offset.reindex(usable.index).to_numpy(float)
    x = composition_features(usable, names)
    weight = usable["n_anchors"].to_numpy(float)
    predicted = np.empty_like(y)
    for i in range(len(y)):  # leave one prefix out: honest error of a predicted offset
        keep = np.arange(len(y)) != i
        predicted[i] = x[i] @ fit_offsets(x[keep], y[keep], weight[keep])
    per_anchor = anchors[anchors["prefix"].isin(usable.index)]
    pred_rt = slope * per_anchor["Log P"] + per_anchor["prefix"].map(
        dict(zip(usable.index, predicted)))
    metrics = _metrics("composition", per_anchor["RT"].to_numpy(float),
                       (per_anchor["RT"] - pred_rt).to_numpy(float))
    return fit_offsets(x, y, weight), metrics


def _self_level_metrics(eligible, anchors, slope, scale) -> LevelMetrics:
    """Judge anchored prefixes as if anchorless; score their anchors against the found line."""
    ys, residuals = [], []
    for prefix, rows in eligible[eligible["prefix"].isin(anchors["prefix"])].groupby("prefix"):
        if len(rows) < 2:
            continue
        u = (rows["RT"] - slope * rows["Log P"]).to_numpy(float)
        line = densest_line(u, rows["tail"].fillna("").to_numpy(object), 2 * scale, np.median(u))
        a = rows[rows["Anchor"].eq(True)]
        ys.append(a["RT"].to_numpy(float))
        residuals.append((a["RT"] - slope * a["Log P"] - line).to_numpy(float))
    if not ys:
        return LevelMetrics("self", 0, np.nan, np.nan)
    return _metrics("self", np.concatenate(ys), np.concatenate(residuals))


def judge_prefixes(eligible: pd.DataFrame, modifier_counts: pd.DataFrame, rule1: pd.DataFrame,
                   own: pd.DataFrame, params: AnalysisParams, fragments: pd.Series
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Algorithm 2.0 Rule 1 columns for every eligible row, and the level metrics table.

    ``rule1`` and ``own`` are the 1.0 per-row columns and regression table: a prefix whose own
    model was accepted keeps its 1.0 line (floored by the typical own-model scale).
    ``fragments`` marks Rule 5 fragments: at their parent's RT they would form false parallel
    lines (fragments of one parent series sit at a constant offset from their own line), so they
    are judged against the lines but never shape one.
    """
    ctx = build_context(eligible, modifier_counts, own, params)
    own_by_prefix = own.set_index("prefix")
    lines = {}
    for prefix, rows in eligible.groupby("prefix", sort=False):
        lines[prefix] = _main_line(rows, rule1.loc[rows.index], own_by_prefix.loc[prefix], ctx,
                                   modifier_counts, ~fragments.loc[rows.index].to_numpy(bool))
    parallel = _family_lines(eligible, lines, fragments, params)
    parts = [_verdicts(rows, prefix, lines[prefix], parallel.get(rows["base_prefix"].iloc[0], []),
                       params, fragments.loc[rows.index].to_numpy(bool))
             if lines[prefix] else _undecided(rows, prefix)
             for prefix, rows in eligible.groupby("prefix", sort=False)]
    out = pd.concat(parts).reindex(eligible.index)
    levels = pd.DataFrame([m.as_record() for m in ctx.metrics.values()])
    return out, levels


@dataclass(frozen=True)
class MainLine:
    """The line a prefix is judged by, and the level that gave it."""

    level: str
    n: int
    r2: float
    predicted: np.ndarray
    scale: float


def _main_line(rows, rule1_rows, group, ctx: PooledContext, modifier_counts, shaping
               ) -> MainLine | None:
    """The best available line of one prefix (module docstring); None if no level applies."""
    anchors = rows["Anchor"].eq(True).to_numpy()
    tails = rows["tail"].fillna("").to_numpy(object)
    if bool(group["accepted"]):
        return MainLine("prefix", int(group["n_anchors"]), float(group["r2_cv"]),
                        rule1_rows["predicted_rt"].to_numpy(float),
                        max(float(group["rmse_cv"]), ctx.prefix_scale))
    u = (rows["RT"] - ctx.slope * rows["Log P"]).to_numpy(float)
    prior = _composition_offset(rows, ctx, modifier_counts)
    if anchors.any():
        level, n, offset = "pooled", int(anchors.sum()), float(u[anchors].mean())
        scale = ctx.scale * np.sqrt(1 + 1 / n)
    elif len(set(tails[shaping])) >= 2:
        level, n, scale = "self", int(shaping.sum()), ctx.scale
        offset = densest_line(u[shaping], tails[shaping], 2 * ctx.scale,
                              prior if prior is not None else float(np.median(u[shaping])))
    elif prior is not None and not np.isnan(ctx.composition_rmse):
        level, n, offset = "composition", int(shaping.sum()), prior
        scale = float(np.hypot(ctx.scale, ctx.composition_rmse))
    else:
        return None
    log_p = rows["Log P"].to_numpy(float)
    predicted = ctx.slope * log_p + offset
    if level in ("pooled", "self"):
        predicted = refit_on_members(log_p, rows["RT"].to_numpy(float), predicted, shaping,
                                     REFIT_BAND * scale)
    return MainLine(level, n, ctx.metrics[level].r2_cv, predicted, scale)


def refit_on_members(log_p, rt, predicted, shaping, band) -> np.ndarray:
    """Let a prefix's own peaks tilt its line when they span enough Log P.

    Slopes differ a little between head groups (1.28-1.42 min per unit on the sample), which over
    a wide Log P range moves the line by more than the RT scatter. The peaks already on the
    line (within ``band``, fragments excluded) refit slope and offset by least squares when there
    are at least ``REFIT_MIN_PEAKS`` of them spread over ``REFIT_MIN_SPAN`` Log P units.
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


def _family_lines(eligible, lines: dict, fragments: pd.Series, params) -> dict[str, list[float]]:
    """Parallel isomer lines per isomer-capable series, from all its prefixes together.

    Positional isomers differ in where a sialic acid sits on the core, which extra modifiers do
    not change: GD1, GD1+OAc and GD1+dHex share their isomer offsets. Pooling the series'
    prefixes lets a small prefix's isomer peaks join a line that its family shows across
    >= ``SERIES_MIN_TAILS`` distinct (prefix, tail) names.
    """
    found = {}
    for base, rows in eligible[eligible["base_prefix"].isin(ISOMER_SERIES)].groupby(
            "base_prefix", sort=False):
        residual, keys, scales = [], [], []
        for prefix, prefix_rows in rows.groupby("prefix", sort=False):
            line = lines[prefix]
            if line is None:
                continue
            keep = ~fragments.loc[prefix_rows.index].to_numpy(bool)
            residual.append((prefix_rows["RT"].to_numpy(float) - line.predicted)[keep])
            keys.append((prefix + "|" + prefix_rows["tail"].fillna("")).to_numpy(object)[keep])
            scales.append(line.scale)
        if residual:
            width = params.outlier_threshold * float(np.median(scales))
            found[base] = isomer_lines(np.concatenate(residual), np.concatenate(keys), width)
    return found


def _composition_offset(rows, ctx: PooledContext, modifier_counts) -> float | None:
    first = rows.iloc[[0]]
    if ctx.offsets_coef is None or first["sialic_acid_count"].isna().any() \
            or first["_neutral_core"].isna().any():
        return None
    mods = modifier_counts.reindex(first["row_id"]).fillna(0)
    if set(mods.columns[(mods != 0).any()]) - set(ctx.modifier_names):
        return None
    table = first[["sialic_acid_count", "_neutral_core"]].copy()
    for name in ctx.modifier_names:
        table[name] = mods[name].to_numpy() if name in mods else 0
    return float((composition_features(table, ctx.modifier_names) @ ctx.offsets_coef)[0])


def _verdicts(rows, prefix, line: MainLine, parallel: list[float], params,
              explained: np.ndarray) -> pd.DataFrame:
    """Status, z, isomer line and confidence of every row of one prefix."""
    level, n, r2, predicted, scale = line.level, line.n, line.r2, line.predicted, line.scale
    residual = rows["RT"].to_numpy(float) - predicted
    lines = [0.0, *(own_offset(residual[~explained], offset, params.outlier_threshold * scale)
                    for offset in parallel)]
    distance = residual[:, None] - np.array(lines)[None, :]
    nearest = np.argmin(np.abs(distance), axis=1)
    off_line = distance[np.arange(len(rows)), nearest]
    z = off_line / scale
    outlier = np.abs(z) >= params.outlier_threshold
    out = pd.DataFrame(index=rows.index)
    out["rule1_status"] = np.where(outlier, "outlier", "valid")
    out["rule1_model"], out["rule1_model_n"], out["rule1_model_r2_cv"] = level, n, r2
    out["predicted_rt"] = predicted + np.array(lines)[nearest]
    out["residual"], out["z"], out["rule1_scale"] = off_line, z, scale
    out["isomer_series"] = pd.array(np.where(outlier, 0, nearest + 1), dtype="Int64")
    out.loc[outlier, "isomer_series"] = pd.NA
    out["confidence"] = np.where(outlier, 1 - _p_correct(z, scale), _p_correct(z, scale))
    out["anchor_disagrees"] = outlier & rows["Anchor"].eq(True).to_numpy()
    out["rule1_series_offset"] = np.where(~outlier & (nearest > 0),
                                          np.array(lines)[nearest], np.nan)
    out["_rule1_note"] = _notes(prefix, level, n, r2, out, lines, params)
    return out


def _p_correct(z: np.ndarray, scale: float) -> np.ndarray:
    density = np.exp(-0.5 * z ** 2) / (np.sqrt(2 * np.pi) * scale)
    return PRIOR_CORRECT * density / (PRIOR_CORRECT * density + (1 - PRIOR_CORRECT) / MISID_SPAN)


def _notes(prefix, level, n, r2, out, lines, params) -> list[str]:
    model = f"{level} model for {prefix} (n = {n}, CV R² {'n/a' if np.isnan(r2) else fixed3(r2)})"
    notes = []
    for status, series, z, pred, s in out[["rule1_status", "isomer_series", "z", "predicted_rt",
                                           "rule1_scale"]].itertuples(index=False):
        if status == "outlier":
            notes.append(f"Rule 1: outlier, |z| = {fixed3(abs(z))} ≥ "
                         f"{params.outlier_threshold:g} off every line of the {model}, "
                         f"s = {fixed3(s)} min")
        elif series > 1:
            notes.append(f"Rule 1: isomer peak on parallel line {series} "
                         f"({signed3(lines[series - 1])} min) of the {model} (z = {fixed3(z)})")
        else:
            notes.append(f"Rule 1: fits the {model} (z = {fixed3(z)}, s = {fixed3(s)} min)")
    return notes


def _undecided(rows, prefix) -> pd.DataFrame:
    out = pd.DataFrame(index=rows.index)
    anchor = rows["Anchor"].eq(True).to_numpy()
    out["rule1_status"] = np.where(anchor, "valid", "unverified")
    out["rule1_model"], out["rule1_model_n"], out["rule1_model_r2_cv"] = "none", 0, np.nan
    for column in ("predicted_rt", "residual", "z", "rule1_scale", "confidence"):
        out[column] = np.nan
    out["isomer_series"] = pd.array([pd.NA] * len(rows), dtype="Int64")
    out["anchor_disagrees"], out["rule1_series_offset"] = False, np.nan
    out["_rule1_note"] = np.where(
        anchor, f"Rule 1: anchor (no model for {prefix} at any level)",
        f"Rule 1: unverified, no model for {prefix} at any level (no anchor, one peak, "
        "composition not predictable)")
    return out


def fragment_confidence(rt_diff: pd.Series, tolerance: float) -> pd.Series:
    """Confidence of a fragment verdict: 1 at the parent's RT, 0.5 at the edge of the tolerance."""
    return 1 - 0.5 * (rt_diff.abs() / tolerance).clip(upper=1.0)


V2_RULE1_COLUMNS = ["rule1_model", "rule1_model_n", "rule1_model_r2_cv", "isomer_series"]
REPLACED_WARNINGS = ("groups_without_model", "model_rejected", "anchor_disagrees")


def judge_v2(eligible: pd.DataFrame, modifier_counts: pd.DataFrame, rule1: pd.DataFrame,
             groups: pd.DataFrame, warnings: list[AnalysisWarning], params: AnalysisParams,
             rule5: pd.DataFrame
             ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[AnalysisWarning]]:
    """Replace the 1.0 Rule 1 verdicts by 2.0's; returns rows, groups, levels and warnings."""
    judged, levels = judge_prefixes(eligible, modifier_counts, rule1, groups, params,
                                    rule5["rule5_role"].eq("fragment"))
    judged = with_fragment_confidence(judged, rule5, params)
    groups = _groups_v2(groups, judged, eligible)
    kept = [w for w in warnings if w.code not in REPLACED_WARNINGS]
    return judged, groups, levels, kept + list(_warnings_v2(groups, judged, eligible))


def _groups_v2(groups: pd.DataFrame, judged: pd.DataFrame, eligible: pd.DataFrame) -> pd.DataFrame:
    by_prefix = judged.assign(prefix=eligible["prefix"]).groupby("prefix", sort=False)
    status = by_prefix["rule1_status"]
    counts = pd.DataFrame({
        "judged_by": by_prefix["rule1_model"].first(),
        "n_valid": status.apply(lambda s: int((s == "valid").sum())),
        "n_outlier": status.apply(lambda s: int((s == "outlier").sum())),
        "n_unverified": status.apply(lambda s: int((s == "unverified").sum())),
        "n_anchor_disagrees": by_prefix["anchor_disagrees"].sum().astype(int),
        "isomer_lines": by_prefix["isomer_series"].max().fillna(1).astype(int),
    })
    out = groups.drop(columns=["n_valid", "n_outlier", "n_unverified", "n_anchor_disagrees"])
    return out.merge(counts, left_on="prefix", right_index=True, how="left")


def _warnings_v2(groups: pd.DataFrame, judged: pd.DataFrame, eligible: pd.DataFrame):
    for record in groups.itertuples(index=False):
        if not record.accepted and record.n_anchors >= 1 and record.reason and \
                "required anchors" not in record.reason:
            yield AnalysisWarning("model_rejected", "warning",
                                  f"{record.prefix}: own model rejected ({record.reason}); "
                                  f"judged by the {record.judged_by} model instead", (),
                                  record.prefix)
    disagree = eligible.loc[judged["anchor_disagrees"].astype(bool)]
    for prefix, rows in disagree.groupby("prefix", sort=False):
        ids = rows["row_id"].tolist()
        yield AnalysisWarning("anchor_disagrees", "warning",
                              f"{prefix}: {len(ids)} anchor(s) lie off every line of the model "
                              f"(rows {first_items(ids)})", tuple(ids), prefix)
    levels = groups["judged_by"].value_counts()
    yield AnalysisWarning("rule1_levels", "info", "Rule 1 prefixes judged by level: " + ", ".join(
        f"{level} {int(levels.get(level, 0))}" for level in (*LEVELS, "none")), ())
    undecided = groups[groups["judged_by"] == "none"]
    if len(undecided):
        rows = eligible.loc[judged["rule1_status"].eq("unverified"), "row_id"].tolist()
        yield AnalysisWarning("groups_without_model", "info",
                              f"{len(undecided)} prefixes could not be judged at any level; "
                              f"{len(rows)} rows are unverified", tuple(rows))


def with_fragment_confidence(rule1: pd.DataFrame, rule5: pd.DataFrame,
                             params: AnalysisParams) -> pd.DataFrame:
    """Fragments whose status is ``fragment`` take the confidence of that verdict."""
    if not params.apply_fragment_status:
        return rule1
    fragment = rule5["rule5_role"].eq("fragment")
    out = rule1.copy()
    out.loc[fragment, "confidence"] = fragment_confidence(
        rule5.loc[fragment, "rule5_rt_diff"], params.rt_tolerance)
    return out
