"""Bayesian Poisson log-linear multiple-systems estimation with shrunk two-way interactions.

Every observable capture pattern c of K lists is a Poisson count,

    y_c ~ Poisson(mu_c),   log mu_c = a + sum_k b_k x_ck + sum_{j<k} g_jk x_cj x_ck,

and the unobservable all-zero cell has expectation exp(a) (Fienberg 1972, Biometrika 59:591;
Bishop, Fienberg & Holland 1975, ch. 6). The identifying assumption is that no three-way or
higher interaction exists: people on no list follow the log-linear structure of the observed.
N is the observed count plus a Poisson(exp(a)) draw of the missing cell: with a flat prior on
a, the Poisson model is the conditional multinomial model with the scale prior p(N) ~ 1/N
(Madigan & York 1997, Biometrika 84:19; Fienberg, Johnson & Junker 1999, JRSS A 162:383).

Priors (all documented in `Priors`):
- ``a ~ Normal(log n_obs, 10)``: flat to within 0.2% of N on the scale that matters; centring
  on the observed count only helps the sampler and does not inform N;
- ``b_k ~ Normal(0, 5)``: main effects (log odds of capture on list k) left essentially free;
- ``g_jk = tau * z_jk, z ~ Normal(0, 1), tau ~ HalfNormal(1)``: a hierarchical shrinkage prior
  with a learned scale that pulls the two-way list dependencies toward independence, as in
  the Bayesian treatments of list dependence by King & Brooks (2001, Biometrics 57:1196) and
  the thresholding prior of Silverman (2020, JRSS A 183:1211), but continuous so NUTS applies.
  The non-centred form avoids the funnel when interactions are small; tau's half-normal
  scale of 1 allows odds ratios of e^2 between lists without much pull while taming the
  non-existent estimates of never-overlapping pairs (Chan, Silverman & Vincent 2021, JASA
  116:1297), which would otherwise drift to minus infinity.

Sampling (`_centred_pairs`, `nutpie_options`, NUTS target acceptance 0.99, `TARGET_ACCEPT`):
one parameterisation for all two-way terms of a stratum, since the scale is shared by all
pairs and a pair centred beside non-centred ones still sits in the funnel of that scale.
- Where the data pin the dependence (they estimate N, all but 20% of the pairs and at least
  six of them, `_pins_dependence`), every term is centred and nutpie adapts a low-rank
  modified mass matrix, which follows the correlations of main effects, level and pairs that
  share a list. Pinned terms sampled non-centred lie on the ridge scale * z = constant: the
  diagonal adaptation took 350 (uk6) to 650 (netherlands6) leapfrog steps per draw there.
- Elsewhere every term is non-centred with the diagonal mass matrix: terms resting on the
  prior, centred, sit in the funnel of the scale. The diagonal is estimated from the draws'
  variances (nutpie's ``draw_diag``, as Stan does), not from their gradients (nutpie's
  default): along the funnel of the scale the gradients understate how far it moves. Measured
  (4 x 1000 draws, seeds 1 and 2, gradient -> draw variances): new_orleans8 R-hat 1.020 /
  1.018 -> 1.007 / 1.003 (interaction_scale) and ESS(N) 1,219 / 827 -> 2,326 / 2,505 at 153
  -> 250 leapfrog steps per draw; new_orleans5 R-hat 1.007 / 1.013 -> 1.006 / 1.006, ESS(N)
  1,671 / 1,896 -> 2,419 / 2,635; korea3 ESS(N) 1,009 / 909 -> 1,292 / 1,281; artificial3
  the same (1,359 / 1,342 -> 1,425 / 1,497); no divergence in any of them, N's intervals
  within Monte Carlo error of each other.
Measured (4 x 1000 draws, seeds 1 and 2, compiled model reused; seconds per 1,000 effective
draws of N, all non-centred and diagonal -> the rule): uk6 2.41 / 2.49 -> 0.20 / 0.18, uk5
1.77 / 1.92 -> 0.14 / 0.15, netherlands6 6.6 / 5.2 -> 0.18 / 0.18, netherlands5 3.6 / 3.3 ->
0.15 / 0.14, western_us5 0.56 / 0.61 -> 0.24 / 0.24, australia4 0.32 / 0.28 -> 0.10 / 0.09,
R-hat <= 1.005 and no divergence in all twelve fits; new_orleans8 and new_orleans5 (18 of
28 and 3 of 10 pairs without estimate), korea3 and artificial3 (no estimate of N) and every
held-out-list table keep the non-centred diagonal sampling. Rejected on the way: the
low-rank matrix with non-centred terms (N mixed faster, but interaction_scale reached R-hat
1.02 on uk6, netherlands5 and netherlands6); centring the pairs with overlapping records
only (414 divergences on new_orleans5, seed 2); all centred on new_orleans8 and new_orleans5
(R-hat of the scale 1.02-1.05) and on australia4 held out on B, three pairs (2 divergences).
Before this rule, "auto" centring of pairs with >= 10 overlapping records at 0.95 left
divergences in 9 of the 11 held-out fits (up to 70); non-centred at 0.99 none. The
independence model (no two-way terms, no scale) always gets the low-rank matrix: in the
held-out validation its 24 fits all converge with it, 22 of 24 with the diagonal one.

``interactions = false`` drops the two-way terms: the independence model, the baseline of the
held-out-list validation of Binette & Steorts (2021, arXiv 2112.01594). It assumes every pair
of lists independent in the whole population, a strong assumption that referral between
agencies violates; it is there for comparison, not as a default.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pymc as pm

from .. import sparsity
from ..tables import CaptureTable, all_patterns

#: NUTS target acceptance when the run card says "auto" (see the module docstring).
TARGET_ACCEPT = 0.99
#: nutpie's low-rank modified mass-matrix adaptation, used with centred terms
#: (`nutpie_options`; see the module docstring).
LOW_RANK = {"adaptation": "low_rank"}
#: nutpie's diagonal mass matrix estimated from the draws' variances (Stan's way) rather than
#: from their gradients (nutpie's default), used with non-centred terms (`nutpie_options`).
DRAW_DIAG = {"adaptation": "draw_diag"}

ASSUMPTION = ("no three-way or higher list interactions; two-way dependence shrunk toward "
              "independence, so people on no list follow the observed log-linear structure")


@dataclass(frozen=True)
class Priors:
    """Prior scales of the log-linear model (see the module docstring for the reasons)."""

    intercept_sd: float = 10.0
    main_effect_sd: float = 5.0
    interaction_scale_sd: float = 1.0
    #: "auto" (default): every two-way term centred where the data estimate N, all but
    #: ``centred_max_unestimated`` of the pairs and at least ``centred_min_pairs`` of them,
    #: else every term non-centred (see the module docstring); or "centred" / "noncentred"
    #: throughout.
    parameterisation: str = "auto"
    centred_max_unestimated: float = 0.2
    centred_min_pairs: int = 6
    #: False: no two-way terms, the independence model (a baseline, see the module docstring).
    interactions: bool = True

    def __post_init__(self):
        if self.parameterisation not in ("auto", "centred", "noncentred"):
            raise ValueError(f"parameterisation must be 'auto', 'centred' or 'noncentred', "
                             f"not {self.parameterisation!r}")


def pair_labels(lists) -> list[str]:
    return [f"{a}:{b}" for a, b in itertools.combinations(lists, 2)]


def pair_design(patterns: np.ndarray) -> np.ndarray:
    """(pattern, pair) 0/1: captured by both lists of the pair."""
    pairs = itertools.combinations(range(patterns.shape[1]), 2)
    return np.stack([patterns[:, a] * patterns[:, b] for a, b in pairs], axis=1)


def build(table: CaptureTable, priors: Priors = Priors()) -> pm.Model:
    """The model for every stratum of ``table``, with independent parameters per stratum.

    Sampled in effect coding (x - 1/2), which leaves the two-way terms unchanged but makes the
    intercept the mean log cell, well identified by the data, instead of the log missing cell,
    which is strongly correlated with every main effect and defeats a diagonal mass matrix.
    Counts and the intercept centre are `pm.Data`, so one compiled model serves every stratum
    and every table with the same lists.
    """
    patterns = table.patterns.astype(float)
    coded, pair_codes = patterns - 0.5, coded_pairs(table.patterns)
    centred = _centred_pairs(table, priors)
    coords = {"stratum": table.stratum_labels} | labels(table)
    with pm.Model(coords=coords) as model:
        count = pm.Data("count", table.counts.values, dims=("stratum", "pattern"))
        centre = pm.Data("log_mean_cell", _log_mean_cell(table), dims="stratum")
        # An offset from the data's centre (a shift: same prior), so the initial point does
        # not depend on the pm.Data: a reused compiled model starts where a fresh one would,
        # and a stratum's draws do not depend on which table the model was compiled for.
        offset = pm.Normal("mean_log_cell_offset", 0.0, priors.intercept_sd, dims="stratum")
        level = pm.Deterministic("mean_log_cell", centre + offset, dims="stratum")
        main = pm.Normal("main_effect", 0.0, priors.main_effect_sd, dims=("stratum", "list"))
        if priors.interactions:
            scale = pm.HalfNormal("interaction_scale", priors.interaction_scale_sd,
                                  dims="stratum")
            interaction = _interactions(scale, centred, len(coords["stratum"]))
        else:
            interaction = pm.math.zeros((len(coords["stratum"]), len(coords["pair"])))
        log_mu = level[:, None] + main @ coded.T + interaction @ pair_codes.T
        pm.Poisson("cell", mu=pm.math.exp(log_mu), observed=count, dims=("stratum", "pattern"))
        # The all-zero cell in effect coding: x = 0 for every list.
        log_missing = (level - 0.5 * main.sum(axis=1)
                       + interaction @ coded_pairs(np.zeros((1, table.n_lists), int))[0])
        pm.Deterministic("missing_rate", pm.math.exp(log_missing), dims="stratum")
        pm.Deterministic("intercept", log_missing, dims="stratum")
    return model


def coded_pairs(patterns: np.ndarray) -> np.ndarray:
    """(pattern, pair) products of the effect-coded indicators (x - 1/2), pairs in
    `pair_labels` order."""
    coded = patterns.astype(float) - 0.5
    return np.stack([coded[:, a] * coded[:, b]
                     for a, b in itertools.combinations(range(patterns.shape[1]), 2)], axis=1)


def _log_mean_cell(table: CaptureTable) -> np.ndarray:
    return np.log(np.maximum(table.observed.values, 1) / 2**table.n_lists)


def _centred_pairs(table: CaptureTable, priors: Priors) -> np.ndarray:
    """Which two-way terms to sample centred: all of them where the data pin the dependence
    in every stratum (`_pins_dependence`), none otherwise. Pinned terms sampled non-centred
    lie on the ridge scale * z = const, hundreds of leapfrog steps per draw; terms resting on
    the prior sampled centred sit in the funnel of the shared scale. One choice for all pairs,
    since a pair centred beside non-centred ones still feels the funnel of their scale."""
    n_pairs = table.n_lists * (table.n_lists - 1) // 2
    if priors.parameterisation == "auto":
        return np.full(n_pairs, all(_pins_dependence(table, label, priors)
                                    for label in table.stratum_labels))
    return np.full(n_pairs, priors.parameterisation == "centred")


def _pins_dependence(table: CaptureTable, label: str, priors: Priors) -> bool:
    """Whether the data of one stratum estimate N, all but a share
    ``centred_max_unestimated`` of the two-way terms (Chan, Silverman & Vincent 2021), and at
    least ``centred_min_pairs`` of them: the shared scale is then estimated like a variance
    from that many values and stays away from zero, where centred terms meet its funnel."""
    check = sparsity.check_pairwise(table, label)
    unestimated = sum(":" in term for term in check["terms_without_estimate"])
    n_pairs = table.n_lists * (table.n_lists - 1) // 2
    return (check["N_estimable"] and unestimated <= priors.centred_max_unestimated * n_pairs
            and n_pairs - unestimated >= priors.centred_min_pairs)


def _interactions(scale, centred: np.ndarray, n_strata: int):
    """Two-way terms, each centred or non-centred as `_centred_pairs` chose, in pair order."""
    import pytensor.tensor as pt

    parts = []
    if centred.any():
        parts.append(pm.Normal("interaction_centred", 0.0, scale[:, None],
                               shape=(n_strata, int(centred.sum()))))
    if (~centred).any():
        z = pm.Normal("interaction_z", 0.0, 1.0, shape=(n_strata, int((~centred).sum())))
        parts.append(z * scale[:, None])
    joined = pt.concatenate(parts, axis=1)
    order = np.argsort(np.concatenate([np.flatnonzero(centred), np.flatnonzero(~centred)]))
    return pm.Deterministic("interaction", joined[:, order], dims=("stratum", "pair"))


def labels(table: CaptureTable) -> dict[str, list[str]]:
    """The coordinates of `build`'s list dims: the only thing in the model that names the
    lists. Nothing else depends on the names, so `darkfigure.fit` reuses one compiled model
    for every table with as many lists and the same structure (a held-out list, a dropped or
    merged one in `compare`, another benchmark table) and relabels its draws with these."""
    return {"list": list(table.lists), "pair": pair_labels(table.lists),
            "pattern": list(table.counts["pattern"].values)}


def data_for(table: CaptureTable, priors: Priors | None = None) -> dict[str, np.ndarray]:
    """The `pm.Data` values of `build` for another table with the same lists (``priors`` do
    not change them; the argument is there because `darkfigure.fit` calls every family's
    ``data_for`` alike)."""
    return {"count": table.counts.values, "log_mean_cell": _log_mean_cell(table)}


def estimability(table: CaptureTable, label: str,
                 priors: Priors = Priors()) -> str | None:
    """Why the data cannot estimate N in one stratum under this model, or None."""
    if not priors.interactions:
        # Under independence the MLE of N exists as soon as some record is on two lists.
        multiple = table.patterns.sum(axis=1) >= 2
        if table.counts.values[:, multiple].sum() == 0:
            return (f"stratum {label}: no record is on more than one list, so even the "
                    "independence model cannot estimate N")
        return None
    return sparsity.message(sparsity.check_pairwise(table, label))


def nutpie_options(table: CaptureTable, priors: Priors = Priors()) -> dict:
    """Extra nutpie.sample settings: the low-rank mass matrix where no two-way term is
    non-centred (centred terms, or none: the independence model), the diagonal one otherwise.

    With centred terms the posterior is near Gaussian, with correlations (main effects with
    the level, pairs sharing a list) that a diagonal mass matrix cannot follow; beside
    non-centred terms the low-rank adaptation left the interaction scale mixing worse than the
    diagonal one (R-hat 1.02; see the module docstring). The diagonal is the draws'
    variances (`DRAW_DIAG`): nutpie's default, from the gradients, under-scales the
    interaction scale, whose curvature changes along its funnel (module docstring)."""
    if not priors.interactions or _centred_pairs(table, priors).all():
        return LOW_RANK
    return DRAW_DIAG


def structure_key(table: CaptureTable, priors: Priors) -> tuple:
    """What besides lists and priors shapes the compiled graph: the centring choice."""
    if not priors.interactions:
        return ("independence",)
    return tuple(_centred_pairs(table, priors))


def simulate(n_lists: int, intercept: float, main_effect, interaction=None,
             rng: np.random.Generator | None = None) -> tuple[CaptureTable, int]:
    """Draw a table from the model itself: all 2^K cell counts, then hide the all-zero cell.

    ``interaction`` holds the two-way terms in `pair_labels` order (default: independence).
    Returns the table and the true population size (observed plus the hidden cell).
    """
    rng = rng or np.random.default_rng()
    patterns = all_patterns(n_lists)
    interaction = np.zeros(n_lists * (n_lists - 1) // 2) if interaction is None else interaction
    log_mu = intercept + patterns @ np.asarray(main_effect) + pair_design(patterns) @ \
        np.asarray(interaction)
    counts = rng.poisson(np.exp(log_mu))
    hidden = rng.poisson(np.exp(intercept))
    lists = [chr(ord("A") + k) for k in range(n_lists)]
    return CaptureTable.from_array(counts, lists), int(counts.sum() + hidden)
