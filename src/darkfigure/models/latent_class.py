"""Dirichlet-process latent-class multiple-systems estimation (Manrique-Vallier 2016).

Every person belongs to one of C latent classes; within a class the K lists capture
independently, with probabilities ``lambda[c, k]``:

    z_i ~ Categorical(pi),   x_ik | z_i = c ~ Bernoulli(lambda[c, k]),

so heterogeneity in catchability, and the list dependence it creates, is modelled by the
mixture (Manrique-Vallier 2016, "Bayesian population size estimation using Dirichlet process
mixtures", Biometrics 72(4):1246-1254). Priors as in his R package LCMCR (``lcmCR``):
``lambda ~ Beta(1, 1)``; ``pi`` a stick-breaking process truncated at C = 10 classes with
concentration ``alpha ~ Gamma(0.25, 0.25)`` (shape, rate); ``p(N) ~ 1/N``. The identifying
assumption is that the people on no list are a mixture of the same classes as those seen.

The marginal mixture likelihood defeats NUTS (it diverges everywhere: multimodal, with class
labels that switch), so this family brings its own sampler: LCMCR's data-augmentation Gibbs
sampler, compiled with Numba in `._lcmcr_gibbs`, plus moves that reorder the classes and draw
alpha with the stick-breaking weights integrated out (same posterior, far better mixing: LCMCR's
chains keep the class order they start with). Its draws are autocorrelated and the
posterior can be multimodal (on the Netherlands tables LCMCR lands near 48k or near
118k-144k depending on its seed), so several chains are run from independent seeds and from
two starting points, low and high in N; the burn-in goes on while they disagree, and
`chain_disagreement` reports chains that still settle in different places (`sample`).

Only label-invariant quantities go to the ``posterior`` group (N, the probability of being on
no list, alpha, the number of occupied classes): per-class parameters switch labels between
and within chains, so their R-hat and ESS would be meaningless.
"""

from __future__ import annotations

import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..tables import CaptureTable
from ._lcmcr_gibbs import WARMUP_SWEEPS, advance, initial_state

ASSUMPTION = ("heterogeneity is captured by a finite mixture of latent classes within which "
              "lists are independent; people on no list are a mixture of the same classes")


#: What convergence is judged on (Manrique-Vallier 2016): N and the probability of being on no
#: list are label-invariant targets; alpha and the number of occupied classes are nuisance
#: quantities, stored but not diagnosed. They do move N: before the class-order moves, Western
#: U.S. chains stuck at alpha ~0.14 gave N near 2,000 and those at ~0.03 near 1,830.
DIAGNOSED = ("N", "missing_probability")


class ChainDisagreementWarning(UserWarning):
    """Chains of one fit settled in different regions of N: multimodal or not mixed."""


@dataclass(frozen=True)
class Priors:
    """Priors and thinning of the latent-class model; defaults are LCMCR's ``lcmCR``.

    - ``truncation``: maximum number of latent classes C (LCMCR's ``K = 10``); the
      stick-breaking prior leaves unneeded classes empty, so larger only costs time;
    - ``alpha_shape``, ``alpha_rate``: Gamma prior (shape, rate) of the stick-breaking
      concentration; 0.25/0.25 (LCMCR's ``a_alpha``, ``b_alpha``) is vague, mean 1;
    - ``lambda_a``, ``lambda_b``: Beta prior of each class's capture probability per list,
      uniform as in LCMCR;
    - ``thin``: Gibbs sweeps per kept draw, and per unit of ``tune``. Successive sweeps are
      strongly autocorrelated in N (an effective draw costs ~100 sweeps on Western U.S. and
      ~300 on UK6), so keeping every 100th sweep (LCMCR's long runs) loses almost nothing and
      keeps the posterior small; it also makes ``tune=1000`` a burn-in of 100,000 sweeps,
      which the UK5 table needs (chains start in, and now and then return to, a mode near 12k
      where they can stay 100,000 sweeps before reaching the 21-22k that LCMCR reports).
    - ``max_burn_in``: the most sweeps the burn-in may be extended to while chains disagree
      (see `sample`). 5 million (30-40 s per chain on the Netherlands tables) is eight times
      what netherlands6 needs; netherlands5 is not settled by 20 million (its card with this
      cap ran 4 minutes, to be flagged all the same), so more only delays the flag. Raise it
      in the run card's priors to search longer.
    """

    truncation: int = 10
    alpha_shape: float = 0.25
    alpha_rate: float = 0.25
    lambda_a: float = 1.0
    lambda_b: float = 1.0
    thin: int = 100
    max_burn_in: int = 5_000_000

    def __post_init__(self):
        if self.truncation < 1:
            raise ValueError(f"truncation is {self.truncation}; it must be at least 1 class")
        if self.thin < 1:
            raise ValueError(f"thin is {self.thin}; it must be a positive number of sweeps")
        if self.max_burn_in < 0:
            raise ValueError(f"max_burn_in is {self.max_burn_in}; it must be a number of "
                             "sweeps, 0 or more")
        for name in ("alpha_shape", "alpha_rate", "lambda_a", "lambda_b"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} is {getattr(self, name)}; it must be positive")


