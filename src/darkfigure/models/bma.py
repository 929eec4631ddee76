"""Bayesian model averaging over decomposable graphical log-linear models (family ``bma``).

Madigan & York (1997), "Bayesian methods for estimation of the size of a closed population",
Biometrika 84(1):19-31, as implemented in the R package dga (Johndrow, Lum & Ball, HRDAG).

The complete 2^K table, including the unobservable cell n0 of people on no list, is
multinomial(N, p). Under a decomposable graph g, p has the hyper-Dirichlet prior whose margin
on every clique is Dirichlet with each cell's parameter equal to ``delta`` times the number of
full-table cells collapsed into it, so the margins agree and the marginal likelihood of the
completed table is the product over cliques over the product over separators of
Dirichlet-multinomial likelihoods. Graphs are equally likely a priori; N has dga's default
prior, proportional to 1/N. The joint posterior of (g, n0) is therefore known in closed form up
to a constant: we evaluate it on a grid of n0 for every graph (no MCMC) with the same terms as
dga's ``bma.cr`` (``MakeCompMatrix``, ``CompLogML``, ``computeLogPostProbs``), so an exact
comparison with dga holds to rounding, and `sample` draws iid from it.

Exact enumeration covers 3-5 lists (8, 61 and 822 graphs), dga's own range.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.special import gammaln

from ..errors import DataWarning
from ..tables import CaptureTable
from .decomposable import decomposable_graphs

ASSUMPTION = ("the people on no list follow the same decomposable graphical log-linear "
              "structure as the observed cells; averaged over all such graphs")

#: Numbers of lists the exact enumeration handles (dga's own limit is 5).
LIST_LIMITS = (2, 5)
#: Posterior mass of N allowed beyond the grid: it shifts a 97.5% quantile by ~40x this, 0.04%.
TAIL_TOLERANCE = 1e-5
#: Largest automatic grid bound on n0; beyond it the prior on N, not the data, sets the tail.
MAX_GRID = 10**9
#: Graphs whose weights are evaluated together: bounds memory at GRAPH_BLOCK x grid cells.
GRAPH_BLOCK = 128


@dataclass(frozen=True)
class Priors:
    """Priors of the model average (graph prior: all decomposable graphs equally likely).

    delta: hyper-Dirichlet parameter of each of the 2^K cells; None means 2^-K (dga's choice:
        one prior observation spread over the whole table).
    n_prior: prior on the total N: "inverse" (proportional to 1/N, dga's default
        ``logprior = -log(n + Nmissing)``) or "uniform" (flat; proper posterior only if
        delta > 1/(2^K - 1), because the saturated graph's tail is then too heavy).
    max_missing: largest number of unlisted people on the grid; None chooses it so that the
        posterior mass beyond is below `TAIL_TOLERANCE` (checked after the fit, warned if not).
    """

    delta: float | None = None
    n_prior: str = "inverse"
    max_missing: int | None = None

    def __post_init__(self):
        if self.n_prior not in ("inverse", "uniform"):
            raise ValueError(f"n_prior is '{self.n_prior}'; choose 'inverse' or 'uniform'")
        if self.delta is not None and not self.delta > 0:
            raise ValueError(f"delta is {self.delta}; the Dirichlet parameter must be > 0")
        if self.max_missing is not None and self.max_missing < 0:
            raise ValueError(f"max_missing is {self.max_missing}; it must be >= 0")


@dataclass(frozen=True)
class Posterior:
    """The exact posterior on a grid of cells of n0: cell i holds the integers
    ``start[i] .. start[i] + width[i] - 1`` with total probability ``prob[i]``."""

    observed: int
    start: np.ndarray
    width: np.ndarray
    prob: np.ndarray
    graphs: list[str]
    graph_weight: np.ndarray
    graph_median_N: np.ndarray
    tail_mass: float

    def quantiles(self, qs) -> np.ndarray:
        """Quantiles of N (smallest N with cdf >= q), without Monte Carlo error."""
        cdf = np.cumsum(self.prob)[None, :]
        return self.observed + _invert_cdf(cdf, self.prob[None, :], self.start, self.width,
                                           np.atleast_1d(qs))[0]

    @property
    def mean(self) -> float:
        return self.observed + float(np.sum(self.prob * (self.start + (self.width - 1) / 2)))


def graphs(n_lists: int):
    """The decomposable graphs averaged over; a clear error outside dga's 3-5 lists."""
    if n_lists > 5:
        raise ValueError(f"{n_lists} lists: exact enumeration of decomposable graphs is limited "
                         "to 3-5 lists (dga's own limit; 6 lists have 18,154 graphs); use the "
                         "'loglinear' or 'latent-class' model, or merge lists to at most 5 "
                         "(CaptureTable.merge_lists)")
    if n_lists < 2:
        raise ValueError(f"{n_lists} list(s): multiple-systems estimation needs at least 2")
    return decomposable_graphs(n_lists)


def log_joint(table: CaptureTable, priors: Priors, n0) -> np.ndarray:
    """Unnormalised log p(table, n0, graph) as a (graph, n0) array, n0 real-valued >= 0.

    The constant log prior weight of each graph is left out (equal weights)."""
    terms = _Terms(table, priors)
    return terms.log_joint(terms.incidence, np.asarray(n0, dtype=float))


def posterior(table: CaptureTable, priors: Priors = Priors(), *, grid=None) -> Posterior:
    """The model-averaged posterior of n0 on a grid, per-graph weights and medians of N.

    ``grid`` (increasing integers) replaces the automatic grid, e.g. ``range(0, 96001)`` to
    reproduce a dga run; each point then stands for the integers up to the next point."""
    terms = _Terms(table, priors)
    if grid is not None:
        start = np.asarray(grid, dtype=np.int64)
        if start.ndim != 1 or not len(start) or start[0] < 0 or np.any(np.diff(start) <= 0):
            raise ValueError("grid must be increasing non-negative integers (values of n0)")
        step = np.diff(start)
        width = np.append(step, step[-1] if len(step) else 1)
        post = terms.evaluate(start, width, start.astype(float))
    else:
        upper = priors.max_missing
        if upper is None:
            upper = terms.bound_by_coarse_scan()
        post = terms.evaluate(*_cells(upper))
        while priors.max_missing is None and post.tail_mass > TAIL_TOLERANCE and upper < MAX_GRID:
            upper = min(upper * 4, MAX_GRID)
            post = terms.evaluate(*_cells(upper))
    if post.tail_mass > TAIL_TOLERANCE:
        end = int(post.start[-1] + post.width[-1] - 1)
        warnings.warn(f"bma: about {post.tail_mass:.1e} of the posterior of N lies beyond the "
                      f"grid end (n0 = {end}); upper quantiles are truncated: raise "
                      "max_missing, or read the upper tail as set by the prior on N",
                      DataWarning, stacklevel=2)
    return post


def sample(table: CaptureTable, priors: Priors = Priors(), *, draws: int = 1000,
           tune: int = 0, chains: int = 4, seed: int | None = None,
           progress: bool = False) -> xr.DataTree:
    """Independent draws of N from the exact model-averaged posterior (``tune`` is unused:
    there is no chain to tune), with per-graph weights and medians in group ``bma_models``."""
    post = posterior(table, priors)
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(post.prob)
    idx = np.minimum(np.searchsorted(cdf / cdf[-1], rng.random(chains * draws), side="right"),
                     len(cdf) - 1)
    missing = (post.start[idx] + rng.integers(0, post.width[idx])).reshape(chains, draws, 1)
    coords = {"chain": np.arange(chains), "draw": np.arange(draws),
              "stratum": table.stratum_labels}
    coords.update({c: ("stratum", table.counts[c].values) for c in table.strata})
    dims = ("chain", "draw", "stratum")
    draws_ds = xr.Dataset({"N": (dims, (missing + post.observed).astype(np.int64)),
                           "missing": (dims, missing.astype(np.int64))}, coords=coords)
    order = np.argsort(-post.graph_weight, kind="stable")
    qs = np.array([0.025, 0.05, 0.5, 0.95, 0.975])
    models = xr.Dataset(
        {"weight": ("graph", post.graph_weight[order]),
         "N_median": ("graph", post.graph_median_N[order]),
         "N_exact": ("quantile", post.quantiles(qs))},
        coords={"graph": [post.graphs[i] for i in order], "quantile": qs},
        attrs={"delta": _delta(priors, table.n_lists), "n_prior": priors.n_prior,
               "grid_end": int(post.start[-1] + post.width[-1] - 1),
               "tail_mass": post.tail_mass})
    return xr.DataTree.from_dict({"posterior": draws_ds, "bma_models": models})


def simulate(n_total: int, cell_probs, *, lists=None, seed: int | None = None
             ) -> tuple[CaptureTable, int]:
    """Draw a population of ``n_total`` people over the 2^K capture cells and return the
    observed table and the true N. ``cell_probs[c]`` is the probability of pattern code c
    (c = 0: on no list; list 0 is the most significant bit, as in `tables.all_patterns`), e.g.
    the product of clique margins over separator margins of a decomposable model."""
    p = np.asarray(cell_probs, dtype=float)
    n_lists = int(np.log2(len(p)))
    if len(p) != 2**n_lists or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError("cell_probs must be 2^K non-negative probabilities summing to 1")
    lists = list(lists or [chr(ord("A") + i) for i in range(n_lists)])
    full = np.random.default_rng(seed).multinomial(n_total, p)
    return CaptureTable.from_array(full[1:], lists), int(n_total)


# -- the closed form ----------------------------------------------------------------------
def _delta(priors: Priors, n_lists: int) -> float:
    return priors.delta if priors.delta is not None else 2.0 ** -n_lists


def _cells(upper: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells covering n0 = 0..upper, one integer wide at first and then about sqrt(n0)/2 wide.

    The posterior sd of n0 is at least about sqrt(n0) (binomial sampling of the unlisted), so
    cells of half that width integrate it by the midpoint rule to far below any reported
    digit, while 10^9 people need only ~130,000 cells instead of 10^9."""
    t = np.arange(int(np.ceil(4 * np.sqrt(upper))) + 2, dtype=np.int64)
    start = np.unique(np.minimum(t * t // 16, upper))
    width = np.diff(start, append=upper + 1)
    return start, width, start + (width - 1) / 2


def _invert_cdf(cdf, mass, start, width, qs) -> np.ndarray:
    """Per row, the smallest n0 whose cdf reaches each q, spreading a cell's mass evenly over
    its integers. cdf and mass are (row, cell); returns (row, q)."""
    out = np.empty((cdf.shape[0], len(qs)), dtype=np.int64)
    total = cdf[:, -1:]
    for j, q in enumerate(qs):
        idx = np.argmax(cdf >= q * total, axis=1)
        rows = np.arange(cdf.shape[0])
        before = cdf[rows, idx] - mass[rows, idx]
        frac = (q * total[:, 0] - before) / np.maximum(mass[rows, idx], 1e-300)
        k = np.clip(np.ceil(frac * width[idx]) - 1, 0, width[idx] - 1)
        out[:, j] = start[idx] + k.astype(np.int64)
    return out


class _Terms:
    """Everything about one table that does not depend on n0."""

    def __init__(self, table: CaptureTable, priors: Priors):
        if table.counts.sizes["stratum"] != 1:
            raise ValueError(f"bma fits one stratum at a time; this table has "
                             f"{table.counts.sizes['stratum']} (use table.stratum(label))")
        self.priors, k = priors, table.n_lists
        self.graph_list = graphs(k)
        self.labels = [g.label(table.lists) for g in self.graph_list]
        y = table.counts.values[0].astype(np.int64)
        self.n = int(y.sum())
        if self.n == 0:
            raise ValueError("bma: the table has no observed people; nothing to estimate from")
        delta = _delta(priors, k)
        self.big_a = delta * 2**k
        self.incidence = np.zeros((len(self.graph_list), 2**k))
        for i, g in enumerate(self.graph_list):
            np.add.at(self.incidence[i], list(g.cliques), 1)
            np.add.at(self.incidence[i], list(g.separators), -1)
        # Per subset B of lists (bitmask, B = 0 the empty set whose term is 0): the prior cell
        # parameter of its margin, the observed count in the margin cell that also holds the
        # unlisted (people on none of B), and the log Gamma sums of the margin's other cells.
        codes = np.arange(1, 2**k)
        self.alpha = np.zeros(2**k)
        self.zero_cell = np.zeros(2**k)
        self.const = np.zeros(2**k)
        for b in range(1, 2**k):
            size = bin(b).count("1")
            a = delta * 2 ** (k - size)
            margin = np.bincount(codes & b, weights=y, minlength=2**k)
            submasks = [c for c in range(1, 2**k) if c & b == c]
            self.alpha[b], self.zero_cell[b] = a, margin[0]
            self.const[b] = (gammaln(self.big_a) + gammaln(margin[submasks] + a).sum()
                             - 2**size * gammaln(a))
        self.log_y_factorials = gammaln(y + 1).sum()
        # As n0 grows each term behaves like a power of n0; the sum of the powers is the tail
        # exponent of p(n0 | graph), which must be below -1 for a proper posterior.
        power = self.zero_cell + self.alpha - self.n - self.big_a
        power[0] = 0.0
        inverse = priors.n_prior == "inverse"
        self.tail_exponent = self.incidence @ power + self.n - inverse
        if np.any(self.tail_exponent >= -1):
            worst = self.labels[int(np.argmax(self.tail_exponent))]
            raise ValueError(f"bma: with n_prior='{priors.n_prior}' and delta={delta:g} the "
                             f"posterior of N under graph {worst} is improper (its density "
                             "decays no faster than 1/N); use n_prior='inverse' or "
                             f"delta > 1/{2**k - 1}")

    def log_joint(self, incidence: np.ndarray, x: np.ndarray) -> np.ndarray:
        comp, common = self.subset_terms(x)
        return incidence[:, 1:] @ comp + common[None, :]

    def subset_terms(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log marginal likelihood of each non-empty subset's margin (subset, n0), and the
        graph-free terms: multinomial coefficient of the completed table and prior on N."""
        comp = (self.const[1:, None] + gammaln(x[None, :] + self.zero_cell[1:, None]
                                               + self.alpha[1:, None])
                - gammaln(x + self.n + self.big_a)[None, :])
        common = gammaln(x + self.n + 1) - gammaln(x + 1) - self.log_y_factorials
        if self.priors.n_prior == "inverse":
            common = common - np.log(x + self.n)
        return comp, common

    def bound_by_coarse_scan(self) -> int:
        """A grid end beyond which the averaged posterior holds < TAIL_TOLERANCE / 10, from
        a geometric scan of n0 up to MAX_GRID (cheap: 1,000 points)."""
        x = np.concatenate([[0.0], np.geomspace(1, MAX_GRID, 1000)])
        log_mass = self.log_joint(self.incidence, x) + np.log(np.gradient(x))[None, :]
        log_mass = np.logaddexp.reduce(log_mass, axis=0)
        mass = np.exp(log_mass - log_mass.max())
        beyond = np.cumsum(mass[::-1])[::-1] / mass.sum()
        ok = np.nonzero(beyond < TAIL_TOLERANCE / 10)[0]
        return int(x[ok[0]]) if len(ok) else MAX_GRID

    def evaluate(self, start, width, x) -> Posterior:
        """Normalised posterior on the cells, processed in blocks of graphs."""
        n_graphs = len(self.graph_list)
        log_z = np.empty(n_graphs)
        median = np.empty(n_graphs, dtype=np.int64)
        tail = np.empty(n_graphs)
        acc, ref = np.zeros(len(x)), -np.inf
        comp, common = self.subset_terms(x)
        common = common + np.log(width)
        incidence = np.ascontiguousarray(self.incidence[:, 1:])
        for lo in range(0, n_graphs, GRAPH_BLOCK):
            rows = slice(lo, min(lo + GRAPH_BLOCK, n_graphs))
            log_mass = incidence[rows] @ comp + common[None, :]
            top = log_mass.max(axis=1, keepdims=True)
            mass = np.exp(log_mass - top)
            total = mass.sum(axis=1)
            log_z[rows] = top[:, 0] + np.log(total)
            mass /= total[:, None]
            median[rows] = _invert_cdf(np.cumsum(mass, axis=1), mass, start, width, [0.5])[:, 0]
            # Tail beyond the grid if the density keeps decaying as its asymptotic power.
            end = start[-1] + width[-1]
            tail[rows] = mass[:, -1] / width[-1] * end / (-self.tail_exponent[rows] - 1)
            new_ref = max(ref, log_z[rows].max())
            acc = acc * np.exp(ref - new_ref) + np.exp(log_z[rows] - new_ref) @ mass
            ref = new_ref
        weight = np.exp(log_z - log_z.max())
        weight /= weight.sum()
        return Posterior(self.n, start, width, acc / acc.sum(), self.labels, weight,
                         median + self.n, float(weight @ tail))
