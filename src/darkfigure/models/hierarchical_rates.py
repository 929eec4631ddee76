"""The hierarchical model's Poisson likelihood, at a cost set by its levels, not its cells.

For stratum s and full capture pattern q of K lists (effect-coded indicators x = pattern -
1/2, pair products p_q in `pair_labels` order, and P_q = the sum of p_q),

    log mu[s, q] = level[s] + b[s] . x_q + h[s] P_q + g . p_q  (+ d[s] . p_q),

where the capture log odds b[s] = b0 + sum_c B_c[:, l_c(s)] and the heterogeneity term
h[s] = h0 + sum_c H_c[l_c(s)] are additive over the stratum columns c (region, sector, ...),
l_c(s) being stratum s's level of column c (`hierarchical` docstring). Two exact identities
make the likelihood cheap:

1. **Sufficient statistics.** sum_q y[s, q] log mu[s, q] is linear in the terms, so the
   non-empty cells of a fully covered stratum enter through three statistics
   (`hierarchical_parts.Cells`: records, sum y x per list, sum y p per pair): K^2 / 2
   numbers a stratum whatever the number of its non-empty cells (Bishop, Fienberg & Holland
   1975, *Discrete Multivariate Analysis*, ch. 3: the margins are sufficient for a
   log-linear model).
2. **A factorised normaliser.** The total rate sum_q mu[s, q] = exp(level[s]) Z[s] with

       Z[s] = sum_q W[q] prod_c F_c[l_c(s), q],
       W[q] = exp(b0 . x_q + h0 P_q + g . p_q),   F_c[l, q] = exp(B_c[:, l] . x_q + H_c[l] P_q),

   so the exponentials cost (sum of the columns' levels) x 2^K rather than strata x 2^K,
   and the sum over patterns is one matrix product: with region and sector,
   Z = ((F_region * W) @ F_sector^T)[region(s), sector(s)]. With three or more columns the
   combinations of all but the last that occur are crossed first.

The 2^K itself stays: a pairwise log-linear model's normaliser is an Ising partition
function and does not factorise over lists. What is gone is its product with the number of
strata. Measured (one log density and gradient, numba, one core, 89 x 10 strata, the same
values to 1e-15 relative): 5 lists 0.59 -> 0.18 ms; 10 lists 25.3 -> 2.6 ms, 3.7 ms with a
list missing in 10% of the regions. That makes 10 lists affordable per gradient, not yet per
fit: NUTS needs many leapfrog steps there (8 x 6 strata x 10 lists, 2 chains of 200 + 200:
step size 0.04, 100 steps per draw, up to 365 in tuning, 54 s; 89 x 10 x 10 did not finish
150 + 100 draws in 15 minutes), so the geometry of 45 pooled pair terms, not the likelihood's
arithmetic, is what remains to make 10 lists over 890 strata practical.

Strata where a list did not operate keep dense rows: their observable cells sum rates over
the uncovered lists' indicators, and their missing cell over every pattern with no covered
list (`hierarchical_parts.cells`). Per-stratum pair deviations (``stratum_dependence``)
break the factorisation, and then every stratum's row is dense.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytensor.tensor as pt

from .hierarchical_parts import Cells, full_patterns
from .loglinear import coded_pairs


@dataclass(frozen=True)
class Terms:
    """The log-linear terms of `hierarchical.build`, kept apart by stratum column so the
    normaliser can factorise. ``columns`` holds, per stratum column, its capture effects
    B_c (list, level), its heterogeneity effects H_c (level,) or None, and the (stratum,)
    level index of every stratum."""

    n_strata: int
    n_lists: int
    capture: object                   # (list,) b0
    columns: tuple = ()               # (B_c, H_c or None, index) per column
    heterogeneity: object = None      # h0, scalar; None with fewer than 3 lists
    dependence: object = None         # (pair,) g; None with fewer than 3 lists
    deviation: object = None          # (stratum, pair) d, with stratum_dependence

    def capture_by_stratum(self):
        """(stratum, list) b[s]."""
        total = self.capture + pt.zeros((self.n_strata, self.n_lists))
        for effect, _, index in self.columns:
            total = total + effect[:, index].T
        return total

    def heterogeneity_by_stratum(self):
        """(stratum,) h[s] (0 with fewer than 3 lists)."""
        total = pt.zeros(self.n_strata)
        if self.heterogeneity is not None:
            total = total + self.heterogeneity
        for _, effect, index in self.columns:
            if effect is not None:
                total = total + effect[index]
        return total


@dataclass(frozen=True)
class Patterns:
    """Per full pattern: effect-coded indicators (2^K, K), pair products (2^K, pairs) and
    their sum (2^K,), the design of every term."""

    coded: np.ndarray
    pairs: np.ndarray
    common: np.ndarray

    @classmethod
    def of(cls, n_lists: int) -> Patterns:
        full = full_patterns(n_lists)
        pairs = coded_pairs(full) if n_lists >= 2 else np.zeros((len(full), 0))
        return cls(full - 0.5, pairs, pairs.sum(axis=1))


def shape(terms: Terms, rows: np.ndarray, patterns: Patterns):
    """(row, pattern) log mu - level of the strata ``rows``, dense: the terms summed."""
    out = terms.capture_by_stratum()[rows] @ patterns.coded.T
    if terms.dependence is not None:
        out = out + terms.heterogeneity_by_stratum()[rows][:, None] * patterns.common[None, :] \
            + (patterns.pairs @ terms.dependence)[None, :]
    if terms.deviation is not None:
        out = out + terms.deviation[rows] @ patterns.pairs.T
    return out


def log_normaliser(terms: Terms, patterns: Patterns):
    """(stratum,) log Z[s] = log sum_q exp(log mu[s, q] - level[s]), factorised over the
    stratum columns (module docstring); dense where per-stratum deviations forbid it."""
    if terms.deviation is not None:
        return pt.logsumexp(shape(terms, np.arange(terms.n_strata), patterns), axis=1)
    base = patterns.coded @ terms.capture
    if terms.dependence is not None:
        base = base + terms.heterogeneity * patterns.common + patterns.pairs @ terms.dependence
    factors, indexes = [], []
    for capture, heterogeneity, index in terms.columns:
        log_factor = (patterns.coded @ capture).T                      # (level, pattern)
        if heterogeneity is not None:
            log_factor = log_factor + heterogeneity[:, None] * patterns.common[None, :]
        factors.append(log_factor)
        indexes.append(np.asarray(index))
    if not factors:
        return pt.logsumexp(base) + pt.zeros(terms.n_strata)
    if len(factors) == 1:
        return pt.logsumexp(base[None, :] + factors[0], axis=1)[indexes[0]]
    # Cross the combinations of all columns but the last that occur; each is one row.
    combos, inverse = np.unique(np.stack(indexes[:-1], axis=1), axis=0, return_inverse=True)
    crossed = base[None, :] + sum(f[combos[:, c]] for c, f in enumerate(factors[:-1]))
    z = pt.exp(crossed) @ pt.exp(factors[-1]).T                         # (combo, level)
    return pt.log(z[np.ravel(inverse), indexes[-1]])


@dataclass(frozen=True)
class Rates:
    """Per stratum, what the likelihood and the abundance need, all without level[s]:
    ``log_total`` = log Z[s], ``missing`` the missing cell's share exp(-level) mu[s, 0..0]
    (summed over every pattern with no covered list where a list did not operate), and
    ``partial`` the dense exp(shape) rows of the partially covered strata."""

    log_total: object
    missing: object
    partial: object

    @property
    def observable(self):
        """(stratum,) the observable cells' total rate over exp(level)."""
        return pt.exp(self.log_total) - self.missing