def observed_cells(table: CaptureTable) -> tuple[np.ndarray, np.ndarray]:
    """The distinct observed patterns (M, K) and their counts (M,) of a one-stratum table."""
    if table.counts.sizes["stratum"] != 1:
        raise ValueError(f"latent-class sample() fits one stratum at a time; the table has "
                         f"{table.counts.sizes['stratum']}: pass table.stratum(label)")
    counts = table.counts.values[0]
    seen = counts > 0
    if not seen.any():
        raise ValueError("the table has no observed records; N cannot be estimated")
    return np.ascontiguousarray(table.patterns[seen]), counts[seen].astype(np.int64)


def sample(table: CaptureTable, priors: Priors = Priors(), *, draws: int = 1000,
           tune: int = 1000, chains: int = 4, seed: int = 0,
           progress: bool = False) -> xr.DataTree:
    """Run ``chains`` Gibbs chains: a burn-in of at least ``tune * thin`` sweeps, then
    ``draws`` draws each ``priors.thin`` sweeps apart. Counting ``tune`` in thinned draws,
    like ``draws``, keeps the NUTS meaning (burn-in and kept part of comparable length) for
    one set of CLI flags. Chains run in parallel threads (the kernel releases the GIL); each
    phase of each chain has its own seed from ``SeedSequence(seed, spawn_key=(chain,
    phase))``, so a seed fixes every draw.

    Half the chains start where LCMCR does (nobody missed), half high in N (`initial_state`).
    The burn-in goes on in rounds of ``tune * thin`` sweeps for as long as the chains
    disagree over the last round (`chain_disagreement`), up to ``priors.max_burn_in``
    sweeps. Why: on the Netherlands tables chains from LCMCR's start sit near 48-54k and
    then move to ~145k. On netherlands6 they leave within a few hundred thousand sweeps and
    none came back in 20 million further sweeps over four chains; the high start is there at
    once. A fixed burn-in of 100,000 sweeps (LCMCR's long runs) leaves some chains in the low
    state, which is why LCMCR's seeds disagree (../shared/anchors/). On netherlands5 the
    chain goes both ways and stays millions of sweeps in either region: one chain of 100
    million sweeps spent 6% of them near 49k (17 visits) and the rest near 148k, while four
    chains of 20 million kept sweeps each spent 2%, 31%, 46% and 67% there. The share of each
    region is not settled by such runs, so fits there are flagged, as they should be.
    Every chain is discarded or kept alike whatever the round count, and
    the rounds are reported (``burn_in_sweeps``, ``burn_in_rounds``).

    Returns a DataTree with ``posterior`` (N, missing_probability, alpha, n_occupied_classes;
    dims chain, draw, stratum) and ``sample_stats/diverging`` (all False: Gibbs has no
    divergences). Chains that still disagree after the burn-in raise a
    `ChainDisagreementWarning` and the message is kept in the posterior's attributes.
    ``progress`` reports extended burn-ins on stderr.
    """
    cells, freq = observed_cells(table)
    states = [initial_state(cells, freq, priors.truncation, chain % 2 == 1)
              for chain in range(chains)]
    workers = max(1, min(chains, os.cpu_count() or 1))
    where = f" in stratum {table.stratum_labels[0]}" if table.strata else ""

    def phase(number: int, warmup: int, n_draws: int) -> list:
        def one(chain):
            phase_seed = int(np.random.SeedSequence(seed, spawn_key=(chain, number))
                             .generate_state(1, np.uint32)[0])
            return advance(cells, freq, priors.alpha_shape, priors.alpha_rate, priors.lambda_a,
                           priors.lambda_b, phase_seed, warmup, 0, n_draws, priors.thin,
                           *states[chain])

        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, range(chains)))

    n_obs = int(freq.sum())
    rounds = 0
    while True:
        burn = phase(rounds, WARMUP_SWEEPS if rounds == 0 else 0, tune)
        rounds += 1
        recent = np.stack([r[0] for r in burn])[:, tune // 2:] + n_obs
        message = chain_disagreement(recent)  # None for an empty burn-in (tune = 0)
        if message is None or (rounds + 1) * tune * priors.thin > priors.max_burn_in:
            break
        if progress and rounds % 10 == 1:
            medians = ", ".join(f"{m:,.0f}" for m in np.median(recent, axis=1))
            print(f"[darkfigure] latent-class{where}: chains disagree after "
                  f"{rounds * tune * priors.thin:,} burn-in sweeps (medians {medians}); "
                  "burning in further", file=sys.stderr, flush=True)
    results = phase(rounds, 0, draws)
    n0, p0, alpha, occupied = (np.stack([r[i] for r in results]) for i in range(4))

    label = table.stratum_labels
    coords = {"chain": np.arange(chains), "draw": np.arange(draws), "stratum": label}
    for col in table.strata:
        coords[col] = ("stratum", [str(v) for v in table.counts[col].values])
    dims = ("chain", "draw", "stratum")
    posterior = xr.Dataset(
        {"N": (dims, (n_obs + n0)[..., None].astype(np.int64)),
         "missing_probability": (dims, p0[..., None]),
         "alpha": (dims, alpha[..., None]),
         "n_occupied_classes": (dims, occupied[..., None].astype(np.int64))},
        coords=coords,
        attrs={"sampler": "darkfigure latent-class data-augmentation Gibbs (LCMCR)",
               "burn_in_sweeps": str(rounds * tune * priors.thin),
               "burn_in_rounds": str(rounds), "thin": str(priors.thin)})
    message = chain_disagreement(posterior["N"].values[..., 0])
    if message:
        posterior.attrs["chain_disagreement"] = message
        warnings.warn(f"latent-class{where}: {message}", ChainDisagreementWarning, stacklevel=2)
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((chains, draws), bool))},
                       coords={"chain": coords["chain"], "draw": coords["draw"]})
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})


