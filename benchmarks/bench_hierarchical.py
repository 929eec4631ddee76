"""Benchmark: the hierarchical model on a simulated 89 regions x 10 sectors x 5 lists world.

Times compilation and sampling separately (nutpie, as `darkfigure.fit` runs it) and writes
JSON with the convergence figures a reader needs to trust the timing.

usage: python benchmarks/bench_hierarchical.py OUT.json [--regions 89] [--sectors 10]
       [--lists 5] [--draws 1000] [--tune 1000] [--chains 4] [--seed 20261123]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import arviz as az
import numpy as np
import nutpie

from darkfigure.models import hierarchical as h


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    for name, default in (("regions", 89), ("sectors", 10), ("lists", 5), ("draws", 1000),
                          ("tune", 1000), ("chains", 4), ("seed", 20261123)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--size", type=float, default=150.0, help="median true N per stratum")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    table, official, truth = h.simulate(args.regions, args.sectors, args.lists, size=args.size,
                                        uncovered=0.1, rng=rng)
    start = time.perf_counter()
    model = h.build(table, h.Priors(), official=official, coverage=truth["coverage"])
    compiled = nutpie.compile_pymc_model(model)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    tree = nutpie.sample(compiled, draws=args.draws, tune=args.tune, chains=args.chains,
                         seed=args.seed, progress_bar=False, target_accept=0.95)
    sample_s = time.perf_counter() - start

    post, stats = tree["posterior"].to_dataset(), tree["sample_stats"].to_dataset()
    hidden = np.random.default_rng(args.seed + 1).poisson(post["missing_rate"].values)
    post["N"] = post["missing_rate"].copy(data=hidden + table.observed.values)
    ess_n = float(az.ess(post[["N"]], method="bulk")["N"].min())
    numeric = post[[v for v in post.data_vars if np.issubdtype(post[v].dtype, np.number)]]
    rhat = az.rhat(numeric)
    by_variable = {v: float(np.nanmax(rhat[v].values)) for v in rhat.data_vars}
    worst = max(by_variable, key=by_variable.get)
    n = post["N"].stack(sample=("chain", "draw")).transpose("stratum", "sample").values
    lo, med, hi = np.quantile(n, [0.05, 0.5, 0.95], axis=1)
    true_n = truth["N"].values
    result = {
        "strata": len(table.stratum_labels), "lists": args.lists,
        "non_empty_cells": int((table.counts.values > 0).sum()),
        "observed": int(table.observed.sum()),
        "chains": args.chains, "draws": args.draws, "tune": args.tune,
        "compile_seconds": round(compile_s, 1), "sampling_seconds": round(sample_s, 1),
        "total_seconds": round(compile_s + sample_s, 1),
        "min_ess_bulk_N": round(ess_n, 1),
        "ess_N_per_second": round(ess_n / sample_s, 2),
        "max_rhat": round(by_variable[worst], 4), "max_rhat_variable": worst,
        "rhat_above_1.01": sorted(v for v, r in by_variable.items() if r > 1.01),
        "divergences": int(stats["diverging"].values.sum()),
        "mean_leapfrog_steps": round(float(stats["n_steps"].values.mean()), 1),
        "coverage_90": round(float(np.mean((lo <= true_n) & (true_n <= hi))), 3),
        "median_relative_error": round(float(np.median(np.abs(med / true_n - 1))), 4),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_1min": round(os.getloadavg()[0], 2)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