def rates(terms: Terms, cells: Cells, patterns: Patterns) -> Rates:
    everyone = np.arange(terms.n_strata)
    missing = pt.exp(shape(terms, everyone, Patterns(patterns.coded[:1], patterns.pairs[:1],
                                                     patterns.common[:1]))[:, 0])
    partial = None
    if len(cells.partial):
        partial = pt.exp(shape(terms, cells.partial, patterns))
        missing = pt.set_subtensor(missing[cells.partial],
                                   (partial * cells.missing_mask).sum(axis=1))
    return Rates(log_normaliser(terms, patterns), missing, partial)


def loglik(level, terms: Terms, cells: Cells, rate: Rates, partial: bool | None = None):
    """Poisson log-likelihood of every observable cell: the sufficient statistics of fully
    covered strata, the gathered cells of partially covered ones (each summed over the
    uncovered lists), minus the total observable rate. ``cells`` may hold `pm.Data` tensors;
    ``partial`` then says whether it has partially covered cells."""
    out = (cells.total * level).sum() + (cells.margin * terms.capture_by_stratum()).sum() \
        - (pt.exp(level) * rate.observable).sum() - cells.log_factorial
    if terms.dependence is not None:
        out = out + (cells.pairs.sum(axis=1) * terms.heterogeneity_by_stratum()).sum() \
            + (cells.pairs.sum(axis=0) * terms.dependence).sum()
    if terms.deviation is not None:
        out = out + (cells.pairs * terms.deviation).sum()
    if len(cells.part_count) if partial is None else partial:
        width = 2**terms.n_lists
        lam = (rate.partial.flatten()[cells.part_index] * cells.part_weight).sum(axis=1)
        row = level[cells.partial][cells.part_index[:, 0] // width]
        out = out + (cells.part_count * (row + pt.log(lam))).sum()
    return out
