"""Held-out-list validation: each list in turn is a population of known size.

Binette & Steorts (2021, arXiv 2112.01594): keep only the members of list k, forget list k,
and estimate their number from the other lists' capture patterns among them. The members of k
on no other list play the role of the unobserved cell, so the truth is known. Log relative
bias log(N_hat / n_k) and coverage of the truth by the interval, per list and over tables,
show how a method behaves on real list dependence rather than on its own simulated worlds.
The list-k population is special (its members are all "visible" to one agency), so this is a
check of robustness, not a calibration under the method's own assumptions.

Protocol as published: a held-out list enters the summary only when at least
``MIN_OBSERVED`` = 30 of its members are seen by the other lists (their analysis script,
``analyses/internal_consistency/internal_consistency.Rmd`` in MSETools, filters
``nobs >= 30``). Below that the sub-table is a handful of people whose estimate says more
about the prior than about the method; such lists are still fitted and written, marked
``summarised = False``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .fit import FitInputs, fit
from .runcard import RunCard
from .tables import CaptureTable

#: Fewest held-out members seen by the other lists for a list to enter the summary
#: (Binette & Steorts 2021: ``nobs >= 30``).
MIN_OBSERVED = 30


def heldout_table(table: CaptureTable, name: str) -> tuple[CaptureTable, int]:
    """The table of list ``name``'s members seen through the other lists, and their number."""
    k = table.lists.index(name)
    members = table.patterns[:, k] == 1
    truth = int(table.counts.values[:, members].sum())
    on_k = table.counts.copy(data=np.where(members[None, :], table.counts.values, 0))
    others = [n for n in table.lists if n != name]
    return CaptureTable(on_k, table.lists, table.strata, table.source).select_lists(others), \
        truth


def validate(table: CaptureTable, card: RunCard, level: float = 0.95,
             progress: bool = False, min_observed: int = MIN_OBSERVED) -> list[dict]:
    """One row per held-out list: truth, members seen by the other lists (``observed``),
    posterior median and interval, log relative bias, whether the interval covers the truth,
    the fit's convergence, and whether the list enters the summary
    (``observed >= min_observed``)."""
    rows = []
    tail = (1 - level) / 2
    for i, name in enumerate(table.lists):
        sub, truth = heldout_table(table, name)
        if sub.n_lists < 2:
            continue
        tree, diagnostics = fit(replace(card, seed=card.seed + i), FitInputs(sub),
                                progress=progress)
        n = tree["posterior"]["N"].values.sum(axis=-1).ravel()
        median, lo, hi = np.quantile(n, [0.5, tail, 1 - tail])
        observed = int(sub.observed.sum())
        rows.append({"list": name, "truth": truth, "observed": observed,
                     "summarised": observed >= min_observed, "N_median": float(median),
                     "N_lo": float(lo), "N_hi": float(hi),
                     "log_relative_bias": math.log(median / truth),
                     "covered": bool(lo <= truth <= hi),
                     "converged": diagnostics["converged"]})
    return rows


def summarise(rows: list[dict]) -> dict:
    """Mean and RMSE of log relative bias and interval coverage over the held-out lists that
    enter the summary (rows without a ``summarised`` flag all do); ``n_excluded`` counts the
    others. With none left the figures are None, never a number from nothing."""
    kept = [r for r in rows if r.get("summarised", True)]
    bias = np.array([r["log_relative_bias"] for r in kept], dtype=float)
    if not kept:
        return {"n": 0, "n_excluded": len(rows), "mean_log_relative_bias": None,
                "rmse_log_relative_bias": None, "coverage": None}
    return {"n": len(kept), "n_excluded": len(rows) - len(kept),
            "mean_log_relative_bias": float(bias.mean()),
            "rmse_log_relative_bias": float(np.sqrt(np.mean(bias**2))),
            "coverage": float(np.mean([r["covered"] for r in kept]))}
