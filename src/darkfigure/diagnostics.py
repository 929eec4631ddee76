"""Convergence and data diagnostics that every estimate carries.

Converged means: rank-normalised split R-hat <= 1.01 for every sampled quantity, bulk ESS of
N >= 100 per chain, and no divergent transition (Vehtari, Gelman, Simpson, Carpenter &
Buerkner 2021, Bayesian Analysis 16:667). Chains whose N medians disagree are reported as
separate modes, not averaged away. Data warnings name list pairs that never overlap, whose
two-way term has no maximum-likelihood estimate (Chan, Silverman & Vincent 2021).
"""

from __future__ import annotations

import math

import arviz as az
import numpy as np
import xarray as xr

from .tables import CaptureTable

RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100
MODE_RATIO = 1.25


def _finite_max(values) -> float:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(values.max()) if values.size else float("nan")


def chain_modes(n_draws: np.ndarray) -> str | None:
    """A message when chains of N (chain, draw) settle in different places: the largest chain
    median exceeds the smallest by more than MODE_RATIO and the chains' central 50% ranges do
    not overlap."""
    if n_draws.shape[0] < 2:
        return None
    medians = np.median(n_draws, axis=1)
    lo, hi = np.quantile(n_draws, 0.25, axis=1), np.quantile(n_draws, 0.75, axis=1)
    top, bottom = int(np.argmax(medians)), int(np.argmin(medians))
    if medians[bottom] > 0 and medians[top] / medians[bottom] > MODE_RATIO \
            and lo[top] > hi[bottom]:
        shown = ", ".join(f"{m:,.0f}" for m in medians)
        return (f"chains disagree on N (chain medians {shown}): the posterior has separate "
                "modes or the chains have not mixed; do not report a single interval")
    return None


def diagnose(tree: xr.DataTree, table: CaptureTable, seconds: float,
             estimability=None, diagnosed: tuple[str, ...] | None = None) -> dict:
    """Convergence of the fit and data warnings; ``estimability(table, label)`` (a family's
    check) says where N has no estimate and so must not be reported; ``diagnosed`` restricts
    R-hat to the quantities a family declares meaningful (e.g. label-invariant ones)."""
    posterior = tree["posterior"].to_dataset()
    numeric = posterior[[v for v in posterior.data_vars
                         if np.issubdtype(posterior[v].dtype, np.number)
                         and (diagnosed is None or v in diagnosed)]]
    rhat = az.rhat(numeric)
    rhat_by_var = {v: _finite_max(rhat[v].values) for v in rhat.data_vars}
    ess_n = az.ess(posterior[["N"]], method="bulk")["N"]
    divergences = 0
    if "sample_stats" in tree.children and "diverging" in tree["sample_stats"].dataset:
        divergences = int(tree["sample_stats"]["diverging"].values.sum())
    notes, unestimable = [], []
    covered = None
    if "constant_data" in tree.children and "covered" in tree["constant_data"].dataset:
        covered = tree["constant_data"]["covered"]
    for label in table.stratum_labels:
        where = f"stratum {label}: " if len(table.stratum_labels) > 1 else ""
        message = chain_modes(posterior["N"].sel(stratum=label).values)
        if message:
            notes.append(where + message)
        why = estimability(table, label) if estimability else None
        if why:
            unestimable.append(label)
            notes.append(where + why)
        # A pair with a list that did not operate in the stratum cannot overlap there by
        # design: that is missing data (handled by the coverage), not a sparse table.
        pairs = [(a, b) for a, b in table.never_overlapping_pairs(label)
                 if covered is None or (covered.sel(stratum=label, list=a).item()
                                        and covered.sel(stratum=label, list=b).item())]
        if pairs:
            shown = ", ".join(f"{a}-{b}" for a, b in pairs)
            notes.append(f"{where}{len(pairs)} list pair(s) never overlap ({shown}): their "
                         "dependence is not estimable from the data and rests on the prior")
    min_ess = float(np.nanmin(ess_n.values))
    report = _report(posterior, rhat_by_var, min_ess, divergences, seconds, notes)
    report["converged"] = report["converged"] and not any("chains disagree" in n
                                                          for n in notes)
    return report | {"estimable": not unestimable, "unestimable_strata": unestimable}


def _report(posterior: xr.Dataset, rhat_by_var: dict, min_ess: float, divergences: int,
            seconds: float, notes) -> dict:
    """The keys every diagnostics.json holds, with the convergence verdict on R-hat, ESS
    and divergences (callers add their own further conditions)."""
    chains = posterior.sizes["chain"]
    max_rhat = _finite_max(list(rhat_by_var.values()))
    converged = (not math.isnan(max_rhat) and max_rhat <= RHAT_MAX
                 and min_ess >= ESS_PER_CHAIN_MIN * chains and divergences == 0)
    worst = max(rhat_by_var, key=lambda v: rhat_by_var[v]) if rhat_by_var else None
    return {
        "converged": bool(converged),
        "max_rhat": round(max_rhat, 4),
        "max_rhat_variable": worst,
        "min_ess_bulk_N": round(min_ess, 1),
        "divergences": divergences,
        "chains": int(chains),
        "draws": int(posterior.sizes["draw"]),
        "seconds": round(seconds, 2),
        "ess_N_per_second": round(min_ess / seconds, 1) if seconds > 0 else None,
        "thresholds": {"max_rhat": RHAT_MAX, "min_ess_bulk_N": ESS_PER_CHAIN_MIN * chains,
                       "divergences": 0},
        "notes": list(notes),
    }


def diagnose_draws(tree: xr.DataTree, headline: str, seconds: float, notes=()) -> dict:
    """Diagnostics of a family that draws its posterior exactly (independent draws, no
    sampler state): the keys of `diagnose`, with the bulk ESS of ``headline`` (e.g. the
    multiplier) in place of N's. R-hat and ESS are still computed, so draws that were not
    independent after all (a bug) would show, and too few draws are flagged as for MCMC."""
    posterior = tree["posterior"].to_dataset()
    rhat = az.rhat(posterior)
    rhat_by_var = {v: _finite_max(rhat[v].values) for v in rhat.data_vars}
    min_ess = float(np.nanmin(az.ess(posterior[[headline]], method="bulk")[headline].values))
    report = _report(posterior, rhat_by_var, min_ess, 0, seconds, notes)
    return report | {"estimable": True, "unestimable_strata": [], "headline": headline}
