"""Data-side pieces of the hierarchical model: stratum layout, coverage aggregation, centring
choice, the world simulator with known truth, and per-group aggregates of joint draws.

Everything here is numpy on the capture table; `hierarchical.build` turns it into a graph.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.optimize import brentq
from scipy.special import gammaln
from scipy.stats import chi2

from ..tables import CaptureTable, all_patterns
from .loglinear import coded_pairs


def full_patterns(n_lists: int) -> np.ndarray:
    """All 2^K patterns, row q = binary expansion of q (first list most significant): row 0 is
    the all-zero cell and row j + 1 is pattern j of `tables.all_patterns`."""
    return np.vstack([np.zeros((1, n_lists), np.int8), all_patterns(n_lists)])


@dataclass(frozen=True)
class Layout:
    """Which level of each stratum column (region, sector, ...) every stratum has."""

    columns: tuple[str, ...]
    levels: dict          # column -> list of level labels
    index: dict           # column -> (stratum,) level index


def layout(table: CaptureTable) -> Layout:
    levels, index = {}, {}
    for column in table.strata:
        values = [str(v) for v in table.counts[column].values]
        levels[column] = sorted(set(values))
        index[column] = np.array([levels[column].index(v) for v in values])
    return Layout(tuple(table.strata), levels, index)


def coverage_mask(table: CaptureTable, coverage: xr.DataArray | None) -> np.ndarray:
    """(stratum, list) bool: which lists operated where (all, without a coverage input)."""
    if coverage is None:
        return np.ones((len(table.stratum_labels), table.n_lists), bool)
    return np.asarray(coverage.sel(stratum=table.stratum_labels, list=list(table.lists))
                      .values, dtype=bool)


@dataclass(frozen=True)
class Cells:
    """The likelihood's data, precomputed once per table (used by `hierarchical_rates`).

    Fully covered strata enter through sufficient statistics: the Poisson log-likelihood's
    sum(y log mu) is linear in the log-linear terms, so each stratum needs only its records
    on fully covered cells (``total``), sum(y (x - 1/2)) per list (``margin``) and sum(y (x_a
    - 1/2)(x_b - 1/2)) per pair (``pairs``), whatever the number of non-empty cells. Strata
    where a list did not operate (``partial``, in stratum order) keep their cells: each
    non-empty cell sums the rates of the 2^u full patterns that agree with it on the covered
    lists (``part_index`` rows into the (partial stratum, full pattern) rate matrix,
    row-major, padded to the widest class, ``part_weight`` 0 on the padding), and
    ``missing_mask`` marks, per partial stratum, the full patterns with no covered list: the
    people nobody there could have recorded. Zero cells enter only through the total rate.
    """

    total: np.ndarray
    margin: np.ndarray
    pairs: np.ndarray
    partial: np.ndarray
    part_index: np.ndarray
    part_weight: np.ndarray
    part_count: np.ndarray
    missing_mask: np.ndarray
    log_factorial: float


def cells(table: CaptureTable, covered: np.ndarray) -> Cells:
    n_strata, n_lists = covered.shape
    width = 2**n_lists
    counts = table.counts.values
    whole = covered.all(axis=1)
    full_counts = np.where(whole[:, None], counts, 0).astype(float)
    coded = table.patterns.astype(float) - 0.5
    weights = 1 << np.arange(n_lists - 1, -1, -1)
    codes = np.arange(width)
    partial = np.flatnonzero(~whole)
    cover_bits = covered[partial].astype(int) @ weights
    missing_mask = ((codes[None, :] & cover_bits[:, None]) == 0).astype(float)
    part_rows, part_count = [], []
    for row, s in enumerate(partial):
        for j in np.flatnonzero(counts[s]):
            # every full pattern that shows as pattern j on the lists that operated here
            part_rows.append(row * width + codes[(codes & cover_bits[row]) == j + 1])
            part_count.append(counts[s, j])
    span = max((len(r) for r in part_rows), default=1)
    part_index = np.zeros((len(part_rows), span), np.int64)
    part_weight = np.zeros((len(part_rows), span))
    for i, row in enumerate(part_rows):
        part_index[i, :len(row)], part_weight[i, :len(row)] = row, 1.0
    return Cells(full_counts.sum(axis=1), full_counts @ coded,
                 full_counts @ coded_pairs(table.patterns), partial, part_index, part_weight,
                 np.array(part_count, float), missing_mask,
                 float(gammaln(counts + 1.0).sum()))


def logit_normal(name, spec) -> tuple[float, float]:
    """(mean, sd) of the logit of a source's typical rate from {median, logit_sd} or from a
    90% interval {lower, upper} (logit-symmetric: median at the logits' midpoint)."""
    spec = dict(spec) if isinstance(spec, dict) else {}
    logit = lambda p: float(np.log(p / (1.0 - p)))  # noqa: E731
    rate = lambda key: 0.0 < float(spec[key]) < 1.0  # noqa: E731
    if set(spec) == {"median", "logit_sd"} and rate("median") and float(spec["logit_sd"]) > 0:
        return logit(float(spec["median"])), float(spec["logit_sd"])
    if set(spec) == {"lower", "upper"} and rate("lower") and rate("upper") \
            and float(spec["lower"]) < float(spec["upper"]):
        lo, hi = logit(float(spec["lower"])), logit(float(spec["upper"]))
        return (lo + hi) / 2.0, (hi - lo) / (2.0 * 1.6449)
    raise ValueError(f"aggregate_rate for source '{name}' must be {{median = r, logit_sd = s}} "
                     f"(0 < r < 1, s > 0) or {{lower = a, upper = b}} (0 < a < b < 1), not "
                     f"{spec!r}")


def group_sum(values: np.ndarray, index: np.ndarray, n_levels: int) -> np.ndarray:
    """Sum ``values`` (stratum, ...) within the levels of one stratum column."""
    out = np.zeros((n_levels,) + values.shape[1:])
    np.add.at(out, index, values)
    return out


def between_variance(estimate: np.ndarray, variance: np.ndarray, design: np.ndarray,
                     confidence: float | None = None) -> float:
    """Between-group variance tau^2 of noisy ``estimate``s (each with sampling ``variance``)
    around a weighted least-squares fit on ``design`` (group, p), from the generalised Q
    statistic with weights 1/(v + tau^2), which falls as tau^2 grows: the Paule-Mandel
    estimate (Q = k - p; Paule & Mandel 1982, J. Res. Natl. Bur. Stand. 87:377) or, given a
    ``confidence``, the lower end of the Q-profile interval (Q = the (1 + confidence)/2
    quantile of chi^2 on k - p degrees of freedom; Viechtbauer 2007, Statistics in Medicine
    26:37), both in their meta-regression form. 0 where even tau^2 = 0 leaves Q below the
    target (the estimates scatter no more than their noise explains) or where no degree of
    freedom is left."""
    y, v, x = np.asarray(estimate, float), np.asarray(variance, float), design
    dof = len(y) - np.linalg.matrix_rank(x)
    if dof < 1:
        return 0.0
    target = dof if confidence is None else chi2.ppf((1.0 + confidence) / 2.0, dof)

    def excess(tau2: float) -> float:
        w = 1.0 / (v + tau2)
        beta = np.linalg.lstsq(x.T @ (w[:, None] * x), x.T @ (w * y), rcond=None)[0]
        return float(np.sum(w * (y - x @ beta) ** 2)) - target

    if excess(0.0) <= 0:
        return 0.0
    high = 1.0
    while excess(high) > 0 and high < 1e6:
        high *= 10.0
    return float(brentq(excess, 0.0, high))


def level_means(estimate: np.ndarray, variance: np.ndarray, index: np.ndarray,
                n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-variance weighted mean of stratum ``estimate``s within each level of a stratum
    column, and its variance: what the strata say about that level's effect."""
    weight = group_sum(1.0 / np.asarray(variance, float), index, n_levels)
    mean = group_sum(np.asarray(estimate, float) / variance, index, n_levels) / weight
    return mean, 1.0 / weight


def additive_design(lay: Layout, n_strata: int) -> np.ndarray:
    """(stratum, p) design of an intercept plus one dummy per level past the first of each
    stratum column: the additive part of a pooled stratum effect."""
    blocks = [np.ones((n_strata, 1))]
    for column in lay.columns:
        index = lay.index[column]
        blocks.append((index[:, None] == np.arange(1, len(lay.levels[column]))[None, :])
                      .astype(float))
    return np.hstack(blocks)


@dataclass(frozen=True)
class Information:
    """Records informing each kind of effect, per stratum: the basis of the centring choice
    (an effect the data pin down better than its prior is sampled centred)."""

    records: np.ndarray     # (stratum,) people observed
    on_list: np.ndarray     # (stratum, list) records on the list, where it operated
    off_list: np.ndarray    # (stratum, list) records not on it, where it operated
    overlap: np.ndarray     # (stratum, pair) records on both lists of the pair
    multiple: np.ndarray    # (stratum,) records on two lists or more


def information(table: CaptureTable, covered: np.ndarray) -> Information:
    counts, patterns = table.counts.values.astype(float), table.patterns
    records = counts.sum(axis=1)
    on_list = counts @ patterns
    off_list = np.where(covered, records[:, None] - on_list, 0.0)
    pairs = np.stack([patterns[:, a] * patterns[:, b] for a, b in
                      itertools.combinations(range(table.n_lists), 2)], axis=1) \
        if table.n_lists > 1 else np.zeros((len(patterns), 0))
    return Information(records, on_list, off_list, counts @ pairs,
                       counts @ (patterns.sum(axis=1) >= 2))


def log_size(table: CaptureTable, info: Information,
             covered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per stratum, log(N + 1) from Chapman's (1951, Univ. Calif. Publ. Statist. 1:131)
    two-sample estimate, the stratum's largest operating list against the union of its other
    operating lists, and that log's delta-method variance (Seber 1982, The Estimation of
    Animal Abundance, 2nd ed., s. 3.1.1):

        N + 1 = (n1 + 1)(n2 + 1) / (m + 1),   var = (n1 - m)(n2 - m) / ((n1 + 1)(n2 + 1)(m + 2))

    This is how well the lists alone pin a stratum's size down before any model: the model's
    answer is better, but the centring choice is made in numpy before the graph exists, and
    it needs N's uncertainty, which the records alone hide (with 3 lists it is larger than an
    official count's Poisson noise). Independence between the two samples is assumed, as by
    Chapman; dependence moves the estimate, much less its variance. A stratum with no records,
    or where fewer than two lists operated, has no such estimate: its variance is
    ``NO_SIZE_VARIANCE`` (nothing is centred on it)."""
    patterns = table.patterns.astype(bool)
    largest = np.argmax(np.where(covered, info.on_list, -1.0), axis=1)
    n1 = info.on_list[np.arange(len(largest)), largest]
    alone = (patterns.sum(axis=1) == 1)[None, :] & patterns.T[largest]   # only on the largest
    only = (table.counts.values * alone).sum(axis=1)
    n2, m = info.records - only, n1 - only
    log_n = np.log((n1 + 1.0) * (n2 + 1.0) / (m + 1.0))
    variance = (n1 - m) * (n2 - m) / ((n1 + 1.0) * (n2 + 1.0) * (m + 2.0))
    unknown = (info.records == 0) | (covered.sum(axis=1) < 2)
    return log_n, np.where(unknown, NO_SIZE_VARIANCE, variance)


#: Sampling variance given to a log size no two lists measure: large enough that such a
#: stratum informs no centring choice, finite so weighted means stay defined.
NO_SIZE_VARIANCE = 1e4


def simulate(n_regions: int = 8, n_sectors: int = 6, n_lists: int = 4, *,
             size: float = 200.0, rng: np.random.Generator | None = None,
             hard_share: float = 0.3, hard_shift: float = -1.0, referral: float = 1.0,
             avoidance: float = -1.0, reporting: float = 0.15, uncovered: float = 0.0):
    """A world with known truth, generated person by person rather than from the model.

    True sizes: log N = log(size) + region + sector + a small interaction. Two latent classes
    of catchability: a share ``hard_share`` of people has every capture log-odds lowered by
    ``-hard_shift`` (individual heterogeneity). Within a class, capture log-odds are list +
    region x list + sector x list effects, and the capture histories follow a log-linear law
    with referral between lists 1 and 2 (log odds ratio ``referral``) and avoidance between
    the last two lists (``avoidance``; lists 2 and 3 when there are three). The official count
    is Binomial(N, r) with logit r = logit(reporting) + region + sector effects. With
    ``uncovered`` > 0, the last list did not operate in that share of regions: records there
    show only their pattern on the other lists. Returns (table, official, truth) where truth
    holds ``N``, ``reporting_rate`` and ``coverage`` (DataArrays over ``stratum``).
    """
    rng = rng or np.random.default_rng()
    regions = [f"R{i + 1:02d}" for i in range(n_regions)]
    sectors = [f"S{j + 1:02d}" for j in range(n_sectors)]
    reg, sec = np.repeat(np.arange(n_regions), n_sectors), np.tile(np.arange(n_sectors),
                                                                   n_regions)
    log_n = (np.log(size) + rng.normal(0, 0.7, n_regions)[reg]
             + rng.normal(0, 0.5, n_sectors)[sec] + rng.normal(0, 0.15, len(reg)))
    n_true = rng.poisson(np.exp(log_n))
    logit = (rng.uniform(-2.0, -0.8, n_lists)[None, :]
             + rng.normal(0, 0.5, (n_regions, n_lists))[reg]
             + rng.normal(0, 0.3, (n_sectors, n_lists))[sec])
    full = full_patterns(n_lists)
    dependence = np.zeros((n_lists, n_lists))
    dependence[0, 1] = referral
    dependence[(n_lists - 2, n_lists - 1) if n_lists > 3 else (1, 2)] = avoidance
    pair_term = np.einsum("qa,ab,qb->q", full, dependence, full)
    counts = np.zeros((len(reg), 2**n_lists), np.int64)
    hard = rng.binomial(n_true, hard_share)
    for shift, people in ((0.0, n_true - hard), (hard_shift, hard)):
        log_p = full @ (logit + shift).T - np.log1p(np.exp(logit + shift)).sum(axis=1) \
            + pair_term[:, None]
        prob = np.exp(log_p - log_p.max(axis=0))
        prob /= prob.sum(axis=0)
        counts += np.array([rng.multinomial(n, p) for n, p in zip(people, prob.T)])
    covered = np.ones((len(reg), n_lists), bool)
    if uncovered > 0:
        gone = rng.permutation(n_regions)[:max(1, round(uncovered * n_regions))]
        covered[np.isin(reg, gone), -1] = False
        off = full[:, -1] == 1
        counts[:, ~off] += np.where(~covered[:, -1:], counts[:, off], 0)
        counts[:, off] *= covered[:, -1:]
    rate = 1 / (1 + np.exp(-(np.log(reporting / (1 - reporting))
                             + rng.normal(0, 0.5, n_regions)[reg]
                             + rng.normal(0, 0.3, n_sectors)[sec])))
    table = CaptureTable.from_array(counts[:, 1:], [chr(ord("A") + k) for k in range(n_lists)],
                                    {"region": [regions[i] for i in reg],
                                     "sector": [sectors[j] for j in sec]})
    labels = {"stratum": table.stratum_labels}
    official = xr.DataArray(rng.binomial(n_true, rate), dims="stratum", coords=labels,
                            name="official")
    truth = {"N": xr.DataArray(n_true, dims="stratum", coords=labels, name="N"),
             "reporting_rate": xr.DataArray(rate, dims="stratum", coords=labels),
             "coverage": xr.DataArray(covered, dims=("stratum", "list"),
                                      coords=labels | {"list": list(table.lists)})}
    return table, official, truth


def aggregate(tree: xr.DataTree, by: str = "region") -> xr.Dataset:
    """Per-group draws from the joint posterior: ``N`` (chain, draw, by) summed over the
    group's strata in each draw, ``official`` (by) summed, and ``ratio`` = N / official
    (NaN where the group recorded nothing: no finite multiplier exists there)."""
    n = tree["posterior"]["N"]
    column = tree["observed_data"]["count"][by].values
    n = n.assign_coords({by: ("stratum", column)}).groupby(by).sum("stratum")
    out = xr.Dataset({"N": n.transpose("chain", "draw", by)})
    if "constant_data" in tree.children and "official" in tree["constant_data"].dataset:
        official = tree["constant_data"]["official"].assign_coords(
            {by: ("stratum", column)}).groupby(by).sum("stratum")
        out["official"] = official
        out["ratio"] = (out["N"] / official).where(official > 0)
    return out
