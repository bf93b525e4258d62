"""Rule 1 (spec 6): per-prefix regression of RT on Log P (and tail predictors), fitted on anchors.

The fit (predictor selection, standardization, ``BayesianRidge`` with defaults, the CV schedule)
is kept numerically identical to the established per-prefix method so that CV R² and RMSE stay
comparable with earlier results (spec 16). Scoring uses ``s = max(rmse_cv, rt_sd_floor)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import BayesianRidge
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from ..formatting import as_set, fixed3, first_items, signed3
from .grouping import RowArrays, in_row_order, pick, positions_by
from ..params import AnalysisParams
from ..result import AnalysisWarning

PREDICTORS = (("Log P", "log_p", "Log P"), ("carbons", "carbons", "carbons"),
              ("double_bonds", "double_bonds", "double bonds"))
"""(row column, regression-table suffix, display name) in priority order (spec 6.3)."""
VARIANCE_FLOOR = 0.01
CORRELATION_CUT = 0.95
SERIES_LINK_MIN = 0.15
SERIES_MIN_TAILS = 3
ISOMER_HINT = "; another peak of this name fits the model, so this peak may be a different isomer"

ROW_COLUMNS = ("rule1_status", "anchor_disagrees", "predicted_rt", "residual", "z", "rule1_scale",
               "rule1_series_offset")


@dataclass(frozen=True)
class GroupRows(RowArrays):
    """The columns Rule 1 reads, as arrays: all eligible rows, or one prefix group's."""

    row_id: np.ndarray
    anchor: np.ndarray
    rt: np.ndarray
    predictors: np.ndarray  # one column per PREDICTORS entry, NaN where unknown
    tail: np.ndarray  # integer codes; a missing tail has a code of its own
    can_have_isomers: np.ndarray

    @classmethod
    def of(cls, eligible: pd.DataFrame) -> "GroupRows":
        """Read the eligible rows once."""
        return cls(eligible["row_id"].to_numpy(),
                   eligible["Anchor"].astype(bool).to_numpy(),
                   eligible["RT"].to_numpy(float),
                   np.column_stack([eligible[col].astype(float).to_numpy()
                                    for col, _, _ in PREDICTORS]),
                   pd.factorize(eligible["tail"], use_na_sentinel=False)[0],
                   eligible["can_have_isomers"].to_numpy(bool))


@dataclass
class GroupFit:
    """The fitted model of one prefix group, or why there is none."""

    prefix: str
    n_rows: int
    n_anchors: int
    predictors: list[str] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    accepted: bool = False
    reason: str = ""
    notes: list[tuple[str, str]] = field(default_factory=list)  # (warning code, note text)
    scaler: StandardScaler | None = None
    model: BayesianRidge | None = None
    no_model: bool = False  # too few anchors (6.2), as opposed to rejected (6.7)


