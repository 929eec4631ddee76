"""Simulation-based calibration (SBC) of each model family under its own prior.

If parameters are drawn from the prior, data from the model given them, and the model is then
fitted to those data, the rank of the true value among the posterior draws is uniform (Talts,
Betancourt, Simpson, Vehtari & Gelman 2018, "Validating Bayesian inference algorithms with
simulation-based calibration", arXiv:1804.06788). Any departure reveals a bug in the model or
an inaccurate sampler.

**Improper priors on N.** Every family puts p(N) ~ 1/N on the population size, or nearly so
(loglinear and hierarchical through a wide Normal prior on the log mean cell, centred on the
data; LCMCR and dga explicitly), which cannot be drawn from. SBC therefore uses the proper
*truncated* version: p(N) ~ 1/N on [`N_MIN`, `N_MAX`] (for loglinear: the log mean cell
uniform on the matching range; for hierarchical: the abundance intercept, the typical
stratum's log mean cell, likewise). The
posterior under the truncated prior is the fitted posterior times the indicator of the range
(times the ratio of the two prior densities where they differ), renormalised; so the fit runs
unchanged and the rank is computed from the fitted draws with those importance weights
(indicator weights are exact; the loglinear weights undo its Normal(centre, 10) intercept prior
exactly). For bma the exact posterior on its grid gives the rank without Monte Carlo error.

**Ranks.** We record the fractional rank u = sum_i w_i [1(N_i < N) + V 1(N_i = N)] / sum_i w_i
with V ~ Uniform(0, 1) breaking ties of the integer N: the posterior CDF at the truth, which is
Uniform(0, 1) under calibration whatever the autocorrelation of the draws (that only adds
Monte Carlo noise of order 1 / sqrt(ESS), recorded with each rank). Uniformity is judged with
the ECDF-difference plot and its simultaneous 95% band (Säilynoja, Bürkner & Vehtari 2022,
"Graphical test for discrete uniformity and its applications in goodness-of-fit evaluation and
multiple sample comparison", Statistics and Computing 32:32), computed by `ecdf_band`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import xarray as xr
from scipy import stats
from scipy.special import expit

from .tables import CaptureTable

#: Support of the truncated 1/N prior used for SBC.
N_MIN, N_MAX = 100, 5000


@dataclass
class PriorDraw:
    """One draw from a family's (truncated) prior and its data.

    ``log_weight(posterior)`` gives per-draw log importance weights (chain, draw) turning the
    fitted posterior into the posterior under the truncated prior; ``exact_u(rng)``, where
    given, computes the fractional rank from an exact posterior instead of draws."""

    table: CaptureTable
    N: int
    params: dict
    log_weight: Callable | None = None
    exact_u: Callable | None = None
    official: xr.DataArray | None = None   # official counts, for families that use them


def inverse_n(rng: np.random.Generator, flat: bool = False) -> int:
    """N from p(N) ~ 1/N (or flat) on the integers N_MIN..N_MAX, exactly."""
    support = np.arange(N_MIN, N_MAX + 1)
    p = np.ones(len(support)) if flat else 1.0 / support
    return int(rng.choice(support, p=p / p.sum()))


def _n_indicator(posterior) -> np.ndarray:
    n = posterior["N"].values[..., 0]
    return np.where((n >= N_MIN) & (n <= N_MAX), 0.0, -np.inf)


def draw_latent_class(module, priors, n_lists: int, rng) -> PriorDraw:
    """LCMCR's prior: alpha ~ Gamma, truncated stick-breaking weights, lambda ~ Beta."""
    alpha = rng.gamma(priors.alpha_shape, 1 / priors.alpha_rate)
    sticks = np.append(rng.beta(1.0, max(alpha, 1e-300), priors.truncation - 1), 1.0)
    weights = sticks * np.concatenate([[1.0], np.cumprod(1 - sticks[:-1])])
    capture = rng.beta(priors.lambda_a, priors.lambda_b, (priors.truncation, n_lists))
    n = inverse_n(rng)
    table, _ = module.simulate(n, weights, capture, rng)
    return PriorDraw(table, n, {"alpha": float(alpha)}, log_weight=_n_indicator)


