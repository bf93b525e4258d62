"""How in-source fragments look on a real peak table: the law behind the demo's fragments.

Every peak with at least one possible Rule 5 parent within ``rt_tolerance`` (0.1 min) is either
one of their fragments or a chance co-elution. Each (peak, candidate) pair gives |ΔRT| (rounded
to 0.001 min, as RTs are) and the log of the peak's share of the candidate's Volume. Per peak
the likelihood, relative to all its pairs being chance, is

    (1 - π) + π / k · Σ_j f(pair j) / g(pair j)

over its k candidates (which one is the parent is not known): ``f`` is a fragment's law, ``g``
a chance co-elution's, whose |ΔRT| is uniform over the window and whose Volume ratio is that of
two of the table's peaks, the smaller over the larger (log share half-normal below 0 with SD
√2 × the SD of log Volume: no free parameter). A fragment's log share is normal; for its |ΔRT|
three laws are fitted by maximum likelihood and compared by AIC (lower is better):

* ``one normal``: half-normal with one SD;
* ``two normals``: a tight core and a wider part (SDs and the core's share);
* ``laplace``: exponential |ΔRT| (a double-exponential ΔRT), with a 95 % profile-likelihood
  interval for its mean |ΔRT|.

``ganglioside.demo`` draws its fragments from the Laplace fit of the lab's sample.

Each candidate is equally likely to be the parent here. Rule 5 also favours a candidate that few
peaks could match in leaving the share above the detection limit (``fragment_model``), but that
weight is not a normalised density: a likelihood fit with it moves the share law to wherever the
weight is largest (on a 2,000-row demo table it returns a mean |ΔRT| of 0.0097 min for a true
0.0045), so the fit leaves it out.

    python bench/fragment_law.py                      # the lab's sample
    python bench/fragment_law.py path/to/peaks.csv
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import optimize, stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganglioside import AnalysisParams, read_table  # noqa: E402
from ganglioside.rules.fragments import rule5_candidates  # noqa: E402
from ganglioside.preprocess import preprocess  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "testwork_user.csv"
RT_STEP = 0.001  # min: RTs carry 3 decimals
CHI2_95 = 3.841  # 95 % quantile of chi-square with 1 degree of freedom


@dataclass(frozen=True)
class Pairs:
    """Every (co-eluting peak, candidate parent) pair of a table."""

    peak: np.ndarray  # per pair its peak, numbered 0..n-1
    abs_rt_diff: np.ndarray
    log_share: np.ndarray
    chance: np.ndarray  # per pair g: the chance co-elution's probability of its rounded values
    window: float


def coeluting_pairs(path: Path, params: AnalysisParams = AnalysisParams()) -> Pairs:
    """The Rule 5 candidate pairs of the table at ``path``."""
    pre = preprocess(read_table(path))
    eligible = pre.rows[pre.rows["_eligible"]]
    _, candidates = rule5_candidates(eligible, pre.modifier_counts, params)
    rt, volume = eligible["RT"].to_numpy(float), eligible["Volume"].to_numpy(float)
    abs_rt_diff = np.abs(rt[candidates.fragment] - rt[candidates.parent])
    log_share = np.log(volume[candidates.fragment] / volume[candidates.parent])
    log_volume_sd = float(np.std(np.log(volume[volume > 0])))
    low, high = _rounding_bin(abs_rt_diff)
    chance = ((np.minimum(high, params.rt_tolerance) - low) / params.rt_tolerance
              * 2 * stats.norm.pdf(log_share, 0, np.sqrt(2) * log_volume_sd))
    return Pairs(np.unique(candidates.fragment, return_inverse=True)[1], abs_rt_diff, log_share,
                 chance, params.rt_tolerance)


def rt_laws() -> dict:
    """Per law: (probability of a rounded |ΔRT| given the parameters, start values)."""
    def half_normal(x, sd):
        low, high = _rounding_bin(x)
        return 2 * (stats.norm.cdf(high, 0, sd) - stats.norm.cdf(low, 0, sd))

    def laplace(x, scale):
        low, high = _rounding_bin(x)
        return np.exp(-low / scale) - np.exp(-high / scale)

    return {
        "one normal": (lambda x, p: half_normal(x, np.exp(p[0])), [np.log(0.006)]),
        "two normals": (lambda x, p: (_logistic(p[2]) * half_normal(x, np.exp(p[0]))
                                      + (1 - _logistic(p[2])) * half_normal(x, np.exp(p[1]))),
                        [np.log(0.002), np.log(0.02), 0.0]),
        "laplace": (lambda x, p: laplace(x, np.exp(p[0])), [np.log(0.006)]),
    }


def negative_log_likelihood(pairs: Pairs, rt_law, p: np.ndarray) -> float:
    """Minus the log likelihood of the table's co-eluting peaks under ``rt_law`` with ``p``
    (the law's parameters, then the logit of π, the mean and log SD of a fragment's log
    share), relative to all of them being chance co-elutions."""
    k = len(p) - 3
    fragment = rt_law(pairs.abs_rt_diff, p[:k]) * stats.norm.pdf(pairs.log_share, p[k + 1],
                                                                 np.exp(p[k + 2]))
    n_peaks = int(pairs.peak.max()) + 1
    ratio = np.bincount(pairs.peak, fragment / pairs.chance, minlength=n_peaks)
    candidates = np.bincount(pairs.peak, minlength=n_peaks)
    prior = _logistic(p[k])
    return -float(np.sum(np.log((1 - prior) + prior * ratio / candidates)))


def fit(pairs: Pairs, rt_law, start: list[float], fixed: dict[int, float] | None = None
        ) -> tuple[np.ndarray, float]:
    """Maximum-likelihood parameters and the minimum of ``negative_log_likelihood``, with the
    parameters at the positions of ``fixed`` held at their values."""
    fixed = fixed or {}
    full = np.array([*start, 1.0, -3.5, np.log(1.5)])
    free = [i for i in range(len(full)) if i not in fixed]

    def objective(q):
        p = full.copy()
        p[free] = q
        p[list(fixed)] = list(fixed.values())
        return negative_log_likelihood(pairs, rt_law, p)

    def started_at(logit):  # a few starts for π: the likelihood can have several modes
        q = full[free]
        q[-3] = logit
        return q

    best = min((optimize.minimize(objective, started_at(logit), method="Nelder-Mead",
                                  options={"maxiter": 40000, "maxfev": 40000, "xatol": 1e-7,
                                           "fatol": 1e-9})
                for logit in (-1.0, 0.0, 1.0, 2.0)), key=lambda result: result.fun)
    p = full.copy()
    p[free] = best.x
    p[list(fixed)] = list(fixed.values())
    return p, float(best.fun)


def profile_interval(pairs: Pairs, rt_law, start: list[float], best: float,
                     grid: np.ndarray) -> tuple[float, float]:
    """95 % profile-likelihood interval of the law's first parameter (on its natural scale)
    over ``grid``."""
    inside = [value for value in grid
              if 2 * (fit(pairs, rt_law, start, {0: np.log(value)})[1] - best) <= CHI2_95]
    return min(inside), max(inside)


def _rounding_bin(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.maximum(x - RT_STEP / 2, 0), x + RT_STEP / 2


def _logistic(logit: float) -> float:
    return float(1 / (1 + np.exp(-logit)))


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE
    pairs = coeluting_pairs(path)
    n_peaks = int(pairs.peak.max()) + 1
    print(f"{path.name}: {n_peaks} peaks co-elute with {len(pairs.peak)} possible parents within "
          f"{pairs.window} min")
    for name, (rt_law, start) in rt_laws().items():
        p, nll = fit(pairs, rt_law, start)
        k = len(start)
        scales = {"one normal": f"SD {np.exp(p[0]):.4f}",
                  "two normals": f"SDs {np.exp(p[0]):.4f} ({_logistic(p[2]):.0%}) and "
                                 f"{np.exp(p[1]):.4f}",
                  "laplace": f"mean |ΔRT| {np.exp(p[0]):.4f}"}[name]
        print(f"{name:12s} AIC {2 * nll + 2 * len(p):6.1f}: fragments {_logistic(p[k]):.0%} of "
              f"the peaks, {scales} min, log share {p[k + 1]:.2f} ± {np.exp(p[k + 2]):.2f}")
        if name == "laplace":
            low, high = profile_interval(pairs, rt_law, start, nll,
                                         np.arange(0.0020, 0.0150, 0.0002))
            print(f"{'':12s} mean |ΔRT| 95 % interval {low:.4f}-{high:.4f} min")


if __name__ == "__main__":
    main()