def select_predictors(anchors: np.ndarray) -> list[str]:
    """Spec 6.3: variance filter, correlation pruning, cap by anchor count; Log P as fallback.

    ``anchors`` holds the anchors' predictor columns in ``PREDICTORS`` order; a variance skips
    unknown values.
    """
    columns = {col: np.ascontiguousarray(anchors[:, i]) for i, (col, _, _) in enumerate(PREDICTORS)}
    kept = [col for col, values in columns.items() if np.nanvar(values, ddof=1) > VARIANCE_FLOOR]
    selected = kept[:1]
    for j in range(1, len(kept)):
        if kept[j] == "Log P":
            selected.append(kept[j])
            continue
        r = [abs(np.corrcoef(columns[kept[i]], columns[kept[j]])[0, 1]) for i in range(j)]
        if all(value <= CORRELATION_CUT for value in r):
            selected.append(kept[j])
    selected = selected[:max(1, 3 * len(anchors) // 10)]
    return selected or ["Log P"]


def cv_folds(n: int) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Spec 6.5: leave-one-out below 5 anchors, 3-fold below 10, else 5-fold (seed 42)."""
    positions = np.arange(n)
    if n < 5:
        return "leave-one-out", [(np.delete(positions, i), positions[i:i + 1]) for i in range(n)]
    k = 3 if n < 10 else 5
    return f"{k}-fold", list(KFold(n_splits=k, shuffle=True, random_state=42).split(positions))


def fit_group(prefix: str, group: GroupRows, params: AnalysisParams) -> GroupFit:
    """Fit, cross-validate and judge one prefix group's model (spec 6.2-6.7)."""
    n = int(group.anchor.sum())
    fit = GroupFit(prefix, len(group.rt), n)
    if n < params.min_anchors:
        fit.no_model = True
        fit.reason = f"{n} of {params.min_anchors} required anchors"
        return fit
    y = group.rt[group.anchor]
    if np.all(y == y[0]):
        fit.reason = "anchor RTs do not vary"
        return fit
    anchors = group.predictors[group.anchor]
    fit.predictors = select_predictors(anchors)
    try:
        _fit_and_validate(fit, predictor_matrix(anchors, fit.predictors), y)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
        fit.metrics, fit.scaler, fit.model = {}, None, None
        fit.reason = f"fit failed: {error}"
        return fit
    _judge(fit, n, params)
    return fit


def predictor_matrix(predictors: np.ndarray, selected: list[str]) -> np.ndarray:
    """The selected predictor columns, column-major as ``DataFrame.to_numpy`` gives them (the
    scaler's and the model's sums then run in the established order, to the last bit)."""
    names = [col for col, _, _ in PREDICTORS]
    return np.asfortranarray(predictors[:, [names.index(col) for col in selected]])


def _fit_and_validate(fit: GroupFit, x: np.ndarray, y: np.ndarray) -> None:
    # Finite data skip scikit-learn's repeated input checks (same numbers, less overhead);
    # anything else goes through them and fails with their message.
    finite = bool(np.isfinite(x).all() and np.isfinite(y).all())
    with sklearn.config_context(assume_finite=finite, skip_parameter_validation=finite):
        scaler = StandardScaler().fit(x)
        xs = scaler.transform(x)
        model = BayesianRidge().fit(xs, y)
        method, folds = cv_folds(len(y))
        y_cv = np.empty_like(y)
        for train, test in folds:
            y_cv[test] = BayesianRidge().fit(xs[train], y[train]).predict(xs[test])
        y_train = model.predict(xs)
    n, p = len(y), xs.shape[1]
    total = float(np.sum((y - y.mean()) ** 2))
    r2_cv = 1 - float(np.sum((y - y_cv) ** 2)) / total
    coef = model.coef_
    fit.scaler, fit.model = scaler, model
    fit.metrics = {
        "cv_method": method,
        "r2_cv": r2_cv,
        "rmse_cv": float(np.sqrt(np.mean((y - y_cv) ** 2))),
        "r2_train": 1 - float(np.sum((y - y_train) ** 2)) / total,
        "adjusted_r2": 1 - (1 - r2_cv) * (n - 1) / (n - p - 1) if n > p + 1 else np.nan,
        "bayes_alpha": float(model.alpha_),
        "bayes_lambda": float(model.lambda_),
        "intercept_std": float(model.intercept_),
        "intercept_raw": float(model.intercept_ - np.sum(coef * scaler.mean_ / scaler.scale_)),
        "coef_std": dict(zip(fit.predictors, coef.astype(float))),
        "slope_raw": dict(zip(fit.predictors, (coef / scaler.scale_).astype(float))),
        "mean": dict(zip(fit.predictors, scaler.mean_.astype(float))),
        "sd": dict(zip(fit.predictors, scaler.scale_.astype(float))),
    }


def _judge(fit: GroupFit, n: int, params: AnalysisParams) -> None:
    """Acceptance (6.7) and the informational group notes."""
    m = fit.metrics
    fit.accepted = m["r2_cv"] >= params.r2_threshold
    if not fit.accepted:
        fit.reason = (f"CV R² {m['r2_cv']:.3f} below threshold {params.r2_threshold:.2f}")
    if n == len(fit.predictors):
        fit.notes.append(("exactly_determined",
                          "as many predictors as anchors; the fit relies on regularization"))
    if m["r2_cv"] > 0.98 and n < 10:
        fit.notes.append(("few_anchors",
                          f"CV R² {m['r2_cv']:.3f} from only {n} anchors: treat with caution"))
    if fit.accepted and "Log P" in fit.predictors and m["slope_raw"]["Log P"] <= 0:
        fit.notes.append(("log_p_slope_not_positive", "RT does not increase with Log P"))


def equation(intercept: float, coefs: dict[str, float], standardized: bool) -> str:
    """``RT = 7.2894 + 1.3519*Log P - 0.0721*double bonds`` (spec 6.8)."""
    names = {col: display for col, _, display in PREDICTORS}
    text = f"RT = {intercept:.4f}"
    for col, value in coefs.items():
        term = f"z({names[col]})" if standardized else names[col]
        text += f" {'-' if value < 0 else '+'} {abs(value):.4f}*{term}"
    return text


def score_rows(fit: GroupFit, group: GroupRows, params: AnalysisParams,
               notes: bool = True) -> dict[str, np.ndarray]:
    """Rule 1 columns and (unless ``notes`` is false) notes for every row of one group (6.2, 6.9,
    6.10)."""
    n, anchor = len(group.rt), group.anchor
    out = {"anchor_disagrees": np.zeros(n, dtype=bool)}
    for col in ("predicted_rt", "residual", "z", "rule1_scale", "rule1_series_offset"):
        out[col] = np.full(n, np.nan)
    if not fit.accepted:
        out["rule1_status"] = pick(anchor, "valid", "unverified")
        why = (f"{fit.n_anchors} of {params.min_anchors} required anchors" if fit.no_model
               else f"model rejected: {fit.reason}")
        anchor_note = f"Rule 1: anchor (no model; {why})"
        other_note = (f"Rule 1: unverified, no model for {fit.prefix} ({fit.reason})"
                      if fit.no_model
                      else f"Rule 1: unverified, model for {fit.prefix} rejected ({fit.reason})")
        if notes:
            out["_rule1_note"] = pick(anchor, anchor_note, other_note)
        return out
    predicted = fit.model.predict(fit.scaler.transform(
        predictor_matrix(group.predictors, fit.predictors)))
    residual = group.rt - predicted
    s = max(fit.metrics["rmse_cv"], params.rt_sd_floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(residual == 0, 0.0, residual / s) if s == 0 else residual / s
    outlier = np.abs(z) >= params.outlier_threshold
    out.update(predicted_rt=predicted, residual=residual, z=z, rule1_scale=np.full(n, s))
    out["rule1_status"] = pick(outlier, "outlier", "valid")
    out["anchor_disagrees"] = outlier & anchor
    if notes:
        out["_rule1_note"] = np.array(
            _scored_notes(fit.prefix, anchor, outlier, z, predicted, s, params), dtype=object)
    return out


def _scored_notes(prefix, anchor, outlier, z, predicted, s, params) -> list[str]:
    thr, s_text = as_set(params.outlier_threshold), fixed3(s)
    notes = []
    for is_anchor, is_outlier, zi, pred in zip(anchor.tolist(), outlier.tolist(), z.tolist(),
                                               predicted.tolist()):
        if not is_outlier:
            notes.append(f"Rule 1: {'anchor, ' if is_anchor else ''}fits model {prefix} "
                         f"(z = {fixed3(zi)})")
        elif is_anchor:
            notes.append(f"Rule 1: anchor disagrees with model {prefix} (|z| = {fixed3(abs(zi))} "
                         f"≥ {thr}, predicted {fixed3(pred)} min, s = {s_text} min)")
        else:
            notes.append(f"Rule 1: outlier, |z| = {fixed3(abs(zi))} ≥ {thr} (model {prefix}, "
                         f"predicted {fixed3(pred)} min, s = {s_text} min)")
    return notes


def add_isomer_hints(group: GroupRows, scored: dict[str, np.ndarray]) -> None:
    """Append the isomer hint to non-anchor outliers whose name has a valid peak (6.9)."""
    status = scored["rule1_status"]
    valid_tails = np.unique(group.tail[status == "valid"])
    hinted = ((status == "outlier") & ~group.anchor & group.can_have_isomers
              & np.isin(group.tail, valid_tails))
    scored["_rule1_note"][hinted] += ISOMER_HINT


def mark_recurring_series(group: GroupRows, scored: dict[str, np.ndarray]) -> None:
    """Recurring series of outliers (6.9): runs of close residuals across enough tails."""
    outliers = np.flatnonzero(scored["rule1_status"] == "outlier")
    residual = scored["residual"]
    outliers = outliers[np.lexsort((group.row_id[outliers], residual[outliers]))]
    breaks = np.flatnonzero(np.diff(residual[outliers]) > SERIES_LINK_MIN) + 1
    for run in np.split(outliers, breaks):
        tails = len(np.unique(group.tail[run]))
        if tails < SERIES_MIN_TAILS:
            continue
        offset = float(np.median(residual[run]))
        scored["rule1_series_offset"][run] = offset
        if "_rule1_note" not in scored:
            continue
        scored["_rule1_note"][run] += (
            f"; part of a series of {len(run)} peaks at {signed3(offset)} min from the line across "
            f"{tails} tails (possibly another isomer or a co-annotated species)")


def group_record(fit: GroupFit, scored: dict[str, np.ndarray]) -> dict:
    """One row of the regression table (13.2)."""
    m = fit.metrics
    record = {"prefix": fit.prefix, "n_rows": fit.n_rows, "n_anchors": fit.n_anchors,
              "predictors": "; ".join(_display(c) for c in fit.predictors) if m else "",
              "cv_method": m.get("cv_method")}
    for key in ("r2_cv", "rmse_cv", "r2_train", "adjusted_r2", "bayes_alpha", "bayes_lambda",
                "intercept_std", "intercept_raw"):
        record[key] = m.get(key, np.nan)
    for col, suffix, _ in PREDICTORS:
        for key in ("coef_std", "slope_raw", "mean", "sd"):
            record[f"{key}_{suffix}"] = m.get(key, {}).get(col, np.nan)
    record["equation_std"] = equation(m["intercept_std"], m["coef_std"], True) if m else None
    record["equation_raw"] = equation(m["intercept_raw"], m["slope_raw"], False) if m else None
    record["scale_s"] = scored["rule1_scale"][0] if fit.accepted else np.nan
    record.update(accepted=fit.accepted, reason="" if fit.accepted else fit.reason,
                  notes="; ".join(text for _, text in fit.notes))
    status = scored["rule1_status"]
    record.update(n_valid=int((status == "valid").sum()),
                  n_outlier=int((status == "outlier").sum()),
                  n_unverified=int((status == "unverified").sum()),
                  n_anchor_disagrees=int(scored["anchor_disagrees"].sum()))
    return record


def _display(col: str) -> str:
    return next(display for c, _, display in PREDICTORS if c == col)


def run_rule1(eligible: pd.DataFrame, params: AnalysisParams,
              on_group_done: Callable[[str, int, int], None] | None = None, notes: bool = True
              ) -> tuple[pd.DataFrame, pd.DataFrame, list[AnalysisWarning]]:
    """Rule 1 over all prefix groups of the eligible rows (given in ``row_id`` order).

    Returns the per-row Rule 1 columns (indexed like ``eligible``, with ``_rule1_note`` unless
    ``notes`` is false: algorithm 2.1 writes its own, and these cost a third of this step), the
    regression table and the warnings, in the order found.
    """
    rows = GroupRows.of(eligible)
    warnings: list[AnalysisWarning] = []
    if not rows.anchor.any():
        warnings.append(AnalysisWarning(
            "no_anchors", "warning", "No eligible row is an anchor: nothing can be verified."))
    positions, scored_parts, records, without_model = [], [], [], []
    groups = positions_by(eligible["prefix"])
    for i, (prefix, at) in enumerate(groups, start=1):
        group = rows.take(at)
        fit = fit_group(prefix, group, params)
        scored = score_rows(fit, group, params, notes)
        if fit.accepted:
            if notes:
                add_isomer_hints(group, scored)
            mark_recurring_series(group, scored)
        positions.append(at)
        scored_parts.append(scored)
        records.append(group_record(fit, scored))
        warnings.extend(_group_warnings(fit, group, scored))
        if fit.no_model:
            without_model.append(group.row_id[~group.anchor])
        if on_group_done:
            on_group_done(prefix, i, len(groups))
    if without_model:
        ids = np.concatenate(without_model).tolist()
        warnings.append(AnalysisWarning(
            "groups_without_model", "info",
            f"{len(without_model)} prefixes have fewer than {params.min_anchors} anchors and no "
            f"model; {len(ids)} non-anchor rows are unverified", tuple(ids)))
    return (_per_row(eligible.index, positions, scored_parts, notes),
            _regression_table(records), warnings)


def _regression_table(records: list[dict]) -> pd.DataFrame:
    """The regression table (13.2), one row per group record."""
    if not records:
        return pd.DataFrame(columns=REGRESSION_COLUMNS)
    return pd.DataFrame({column: [record[column] for record in records]
                         for column in REGRESSION_COLUMNS})


def _per_row(index: pd.Index, positions: list[np.ndarray],
             parts: list[dict[str, np.ndarray]], notes: bool) -> pd.DataFrame:
    """The groups' columns as one table in the eligible rows' order."""
    columns = [*ROW_COLUMNS, "_rule1_note"] if notes else ROW_COLUMNS
    if not parts:
        return pd.DataFrame(columns=columns, index=index)
    values = {column: np.concatenate([part[column] for part in parts]) for column in columns}
    return in_row_order(values, positions, index)


def _group_warnings(fit: GroupFit, group: GroupRows, scored: dict[str, np.ndarray]):
    for code, text in fit.notes:
        severity = "warning" if code == "log_p_slope_not_positive" else "info"
        yield AnalysisWarning(code, severity, f"{fit.prefix}: {text}", (), fit.prefix)
    if not fit.accepted and not fit.no_model:
        yield AnalysisWarning("model_rejected", "warning",
                              f"{fit.prefix}: model rejected ({fit.reason}); its non-anchor rows "
                              "are unverified", (), fit.prefix)
    disagree = group.row_id[scored["anchor_disagrees"]].tolist()
    if disagree:
        yield AnalysisWarning("anchor_disagrees", "warning",
                              f"{fit.prefix}: {len(disagree)} anchor(s) disagree with the model "
                              f"(rows {first_items(disagree)})", tuple(disagree), fit.prefix)


REGRESSION_COLUMNS = [
    "prefix", "n_rows", "n_anchors", "predictors", "cv_method", "r2_cv", "rmse_cv", "r2_train",
    "adjusted_r2", "bayes_alpha", "bayes_lambda", "intercept_std", "intercept_raw",
    *[f"{key}_{suffix}" for _, suffix, _ in PREDICTORS
      for key in ("coef_std", "slope_raw", "mean", "sd")],
    "equation_std", "equation_raw", "scale_s", "accepted", "reason", "notes", "n_valid",
    "n_outlier", "n_unverified", "n_anchor_disagrees",
]