def chain_disagreement(N: np.ndarray, max_ratio: float = 1.5) -> str | None:
    """A message when the chains' draws of N (chain, draw) settle in different places, else None.

    Flags a ratio of the largest to the smallest chain median above ``max_ratio``, or two
    chains whose central 95% intervals do not overlap. A latent-class posterior can be
    multimodal: LCMCR finds N near 48k or near 118k-144k on the Netherlands tables depending
    on its seed. Its sampler does move between them, but slowly: on netherlands5 a chain
    stays near 49k or near 145-150k for millions of sweeps and goes both ways, so chains of a
    practical length that disagree give no honest weight to either mode.
    """
    N = np.asarray(N, dtype=float)
    if N.ndim != 2 or N.shape[0] < 2 or N.shape[1] == 0:
        return None
    medians = np.median(N, axis=1)
    lo, hi = np.quantile(N, [0.025, 0.975], axis=1)
    ratio = medians.max() / max(medians.min(), 1.0)
    separated = [(a, b) for a in range(len(N)) for b in range(len(N))
                 if a != b and hi[a] < lo[b]]
    if ratio <= max_ratio and not separated:
        return None
    shown = ", ".join(f"{m:,.0f}" for m in medians)
    why = []
    if ratio > max_ratio:
        why.append(f"largest/smallest median = {ratio:.2f} > {max_ratio}")
    if separated:
        a, b = separated[0]
        why.append(f"95% intervals of chains {a} [{lo[a]:,.0f}, {hi[a]:,.0f}] and {b} "
                   f"[{lo[b]:,.0f}, {hi[b]:,.0f}] do not overlap")
    return (f"chains disagree on N (chain medians {shown}; {'; '.join(why)}): the posterior "
            "is multimodal or the chains have not mixed; do not pool them. Run more chains "
            "with longer burn-in and report each mode, or compare with another model family")


def simulate(n_total: int, class_weights, capture_probs,
             rng: np.random.Generator | None = None) -> tuple[CaptureTable, int]:
    """Draw a table from the model: ``n_total`` people, classes from ``class_weights`` (C,),
    captures by ``capture_probs`` (C, K); people on no list are hidden.

    Returns the table (lists named A, B, ...) and the true population size ``n_total``.
    """
    rng = rng or np.random.default_rng()
    weights = np.asarray(class_weights, dtype=float)
    probs = np.atleast_2d(np.asarray(capture_probs, dtype=float))
    if probs.shape[0] != weights.shape[0]:
        raise ValueError(f"{weights.shape[0]} class weights but capture_probs has "
                         f"{probs.shape[0]} rows (classes)")
    n_lists = probs.shape[1]
    z = rng.choice(len(weights), size=n_total, p=weights / weights.sum())
    captured = rng.random((n_total, n_lists)) < probs[z]
    # Pattern index as in `all_patterns`: first list is the most significant bit, code - 1.
    code = captured.astype(np.int64) @ (1 << np.arange(n_lists - 1, -1, -1))
    counts = np.bincount(code[code > 0] - 1, minlength=2**n_lists - 1)
    lists = [chr(ord("A") + k) for k in range(n_lists)]
    return CaptureTable.from_array(counts, lists), int(n_total)