def draw_loglinear(module, priors, n_lists: int, rng) -> PriorDraw:
    """The log-linear prior in its effect coding, with the log mean cell uniform on
    [log(N_MIN / 2^K), log(N_MAX / 2^K)] in place of Normal(log(n_obs / 2^K), sd): converted
    to the dummy coding of `loglinear.simulate` (intercept = log missing cell)."""
    lo, hi = np.log(N_MIN / 2**n_lists), np.log(N_MAX / 2**n_lists)
    level = rng.uniform(lo, hi)
    main = rng.normal(0, priors.main_effect_sd, n_lists)
    n_pairs = n_lists * (n_lists - 1) // 2
    pairs = abs(rng.normal(0, priors.interaction_scale_sd)) * rng.normal(0, 1, n_pairs)
    pair_index = [(a, b) for a in range(n_lists) for b in range(a + 1, n_lists)]
    dummy_main = main.copy()
    for (a, b), g in zip(pair_index, pairs):
        dummy_main[a] -= 0.5 * g
        dummy_main[b] -= 0.5 * g
    intercept = level - 0.5 * main.sum() + 0.25 * pairs.sum()
    table, n = module.simulate(n_lists, intercept, dummy_main, pairs, rng)
    centre = float(np.log(max(int(table.observed.values[0]), 1) / 2**n_lists))
    return PriorDraw(table, n, {"mean_log_cell": float(level)},
                     log_weight=_uniform_for_normal("mean_log_cell", lo, hi, centre,
                                                    priors.intercept_sd))


def _uniform_for_normal(name: str, lo: float, hi: float, centre: float, sd: float) -> Callable:
    """Log weights turning a fit under a Normal(centre, sd) prior on the level ``name`` (one
    stratum's, or the joint model's intercept) into one under Uniform(lo, hi): the indicator
    of the range times the inverse Normal density, per (chain, draw)."""
    def log_weight(posterior):
        level = posterior[name].values.reshape(posterior[name].shape[:2])
        inside = (level >= lo) & (level <= hi)
        return np.where(inside, 0.5 * ((level - centre) / sd) ** 2, -np.inf)
    return log_weight


def hyper_dirichlet(graph, n_lists: int, delta: float, rng) -> np.ndarray:
    """Cell probabilities (2^K, code 0 = on no list) from the hyper-Dirichlet of a
    decomposable graph (Dawid & Lauritzen 1993): the first clique's margin, then each next
    clique's conditional given its separator, all Dirichlet with delta x (cells collapsed)."""
    codes = np.arange(2**n_lists)
    cliques, order, seen = list(graph.cliques), [], 0
    while cliques:  # running-intersection order: the separator lies inside one earlier clique
        pick = next(i for i, c in enumerate(cliques)
                    if not order or any(c & seen & o == c & seen for o in order))
        order.append(cliques.pop(pick))
        seen |= order[-1]
    log_p, seen = np.zeros(2**n_lists), 0
    for clique in order:
        sep, a = clique & seen, delta * 2 ** (n_lists - bin(clique).count("1"))
        cell = codes & clique
        for s in np.unique(codes & sep):
            members = np.unique(cell[(codes & sep) == s])
            p = rng.dirichlet(np.full(len(members), a))
            lookup = dict(zip(members, np.log(np.maximum(p, 1e-300))))
            rows = (codes & sep) == s
            log_p[rows] += [lookup[c] for c in cell[rows]]
        seen |= clique
    p = np.exp(log_p)
    return p / p.sum()


