"""Does pooling pay? The joint hierarchical model against fitting each stratum alone.

On simulated 8 regions x 6 sectors worlds with known truth (`hierarchical.simulate`: 30% of
people hard to catch, referral between two lists, avoidance between two others, official
counts), for 3, 4 and 5 lists and several seeds, fits the hierarchical model once over all
48 strata and, stratum by stratum, the log-linear model (same family, no pooling) and `bma`
(exact model averaging). Reports per world and pooled over worlds: RMSE of stratum N, the
share of strata whose 90% interval covers the true N, and the joint fit's convergence.
Strata a per-stratum model finds unestimable (no MLE of N, Chan, Silverman & Vincent 2021)
are counted, and left out of that model's figures, never scored on a number that does not
exist.

usage: python benchmarks/hierarchical_vs_alone.py OUT.json [--lists 3,4,5] [--seeds 1,2,3]
       [--draws 1000] [--tune 1000]   (about 5-10 minutes of CPU per world on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from darkfigure.errors import DataWarning
from darkfigure.fit import FitInputs, fit
from darkfigure.io import write_json
from darkfigure.models import hierarchical as h
from darkfigure.runcard import SAMPLER_DEFAULTS, RunCard

ALONE = ("loglinear", "bma")


def score(n_draws: np.ndarray, truth: np.ndarray, keep: np.ndarray) -> dict:
    """RMSE of the posterior median and 90% coverage over the strata in ``keep``.
    ``n_draws`` is (samples, stratum)."""
    lo, med, hi = np.quantile(n_draws, [0.05, 0.5, 0.95], axis=0)
    k = keep
    return {"strata_scored": int(k.sum()),
            "rmse": float(np.sqrt(np.mean((med[k] - truth[k]) ** 2))),
            "coverage_90": float(np.mean((lo[k] <= truth[k]) & (truth[k] <= hi[k]))),
            "errors": (med - truth).tolist(), "covered": ((lo <= truth) & (truth <= hi)).tolist(),
            "scored": k.tolist()}


def one_world(n_lists: int, seed: int, sampler: dict) -> dict:
    table, official, truth = h.simulate(8, 6, n_lists, rng=np.random.default_rng(seed))
    true_n = truth["N"].values.astype(float)
    result = {"lists": n_lists, "seed": seed, "strata": len(true_n),
              "observed": int(table.observed.sum()), "true_N": int(true_n.sum())}
    card = RunCard(name=f"world{n_lists}-{seed}", model="hierarchical", seed=seed,
                   table=Path("<simulated>"), sampler=sampler)
    start = time.perf_counter()
    tree, diag = fit(card, FitInputs(table, official), progress=False)
    draws = tree["posterior"]["N"].stack(s=("chain", "draw")).transpose("s", "stratum").values
    result["hierarchical"] = score(draws, true_n, np.ones(len(true_n), bool)) | {
        "seconds": round(time.perf_counter() - start, 1), "divergences": diag["divergences"],
        "max_rhat": diag["max_rhat"], "min_ess_bulk_N": diag["min_ess_bulk_N"],
        "converged": diag["converged"]}
    for model in ALONE:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            tree, diag = fit(replace(card, model=model), FitInputs(table), progress=False)
        draws = tree["posterior"]["N"].stack(s=("chain", "draw")).transpose("s", "stratum")
        labels = list(draws["stratum"].values)
        keep = np.array([lab not in diag["unestimable_strata"] for lab in labels])
        result[model] = score(draws.values, true_n, keep) | {
            "unestimable": int((~keep).sum()), "seconds": round(time.perf_counter() - start, 1),
            "converged": diag["converged"]}
    return result


def pooled(worlds: list[dict], model: str) -> dict:
    """Figures over every scored stratum of the given worlds."""
    errors, covered = [], []
    for w in worlds:
        scored = np.array(w[model]["scored"])
        errors += list(np.array(w[model]["errors"])[scored])
        covered += list(np.array(w[model]["covered"])[scored])
    return {"rmse": float(np.sqrt(np.mean(np.square(errors)))),
            "coverage_90": float(np.mean(covered)), "strata": len(errors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--lists", default="3,4,5")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--draws", type=int, default=SAMPLER_DEFAULTS["draws"])
    parser.add_argument("--tune", type=int, default=SAMPLER_DEFAULTS["tune"])
    args = parser.parse_args()
    sampler = dict(SAMPLER_DEFAULTS) | {"draws": args.draws, "tune": args.tune}
    worlds = []
    for n_lists in (int(x) for x in args.lists.split(",")):
        for seed in (int(x) for x in args.seeds.split(",")):
            w = one_world(n_lists, seed, sampler)
            worlds.append(w)
            print(f"{n_lists} lists, seed {seed}: RMSE / 90% coverage  joint "
                  f"{w['hierarchical']['rmse']:.1f} / {w['hierarchical']['coverage_90']:.2f} "
                  f"({w['hierarchical']['divergences']} div., R-hat "
                  f"{w['hierarchical']['max_rhat']:.3f}, {w['hierarchical']['seconds']} s)  "
                  + "  ".join(f"{m} alone {w[m]['rmse']:.1f} / {w[m]['coverage_90']:.2f} "
                              f"({w[m]['unestimable']} unestimable)" for m in ALONE),
                  flush=True)
    summary = {}
    for n_lists in sorted({w["lists"] for w in worlds}):
        group = [w for w in worlds if w["lists"] == n_lists]
        summary[str(n_lists)] = {m: pooled(group, m) for m in ("hierarchical",) + ALONE}
    write_json(args.out, {"worlds": worlds, "by_lists": summary,
                          "machine": {"cpus": os.cpu_count(),
                                      "load_average_1min": round(os.getloadavg()[0], 2)}})
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
