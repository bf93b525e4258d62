"""How in-source fragments look on a real peak table: the law behind the demo's fragments.

Algorithm 1.0 calls every peak with a possible parent within ``rt_tolerance`` (0.1 min) a
fragment: true fragments and chance co-elutions together. Each such pair gives |ΔRT| (rounded to
0.001 min, as RTs are) and the log of the peak's share of the parent's Volume. A mixture of
fragments and chance co-elutions is fitted by maximum likelihood. A chance co-elution has |ΔRT|
uniform over the window and the Volume ratio of two peaks of the table, the smaller over the
larger: its log share is half-normal below 0 with SD √2 × the SD of log Volume (no free
parameter). A fragment's log share is normal; for its |ΔRT| three laws are compared:

* ``one normal``: half-normal with one SD;
* ``two normals``: a tight core and a wider part (SDs and the core's share);
* ``laplace``: exponential |ΔRT| (a double-exponential ΔRT).

The fits are compared by AIC (lower is better); ``ganglioside.demo`` draws its fragments from
the best.

    python bench/fragment_law.py                      # the lab's sample
    python bench/fragment_law.py path/to/peaks.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy import optimize, stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganglioside import AnalysisParams, analyze, read_table  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "testwork_user.csv"
RT_STEP = 0.001  # min: RTs carry 3 decimals


def coeluting_pairs(path: Path) -> tuple[np.ndarray, np.ndarray, float, float]:
    """|ΔRT| and log Volume share of every pair 1.0 calls a fragment, the window width, and the
    SD of log Volume over the table's peaks."""
    params = AnalysisParams(algorithm_version="1.0")
    rows = analyze(read_table(path), params).rows.set_index("row_id")
    called = rows[rows["rule5_role"] == "fragment"]
    parents = rows.loc[called["rule5_parent_row_id"].astype(int)]
    share = called["Volume"].to_numpy(float) / parents["Volume"].to_numpy(float)
    volume = rows["Volume"].to_numpy(float)
    return (called["rule5_rt_diff"].abs().to_numpy(float), np.log(share),
            params.rt_tolerance, float(np.std(np.log(volume[volume > 0]))))


def rt_laws(x: np.ndarray) -> dict:
    """Per law: (probability of each rounded |ΔRT| given parameters, start values)."""
    low, high = np.maximum(x - RT_STEP / 2, 0), x + RT_STEP / 2

    def half_normal(sd):
        return 2 * (stats.norm.cdf(high, 0, sd) - stats.norm.cdf(low, 0, sd))

    return {
        "one normal": (lambda p: half_normal(np.exp(p[0])), [np.log(0.006)]),
        "two normals": (lambda p: (_share(p[2]) * half_normal(np.exp(p[0]))
                                   + (1 - _share(p[2])) * half_normal(np.exp(p[1]))),
                        [np.log(0.002), np.log(0.02), 0.0]),
        "laplace": (lambda p: np.exp(-low / np.exp(p[0])) - np.exp(-high / np.exp(p[0])),
                    [np.log(0.006)]),
    }


def fit(x: np.ndarray, log_share: np.ndarray, window: float, log_volume_sd: float, rt_law,
        start) -> tuple:
    """Maximum likelihood of fragments (``rt_law``, normal log share) plus chance co-elutions:
    the parameters and the AIC."""
    k = len(start)
    chance = ((np.minimum(x + RT_STEP / 2, window) - np.maximum(x - RT_STEP / 2, 0)) / window
              * 2 * stats.norm.pdf(log_share, 0, np.sqrt(2) * log_volume_sd))

    def negative_log_likelihood(p):
        prior = _share(p[k])
        fragment = rt_law(p[:k]) * stats.norm.pdf(log_share, p[k + 1], np.exp(p[k + 2]))
        return -np.sum(np.log(prior * fragment + (1 - prior) * chance))

    best = min((optimize.minimize(negative_log_likelihood, [*start, logit, -3.5, np.log(1.5)],
                                  method="Nelder-Mead",
                                  options={"maxiter": 40000, "maxfev": 40000, "xatol": 1e-7,
                                           "fatol": 1e-9})
                for logit in (-1.0, 0.0, 1.0, 2.0)), key=lambda result: result.fun)
    return best.x, 2 * best.fun + 2 * len(best.x)


def _share(logit: float) -> float:
    return float(1 / (1 + np.exp(-logit)))


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE
    x, log_share, window, log_volume_sd = coeluting_pairs(path)
    print(f"{path.name}: {len(x)} co-eluting pairs within {window} min; "
          f"{int((x <= 0.01).sum())} within 0.01 min")
    for name, (rt_law, start) in rt_laws(x).items():
        p, aic = fit(x, log_share, window, log_volume_sd, rt_law, start)
        k = len(start)
        scales = {"one normal": f"SD {np.exp(p[0]):.4f}",
                  "two normals": f"SDs {np.exp(p[0]):.4f} ({_share(p[2]):.0%}) and "
                                 f"{np.exp(p[1]):.4f}",
                  "laplace": f"mean |ΔRT| {np.exp(p[0]):.4f}"}[name]
        print(f"{name:12s} AIC {aic:6.1f}: fragments {_share(p[k]):.0%} of pairs, ΔRT {scales} "
              f"min, log share {p[k + 1]:.2f} ± {np.exp(p[k + 2]):.2f}")


if __name__ == "__main__":
    main()