def draw_bma(module, priors, n_lists: int, rng) -> PriorDraw:
    """dga's prior: a decomposable graph uniformly, hyper-Dirichlet cells, N ~ 1/N (or flat)."""
    graphs = module.graphs(n_lists)
    g = int(rng.integers(len(graphs)))
    delta = priors.delta if priors.delta is not None else 2.0 ** -n_lists
    n = inverse_n(rng, flat=priors.n_prior == "uniform")
    table, _ = module.simulate(n, hyper_dirichlet(graphs[g], n_lists, delta, rng),
                               seed=int(rng.integers(2**32)))

    def exact_u(rng_u):
        post = module.posterior(table, priors)
        n0 = np.arange(0, N_MAX - post.observed + 1)
        idx = np.clip(np.searchsorted(post.start, n0, side="right") - 1, 0, len(post.start) - 1)
        inside = (n0 < post.start[idx] + post.width[idx]) & (n0 + post.observed >= N_MIN)
        mass = np.where(inside, post.prob[idx] / post.width[idx], 0.0)
        with np.errstate(divide="ignore"):  # log 0 = -inf: no mass outside the support
            return _u(n0 + post.observed, n, np.log(mass), rng_u)

    return PriorDraw(table, n, {"graph": graphs[g].label(table.lists)}, exact_u=exact_u)


#: The stratified world of the hierarchical family's SBC: regions x sectors.
SBC_REGIONS, SBC_SECTORS = 2, 2


def _zero_sum(rng, scale: float, shape: tuple) -> np.ndarray:
    """A zero-sum normal over the last axis, drawn as PyMC draws it: iid Normal(0, scale)
    less their mean."""
    x = rng.normal(0.0, scale, shape)
    return x - x.mean(axis=-1, keepdims=True)


def draw_hierarchical(module, priors, n_lists: int, rng) -> PriorDraw:
    """The hierarchical model's prior on SBC_REGIONS x SBC_SECTORS strata with official
    counts, generated from the model's own likelihood: every effect from its prior (column
    effects as zero-sum normals with HalfNormal scales), the abundance intercept uniform on
    [log(N_MIN / 2^K), log(N_MAX / 2^K)] in place of Normal(centre, sd) (the weights undo
    that prior exactly, as for loglinear; `abundance_intercept` is the mean log cell of the
    typical stratum), Poisson cells with the all-zero cell hidden, official counts
    Poisson(rate x (observed + missing rate)). The rank is of the first stratum's N.

    The wide priors (capture log odds sd 5, abundance scale sd 2) now and then give counts
    past 2^31 - 1, which PyMC's integer data cannot hold; such a world is drawn again. A
    condition on the data alone leaves the posterior given the data unchanged, so the ranks
    of the kept worlds stay uniform (as for worlds where nobody was observed)."""
    if priors.stratum_dependence:
        raise ValueError("SBC draws the default hierarchical prior (no stratum_dependence)")
    for _ in range(100):
        draw = _draw_hierarchical_once(module, priors, n_lists, rng)
        if draw is not None:
            return draw
    raise ValueError("100 hierarchical prior draws in a row had counts past 2^31 - 1")


