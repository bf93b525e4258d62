"""Rule 5, algorithm 2.0: is a co-eluting smaller glycan an in-source fragment or a peak of its own?

Rule 5's criteria (spec 9.2-9.3: same tail, a glycan contained in the other's with fewer sugars,
a smaller Volume, RT within ``rt_tolerance``) name every *possible* parent of a peak. Algorithm 1.0
calls every peak with a possible parent a fragment. But on reversed phase the glycans of one tail
elute within a few tenths of a minute of each other, so many real peaks co-elute with a larger
glycan by chance. 2.0 weighs two explanations of each such peak, from its RT and its Volume:

* **a peak of its own**: its RT follows its own head group's line (the Rule 1 2.0 residual model:
  N(0, s²) around the nearest line, or anywhere within ``MISID_SPAN`` for a misidentification),
  and its Volume is an ordinary Volume of this run (a normal on log Volume fitted to all peaks
  that take part in Rule 5);
* **an in-source fragment of a possible parent p**: it elutes at p's apex (ΔRT double exponential,
  i.e. Laplace, with mean |ΔRT| ``coelution_scale``: most fragments at the apex, a few up to a few
  hundredths of a minute off, which fits the lab's sample better than one normal law;
  ``bench/fragment_law.py``) and carries a share of p's Volume (log of the ratio normal with mean
  ``log_ratio_mean`` and SD ``log_ratio_sd``). A parent loses sugars towards any of the smaller
  glycans of its tail seen in the run with equal chance (1 / ``parent_choices``), and it should be
  a peak of its own: a parent counts with weight 1 − P(parent is a fragment), so a chain of losses
  is charged to the compound that really eluted as far as the evidence tells them apart.

Only fragments above the detection limit are seen, and a small share stays above it only when the
parent is large. The share law learned from the run is therefore the law of *detected* fragments:
it counts a small share once for every peak large enough to leave it, and a given parent makes
that share less often than the learned law says. So each pair's density is divided by the number
of the run's peaks that could leave a fragment of its share above the limit (the 1st percentile
of the Volumes stands for the limit, or the fragment's own Volume where that is lower), relative
to that number at the typical share (``DetectionLimit``). Between a large and a middling
co-eluting parent, whose shares the learned law finds equally likely, the large one is the
likelier parent; and a peak that carries most of a parent's Volume, which any peak of the run
could leave, is more often a coincidence than the learned law says.

The weight is relative to the typical share so that a fragment of that share keeps the weight it
had without it. It is not normalised: averaged over the learned law it is 1.8 on the lab's
sample and 2.8 on a 1,000-row demo table, since the rare smallest shares, which only the largest
peaks could leave, weigh most. Normalised to average 1, or relative to all of the run's peaks,
it did worse on the benchmark (too few fragments, and too many; 15 and 21 of 30 seeds meeting
every target against 28).

One compound gives one peak per line. When another peak of the same name sits on the same Rule 1
line (a rival), this peak can be a peak of its own only if the rival is a fragment or a
misidentification; an anchor or a peak with no possible parent as rival makes a co-eluting peak a
fragment. This holds for series without isomers, and for a prefix whose isomers are anchored
(each has its own line, ``rule1_pooled``): elsewhere in GD1, GT1, GQ1 and GM1 a second peak near
the line may be another isomer (on the lab's sample GD1a and GD1b elute about 0.45 min apart,
inside one line's band). The probabilities of rivals and parents are updated together with the
model.

The four numbers and the share of fragments among the peaks (``prior``) are learned from the run
itself by expectation-maximisation, each shrunk towards a chemist's default (``DEFAULT_MODEL``,
worth ``PRIOR_PAIRS`` pairs) so a small table still gets sensible values. Fragments gather on the
small glycans that many larger ones can lose sugars to (GM3, GM2, GD3), so the share of fragments
differs between head groups: each head group's own share is learned too, pooled with
``PREFIX_PRIOR_PEAKS`` peaks at the run's share. A peak is a fragment when its posterior probability
is at least ``DECISION`` (the Bayes decision for equal costs), and its parent is the most probable
candidate. Anchors are trusted identifications: never fragments, and they do not shape the learned
numbers; their probability is still reported, and a high one raises a warning.

Limits: a fragment whose own line passes through its parent's RT, with no rival, looks like a
peak of its own unless its Volume gives it away; a misidentified peak that co-elutes with a larger
glycan is called a fragment (it is flagged either way); between several co-eluting parents of
similar Volume the choice is close to a coin toss; two real peaks of one name split by the peak
picker count as rivals.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd

from ..formatting import fixed3, signed3
from .fragments import Candidates, anchor_fragment_warnings, rule5_columns
from ..params import AnalysisParams
from ..result import AnalysisWarning
from .rule1_pooled import MISID_SPAN, normal_density, p_correct, rt_density

DECISION = 0.5
PRIOR_PAIRS = 10.0
MAX_ITERATIONS = 200
CONVERGED = 1e-4  # the learned numbers are reported to 3 decimals
MIN_COELUTION_SCALE = 0.001  # min
MIN_LOG_RATIO_SD = 0.1
MIN_LOG_VOLUME_SD = 0.1
CHANGE_SETTLED = 0.01  # no P(fragment) moves by a percentage point any more
PREFIX_PRIOR_PEAKS = 20.0
SHOWN_HEAD_GROUPS = 3  # in the learned sentence: those with the largest share of fragments
DETECTION_QUANTILE = 0.01  # of the positive Volumes: the detection limit, robust to a stray row
LOG_TOLERANCE = 1e-9  # ln Volume: a parent counts among the peaks able to leave its own share


@dataclass(frozen=True)
class FragmentModel:
    """How in-source fragments of this run look: co-elution, Volume share and frequency."""

    coelution_scale: float  # min: mean |ΔRT| of a fragment from its parent's apex
    log_ratio_mean: float  # mean of ln(fragment Volume / parent Volume)
    log_ratio_sd: float
    prior: float  # share of the peaks that are fragments

    def pair_density(self, rt_diff: np.ndarray, log_ratio: np.ndarray,
                     parent_choices: np.ndarray) -> np.ndarray:
        """Density of a fragment's RT and log Volume given each candidate parent: a Laplace and
        a normal density multiplied, written with one exponential (the EM evaluates it for every
        pair in every round)."""
        ratio_z = (log_ratio - self.log_ratio_mean) / self.log_ratio_sd
        return (np.exp(-np.abs(rt_diff) / self.coelution_scale - 0.5 * ratio_z ** 2)
                / (2 * np.sqrt(2 * np.pi) * self.coelution_scale * self.log_ratio_sd
                   * parent_choices))

    def describe(self) -> str:
        """One sentence for the warnings list."""
        share = np.exp(self.log_ratio_mean)
        return (f"fragments co-elute with their parent within ±{fixed3(3 * self.coelution_scale)}"
                f" min (95 %), carry about {share:.1%} of its Volume (×/÷ "
                f"{np.exp(self.log_ratio_sd):.1f}) and make up {self.prior:.1%} of the peaks")


DEFAULT_MODEL = FragmentModel(coelution_scale=0.007, log_ratio_mean=float(np.log(0.15)),
                              log_ratio_sd=1.0, prior=0.05)
"""Before any data: apex co-elution within about ±0.02 min (95 %; the lab's sample shows a mean
|ΔRT| of 0.0045 min, 95 % interval 0.0028-0.0072), a fragment of 5-50 % of its parent, one peak
in twenty a fragment."""


@dataclass(frozen=True)
class DetectionLimit:
    """The run's detection limit (in ln) and the ln Volumes of its peaks: which of them are large
    enough to leave a fragment of a given share above the limit."""

    log_limit: float
    sorted_log_volume: np.ndarray

    @classmethod
    def of(cls, volume: np.ndarray) -> DetectionLimit:
        """The limit of a run with these Volumes: the ``DETECTION_QUANTILE`` of the positive
        ones, so that one stray small Volume (a mis-integrated peak) does not set it."""
        positive = volume[volume > 0]
        limit = float(np.log(np.quantile(positive, DETECTION_QUANTILE))) if len(positive) else (
            -np.inf)
        return cls(limit, np.sort(_log_volumes(volume)))

    def parents_able(self, log_share: np.ndarray, log_fragment: np.ndarray | float = np.inf
                     ) -> np.ndarray:
        """Per ln share (fragment / parent Volume), how many peaks could leave a fragment of
        that share at or above the limit, or at or above the fragment's own ln Volume
        ``log_fragment`` where that is lower (it was seen, so the run detects that much): a
        parent always counts itself."""
        lowest = np.minimum(self.log_limit, log_fragment) - log_share - LOG_TOLERANCE
        return np.maximum(len(self.sorted_log_volume)
                          - np.searchsorted(self.sorted_log_volume, lowest), 1)


@dataclass(frozen=True)
class PairEvidence:
    """The candidate pairs as the model sees them, ordered by fragment: each pair's fragment
    (numbered 0..n-1 over the participants), parent (position in the eligible rows, and among the
    participants), ΔRT, log Volume ratio and parent choices; per participant the density of being
    a peak of its own, and whether it is trusted (an anchor); per pair how many peaks could
    leave its share, and the run's detection limit."""

    fragment: np.ndarray
    parent: np.ndarray
    parent_participant: np.ndarray
    rt_diff: np.ndarray
    log_ratio: np.ndarray
    parent_choices: np.ndarray
    independent: np.ndarray
    trusted: np.ndarray
    rival: np.ndarray  # (n, 2): the same name's neighbouring peaks on the same line as
    # participants (n for a peak without Volume), -1 for none
    rival_misidentified: np.ndarray  # (n, 2): P(the rival is misidentified | its residual)
    prefix: np.ndarray  # per participant its head group (codes 0..k-1)
    parents_able: np.ndarray  # per pair: peaks that could leave its share (``DetectionLimit``)
    detection: DetectionLimit

    def posterior(self, model: FragmentModel, p_fragment: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Per participant P(fragment) (NaN without a candidate), and per pair P(fragment of
        that parent), given the current P(fragment) of every participant (of the parents and
        rivals)."""
        current = self._current(p_fragment)
        density = (model.pair_density(self.rt_diff, self.log_ratio, self.parent_choices)
                   * self._detected_weight(model) * (1 - current[self.parent_participant]))
        n = len(self.independent)
        prior = self._prefix_priors(model, current)
        fragment_density = prior * np.bincount(self.fragment, density, minlength=n)
        total = fragment_density + (1 - prior) * self.independent * self._line_free(current)
        settled = total > 0  # both densities can underflow far from every line and parent
        with np.errstate(invalid="ignore", divide="ignore"):
            p_fragment = np.where(self.has_candidate,
                                  np.where(settled, fragment_density / total, prior), np.nan)
            p_pair = prior[self.fragment] * density / total[self.fragment]
        return p_fragment, np.nan_to_num(p_pair, nan=0.0, posinf=0.0)

    @cached_property
    def has_candidate(self) -> np.ndarray:
        """Participants with at least one possible parent."""
        return np.bincount(self.fragment, minlength=len(self.independent)) > 0

    def most_probable_pair(self, p_pair: np.ndarray) -> np.ndarray:
        """Per participant the pair of its most probable parent (-1 without a candidate; the
        first on a tie)."""
        best = np.full(len(self.independent), -1)
        if not len(p_pair):
            return best
        starts = np.flatnonzero(np.diff(self.fragment, prepend=-1))
        top = np.repeat(np.maximum.reduceat(p_pair, starts), np.diff(np.append(starts,
                                                                                 len(p_pair))))
        first = np.minimum.reduceat(np.where(p_pair == top, np.arange(len(p_pair)), len(p_pair)),
                                    starts)
        best[self.fragment[starts]] = first
        return best

    def head_group_fragments(self, p_fragment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per head group (code) its expected number of fragments and its untrusted peaks (the
        run's share of fragments is counted over the untrusted peaks too)."""
        return self._head_group_fragments(self._current(p_fragment))

    def _head_group_fragments(self, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.bincount(self.prefix, current[:-1]), np.bincount(self.prefix, ~self.trusted)

    def _prefix_priors(self, model: FragmentModel, current: np.ndarray) -> np.ndarray:
        """Per participant its head group's share of fragments (``current`` from
        ``_current``), pooled with ``PREFIX_PRIOR_PEAKS`` peaks at the run's share."""
        return _pooled_shares(*self._head_group_fragments(current), model.prior)[self.prefix]

    def _detected_weight(self, model: FragmentModel) -> np.ndarray:
        """Per pair, how much more often a parent makes its share than the learned law of
        detected shares says: the peaks able to leave the typical share over those able to
        leave this one."""
        typical = self.detection.parents_able(np.array([model.log_ratio_mean]))[0]
        return typical / self.parents_able

    def _current(self, p_fragment: np.ndarray) -> np.ndarray:
        """P(fragment) of each participant as a parent or rival sees it (an anchor's is 0; one
        more entry, 0, for a peak without Volume)."""
        return np.append(np.where(self.trusted, 0.0, np.nan_to_num(p_fragment)), 0.0)

    def _line_free(self, current: np.ndarray) -> np.ndarray:
        """How likely each peak's place on its line is free for it: one compound gives one peak
        per line, so if another peak of the same name sits there (a rival), this peak can be
        a peak of its own only if the rival is a fragment or a misidentification (the minimum
        over the rivals before and after it)."""
        p_rival = current[self.rival]
        free = np.where(self.rival >= 0, p_rival + (1 - p_rival) * self.rival_misidentified, 1.0)
        return free.min(axis=1)


def fit_fragment_model(evidence: PairEvidence, tolerance: float
                       ) -> tuple[FragmentModel, np.ndarray, np.ndarray]:
    """Expectation-maximisation of the model on one run, shrunk towards ``DEFAULT_MODEL``; and
    under it each participant's P(fragment) and each pair's P(fragment of that parent)."""
    model = _default_model(tolerance)
    p_fragment = np.where(evidence.has_candidate, 0.5, np.nan)  # no view yet on who is one
    for _ in range(MAX_ITERATIONS):
        previous = p_fragment
        p_fragment, p_pair = evidence.posterior(model, p_fragment)
        updated = _m_step(evidence, p_pair, tolerance)
        settled = np.allclose(_as_array(updated), _as_array(model), rtol=0, atol=CONVERGED) and (
            np.nanmax(np.abs(p_fragment - previous), initial=0.0) < CHANGE_SETTLED)
        model = updated
        if settled:
            break
    p_fragment, p_pair = evidence.posterior(model, p_fragment)
    return model, p_fragment, p_pair


def _default_model(tolerance: float) -> FragmentModel:
    """``DEFAULT_MODEL``, 95 % of its co-elution within the RT tolerance."""
    return replace(DEFAULT_MODEL,
                   coelution_scale=min(DEFAULT_MODEL.coelution_scale, tolerance / 3))


def _pooled_shares(fragments: np.ndarray, peaks: np.ndarray, prior: float) -> np.ndarray:
    """Per head group its share of fragments pooled with ``PREFIX_PRIOR_PEAKS`` peaks at the
    run's share ``prior``."""
    return (fragments + PREFIX_PRIOR_PEAKS * prior) / (peaks + PREFIX_PRIOR_PEAKS)


def _m_step(evidence: PairEvidence, p_pair: np.ndarray, tolerance: float) -> FragmentModel:
    """The model's numbers from the pairs weighted by P(fragment of that parent), each pooled
    with ``PRIOR_PAIRS`` pseudo-pairs drawn from the default model; anchors count for nothing."""
    default = _default_model(tolerance)
    weight = np.where(evidence.trusted[evidence.fragment], 0.0, p_pair)
    total = weight.sum() + PRIOR_PAIRS
    mean = (weight @ evidence.log_ratio + PRIOR_PAIRS * default.log_ratio_mean) / total
    ratio_spread = (weight @ (evidence.log_ratio - mean) ** 2
                    + PRIOR_PAIRS * (default.log_ratio_sd ** 2
                                     + (default.log_ratio_mean - mean) ** 2)) / total
    coelution = (weight @ np.abs(evidence.rt_diff)
                 + PRIOR_PAIRS * default.coelution_scale) / total
    untrusted = int((~evidence.trusted).sum())
    return FragmentModel(
        coelution_scale=float(np.clip(coelution, MIN_COELUTION_SCALE, tolerance)),
        log_ratio_mean=float(min(mean, 0.0)),
        log_ratio_sd=float(max(np.sqrt(ratio_spread), MIN_LOG_RATIO_SD)),
        prior=float((weight.sum() + PRIOR_PAIRS * default.prior) / (untrusted + PRIOR_PAIRS)))


def judge_fragments(eligible: pd.DataFrame, at: np.ndarray, candidates: Candidates,
                    judged: pd.DataFrame, params: AnalysisParams
                    ) -> tuple[pd.DataFrame, pd.DataFrame, list[AnalysisWarning]]:
    """Rule 5 per-row columns (with ``rule5_fragment_probability``), events and warnings, from
    the participants at ``at``, their ``candidates`` and the Rule 1 2.0 columns ``judged``."""
    evidence = pair_evidence(eligible, at, candidates, judged)
    model, p_fragment, p_pair = fit_fragment_model(evidence, params.rt_tolerance)
    best = evidence.most_probable_pair(p_pair)
    is_fragment = (p_fragment >= DECISION) & ~evidence.trusted
    frag_at, parent_at = at[is_fragment], evidence.parent[best[is_fragment]]
    per_row, events = rule5_columns(
        eligible, at, frag_at, parent_at,
        [f"P(fragment) {fixed3(p)}" for p in p_fragment[is_fragment].tolist()])
    probability = np.full(len(eligible), np.nan)
    probability[at] = p_fragment
    per_row["rule5_fragment_probability"] = probability
    kept = ~is_fragment & ~np.isnan(p_fragment)
    per_row["_rule5_note"] = _with_kept_notes(
        per_row["_rule5_note"].to_numpy(object, copy=True), eligible, at[kept],
        evidence.parent[best[kept]], p_fragment[kept], evidence.trusted[kept])
    return per_row, events, list(_warnings(model, eligible, at, p_fragment, evidence))


def pair_evidence(eligible: pd.DataFrame, at: np.ndarray, candidates: Candidates,
                  judged: pd.DataFrame) -> PairEvidence:
    """The model's view of the participants at ``at`` and their candidate pairs."""
    volume = eligible["Volume"].to_numpy(float)[at]
    log_volume = _log_volumes(volume)
    detection = DetectionLimit.of(volume)
    on_line = _own_rt_density(judged)[at]
    spread = max(float(np.std(log_volume)), MIN_LOG_VOLUME_SD) if len(at) else 1.0
    independent = on_line * normal_density(
        log_volume, float(np.mean(log_volume)) if len(at) else 0.0, spread)
    compact = np.full(len(eligible), -1)
    compact[at] = np.arange(len(at))
    by_fragment = np.argsort(candidates.fragment, kind="stable")
    frag_at, parent_at = candidates.fragment[by_fragment], candidates.parent[by_fragment]
    fragment = compact[frag_at]
    log_ratio = log_volume[fragment] - log_volume[compact[parent_at]]
    rt = eligible["RT"].to_numpy(float)
    return PairEvidence(fragment=fragment, parent=parent_at,
                        parent_participant=compact[parent_at],
                        rt_diff=rt[frag_at] - rt[parent_at], log_ratio=log_ratio,
                        parent_choices=candidates.parent_choices[by_fragment].astype(float),
                        independent=independent,
                        trusted=eligible["Anchor"].eq(True).to_numpy()[at],
                        prefix=pd.factorize(eligible["prefix"].to_numpy(object)[at])[0],
                        parents_able=detection.parents_able(log_ratio, log_volume[fragment]),
                        detection=detection,
                        **_rivals(eligible, at, judged))


def _own_rt_density(judged: pd.DataFrame) -> np.ndarray:
    """Density of each row's RT as a peak of its own: Rule 1 2.1 gives it (its lines weighed);
    for 2.0 it is the two-part residual model at z (uniform without a line)."""
    if "_rt_density" in judged:
        return judged["_rt_density"].to_numpy(float)
    z, scale = judged["z"].to_numpy(float), judged["rule1_scale"].to_numpy(float)
    return np.where(np.isnan(z), 1 / MISID_SPAN, rt_density(np.nan_to_num(z), scale))


def _misidentified(judged: pd.DataFrame) -> np.ndarray:
    """P(misidentified | RT) of each row as Rule 1 sees it (2.1 gives it; 2.0: at z)."""
    if "_p_correct" in judged:
        return 1 - judged["_p_correct"].to_numpy(float)
    return 1 - p_correct(judged["z"].to_numpy(float), judged["rule1_scale"].to_numpy(float))


def _rivals(eligible: pd.DataFrame, at: np.ndarray, judged: pd.DataFrame) -> dict:
    """Per participant the peaks of the same name just before and after it on the same Rule 1
    line (both valid there; names that can have isomers have none unless their prefix's
    isomers are anchored, each on its own line), and for each P(misidentified | its residual)."""
    line = judged["isomer_series"].astype(float).to_numpy()
    one_per_line = (~eligible["can_have_isomers"].astype(bool).to_numpy()
                    | judged["_isomers_anchored"].to_numpy(bool))
    on_line = judged["rule1_status"].eq("valid").to_numpy() & ~np.isnan(line) & one_per_line
    key = pd.factorize(pd.Series(eligible["Name"].to_numpy(object)) + "#"
                       + pd.Series(line).astype(str))[0]
    key[~on_line] = -1
    order = np.lexsort((eligible["RT"].to_numpy(float), key))
    same_as_next = (key[order][1:] == key[order][:-1]) & (key[order][1:] >= 0)
    rival = np.full((len(eligible), 2), -1)
    rival[order[1:][same_as_next], 0] = order[:-1][same_as_next]
    rival[order[:-1][same_as_next], 1] = order[1:][same_as_next]
    misidentified = _misidentified(judged)
    compact = np.full(len(eligible) + 1, len(at))  # a rival without Volume: never a fragment
    compact[at] = np.arange(len(at))
    compact[-1] = -1
    mine = rival[at]
    return {"rival": compact[mine],
            "rival_misidentified": np.where(mine >= 0, misidentified[mine], 1.0)}


def _log_volumes(volume: np.ndarray) -> np.ndarray:
    """ln Volume, a zero Volume read as half the smallest positive one (below detection)."""
    positive = volume[volume > 0]
    floor = positive.min() / 2 if len(positive) else 1.0
    return np.log(np.maximum(volume, floor))


def _with_kept_notes(notes: np.ndarray, eligible: pd.DataFrame, kept_at: np.ndarray,
                     parent_at: np.ndarray, p_fragment: np.ndarray, trusted: np.ndarray
                     ) -> pd.Series:
    """Notes of the peaks that co-elute with a possible parent but are judged peaks of their own."""
    name, row_id = eligible["Name"].to_numpy(object), eligible["row_id"].to_numpy()
    rt = eligible["RT"].to_numpy(float)
    for at, parent, p, anchor in zip(kept_at.tolist(), parent_at.tolist(), p_fragment.tolist(),
                                     trusted.tolist()):
        verdict = ("an anchor, trusted as a peak of its own" if anchor
                   else "more likely a peak of its own")
        text = (f"Rule 5: co-elutes with row {row_id[parent]} {name[parent]} "
                f"(ΔRT {signed3(rt[at] - rt[parent])} min) but is {verdict} "
                f"(P(fragment) {fixed3(p)})")
        notes[at] = f"{notes[at]}; {text[len('Rule 5: '):]}" if notes[at] else text
    return pd.Series(notes, index=eligible.index, dtype=object)


def _warnings(model: FragmentModel, eligible: pd.DataFrame, at: np.ndarray,
              p_fragment: np.ndarray, evidence: PairEvidence):
    trusted = evidence.trusted
    if np.isfinite(p_fragment[~trusted]).any():  # the model learned from some peak
        yield AnalysisWarning("rule5_model", "info", "Rule 5 learned from this run: "
                              + model.describe()
                              + _most_fragmented(model, eligible, at, p_fragment, evidence))
    suspicious = trusted & (p_fragment >= DECISION)
    yield from anchor_fragment_warnings(eligible["row_id"].to_numpy()[at[suspicious]],
                                        called_fragments=False)


def _most_fragmented(model: FragmentModel, eligible: pd.DataFrame, at: np.ndarray,
                     p_fragment: np.ndarray, evidence: PairEvidence) -> str:
    """The head groups whose share of fragments is above the run's, as a clause of the learned
    sentence: at most ``SHOWN_HEAD_GROUPS``, first those whose pooled share (as the model uses
    it, so one peak does not top the list) is largest."""
    fragments, peaks = evidence.head_group_fragments(p_fragment)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = fragments / peaks  # NaN for a head group of anchors only
    pooled = _pooled_shares(fragments, peaks, model.prior)
    names = eligible["prefix"].to_numpy(object)[at][np.unique(evidence.prefix,
                                                              return_index=True)[1]]
    above = [code for code in np.argsort(-pooled, kind="stable") if share[code] > model.prior]
    listed = [f"{names[code]} ({share[code]:.0%}{' of its non-anchor peaks' if i == 0 else ''})"
              for i, code in enumerate(above[:SHOWN_HEAD_GROUPS])]
    return "; the most in " + ", ".join(listed) if listed else ""


def _as_array(model: FragmentModel) -> np.ndarray:
    return np.array([model.coelution_scale, model.log_ratio_mean, model.log_ratio_sd,
                     model.prior])