def _draw_hierarchical_once(module, priors, n_lists: int, rng) -> PriorDraw | None:
    from .models.hierarchical_parts import full_patterns
    from .models.loglinear import coded_pairs

    region = np.repeat(np.arange(SBC_REGIONS), SBC_SECTORS)
    sector = np.tile(np.arange(SBC_SECTORS), SBC_REGIONS)
    columns = {"region": (region, SBC_REGIONS), "sector": (sector, SBC_SECTORS)}
    half = lambda sd: abs(rng.normal(0.0, sd))  # noqa: E731  (HalfNormal)

    def additive(mean: float, scale_sd: float, lists: int | None = None) -> np.ndarray:
        total = mean
        for index, n_levels in columns.values():
            shape = (lists, n_levels) if lists else (n_levels,)
            effect = _zero_sum(rng, half(scale_sd), shape)
            total = total + (effect[:, index].T if lists else effect[index])
        return total

    full = full_patterns(n_lists)
    capture = additive(rng.normal(0.0, priors.main_effect_sd, n_lists), priors.capture_scale_sd,
                       n_lists)
    shape = capture @ (full - 0.5).T
    if n_lists >= 3:
        pairs = coded_pairs(full)
        het = additive(rng.normal(0.0, priors.heterogeneity_sd), priors.heterogeneity_scale_sd)
        dependence = _zero_sum(rng, half(priors.interaction_scale_sd), (pairs.shape[1],))
        shape = shape + het[:, None] * pairs.sum(axis=1)[None, :] + (pairs @ dependence)[None, :]
    lo, hi = np.log(N_MIN / 2**n_lists), np.log(N_MAX / 2**n_lists)
    intercept = rng.uniform(lo, hi)
    level = additive(intercept, priors.abundance_scale_sd) \
        + rng.normal(0.0, half(priors.abundance_interaction_sd), len(region))
    mu = np.exp(level[:, None] + shape)
    counts = rng.poisson(mu)
    rate = expit(additive(rng.normal(-2.0, priors.reporting_intercept_sd),
                          priors.reporting_scale_sd)
                 + rng.normal(0.0, half(0.5 * priors.reporting_scale_sd), len(region)))
    official = rng.poisson(rate * (counts[:, 1:].sum(axis=1) + mu[:, 0]))
    if max(counts.max(), official.max()) >= 2**31 - 1:
        return None
    table = CaptureTable.from_array(
        counts[:, 1:], [chr(ord("A") + k) for k in range(n_lists)],
        {"region": [f"R{i + 1}" for i in region], "sector": [f"S{j + 1}" for j in sector]})
    official = xr.DataArray(official, dims="stratum", coords={"stratum": table.stratum_labels},
                            name="official")
    centre = float(module.data_for(table, priors, official=official)["mean_log_cell"])
    return PriorDraw(table, int(counts[0].sum()), {"abundance_intercept": float(intercept)},
                     log_weight=_uniform_for_normal("abundance_intercept", lo, hi, centre,
                                                    priors.intercept_sd),
                     official=official)


#: Families whose prior can be drawn from; others are left out of SBC (and reported so).
PRIOR_DRAWS = {"loglinear": draw_loglinear, "latent-class": draw_latent_class,
               "bma": draw_bma, "hierarchical": draw_hierarchical}


def _u(values: np.ndarray, truth: int, log_w: np.ndarray, rng) -> float:
    values, log_w = np.ravel(values), np.ravel(log_w)
    if not np.isfinite(log_w).any():
        return float("nan")
    w = np.exp(log_w - log_w[np.isfinite(log_w)].max())
    below, tied = w[values < truth].sum(), w[values == truth].sum()
    return float((below + rng.random() * tied) / w.sum())


def fractional_rank(posterior, truth: int, log_weight, rng) -> tuple[float, float]:
    """(u, effective share of draws kept by the weights) from a fitted posterior."""
    log_w = log_weight(posterior) if log_weight else np.zeros(posterior["N"].shape[:2])
    w = np.exp(log_w - (log_w[np.isfinite(log_w)].max() if np.isfinite(log_w).any() else 0))
    kept = float(w.sum() ** 2 / (w**2).sum() / w.size) if w.sum() > 0 else 0.0
    return _u(posterior["N"].values[..., 0], truth, log_w, rng), kept


def ecdf_band(n: int, alpha: float = 0.05, grid: int = 200, sims: int = 2000,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simultaneous 1 - alpha band for the ECDF of n Uniform(0, 1) values at ``grid`` points
    (Säilynoja, Bürkner & Vehtari 2022, section 2.2, simulation method): the per-point
    level gamma is the alpha-quantile over simulated uniform samples of the smallest
    two-sided binomial tail probability along the grid. Returns (z, lower, upper)."""
    z = np.arange(1, grid) / grid
    rng = np.random.default_rng(seed)
    u = np.sort(rng.random((sims, n)), axis=1)
    counts = np.stack([np.searchsorted(row, z, side="right") for row in u])
    tail = 2 * np.minimum(stats.binom.cdf(counts, n, z), stats.binom.sf(counts - 1, n, z))
    gamma = np.quantile(np.minimum(tail, 1).min(axis=1), alpha)
    lower = stats.binom.ppf(gamma / 2, n, z) / n
    upper = stats.binom.ppf(1 - gamma / 2, n, z) / n
    return z, lower, upper
