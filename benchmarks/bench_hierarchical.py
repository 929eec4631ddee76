"""Benchmark: the hierarchical model on a simulated 89 regions x 10 sectors x 5 lists world.

Times compilation and sampling separately (nutpie, as `darkfigure.fit` runs it) and writes
JSON with the convergence figures a reader needs to trust the timing. The machine is often
shared, so wall time alone misleads: the JSON also holds the load average, the CPU seconds
the sampler used, the cost of one log-density gradient (minimum and median over repeated
evaluations: the minimum is the unloaded cost) and the leapfrog steps per draw, whose product
is the work a fit needs whatever the load.

usage: python benchmarks/bench_hierarchical.py OUT.json [--regions 89] [--sectors 10]
       [--lists 5] [--draws 1000] [--tune 1000] [--chains 4] [--seed 20261123]
       [--parameterisation auto] [--adaptation draw_diag]
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

from darkfigure.io import write_json
from darkfigure.models import hierarchical as h


def gradient_ms(model, evals: int = 300) -> tuple[float, float]:
    """(minimum, median) milliseconds of one log density and gradient, one thread, compiled
    with numba as nutpie compiles it (plus a few microseconds of Python call overhead)."""
    func = model.logp_dlogp_function(ravel_inputs=True, mode="NUMBA")
    func.set_extra_values({})
    start = model.initial_point()
    point = np.concatenate([np.ravel(start[v.name]) for v in func._grad_vars])
    func(point)
    seconds = []
    for _ in range(evals):
        start = time.perf_counter()
        func(point)
        seconds.append(time.perf_counter() - start)
    return float(np.min(seconds) * 1e3), float(np.median(seconds) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    for name, default in (("regions", 89), ("sectors", 10), ("lists", 5), ("draws", 1000),
                          ("tune", 1000), ("chains", 4), ("seed", 20261123)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--size", type=float, default=150.0, help="median true N per stratum")
    parser.add_argument("--parameterisation", default="auto")
    parser.add_argument("--adaptation", default=h.NUTPIE_OPTIONS.get("adaptation", "diag"),
                        help="nutpie mass matrix adaptation: draw_diag, diag or low_rank")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    table, official, truth = h.simulate(args.regions, args.sectors, args.lists, size=args.size,
                                        uncovered=0.1, rng=rng)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    model = h.build(table, h.Priors(parameterisation=args.parameterisation),
                    official=official, coverage=truth["coverage"])
    compiled = nutpie.compile_pymc_model(model)
    compile_s = time.perf_counter() - start
    grad_min, grad_median = gradient_ms(model)
    start, cpu = time.perf_counter(), time.process_time()
    tree = nutpie.sample(compiled, draws=args.draws, tune=args.tune, chains=args.chains,
                         seed=args.seed, progress_bar=False, target_accept=0.95,
                         save_warmup=True, adaptation=args.adaptation)
    sample_s, sample_cpu = time.perf_counter() - start, time.process_time() - cpu

    post, stats = tree["posterior"].to_dataset(), tree["sample_stats"].to_dataset()
    warm = tree["warmup_sample_stats"].to_dataset()
    hidden = np.random.default_rng(args.seed + 1).poisson(post["missing_rate"].values)
    post["N"] = post["missing_rate"].copy(data=hidden + table.observed.values)
    ess_n = float(az.ess(post[["N"]], method="bulk")["N"].min())
    numeric = post[[v for v in post.data_vars if np.issubdtype(post[v].dtype, np.number)]]
    rhat, ess = az.rhat(numeric), az.ess(numeric, method="bulk")
    by_variable = {v: float(np.nanmax(rhat[v].values)) for v in rhat.data_vars}
    ess_by_variable = {v: float(np.nanmin(ess[v].values)) for v in ess.data_vars}
    worst = max(by_variable, key=by_variable.get)
    n = post["N"].stack(sample=("chain", "draw")).transpose("stratum", "sample").values
    lo, med, hi = np.quantile(n, [0.05, 0.5, 0.95], axis=1)
    true_n = truth["N"].values
    steps = int(stats["n_steps"].values.sum() + warm["n_steps"].values.sum())
    result = {
        "strata": len(table.stratum_labels), "lists": args.lists,
        "parameters": int(compiled.n_dim), "parameterisation": args.parameterisation,
        "adaptation": args.adaptation,
        "non_empty_cells": int((table.counts.values > 0).sum()),
        "observed": int(table.observed.sum()),
        "chains": args.chains, "draws": args.draws, "tune": args.tune,
        "compile_seconds": round(compile_s, 1), "sampling_seconds": round(sample_s, 1),
        "sampling_cpu_seconds": round(sample_cpu, 1),
        "total_seconds": round(compile_s + sample_s, 1),
        "gradient_ms_min": round(grad_min, 3), "gradient_ms_median": round(grad_median, 3),
        "leapfrog_steps_total": steps,
        "mean_leapfrog_steps_draws": round(float(stats["n_steps"].values.mean()), 1),
        "mean_leapfrog_steps_tuning": round(float(warm["n_steps"].values.mean()), 1),
        # the work at the unloaded gradient cost, spread over the chains run in parallel
        "unloaded_sampling_seconds_estimate": round(
            steps * grad_min / 1e3 / min(args.chains, os.cpu_count() or 1), 1),
        "min_ess_bulk_N": round(ess_n, 1),
        "ess_N_per_second": round(ess_n / sample_s, 2),
        "min_ess_bulk_any": round(min(ess_by_variable.values()), 1),
        "min_ess_bulk_variable": min(ess_by_variable, key=ess_by_variable.get),
        "max_rhat": round(by_variable[worst], 4), "max_rhat_variable": worst,
        "rhat_above_1.01": sorted(v for v, r in by_variable.items() if r > 1.01),
        "divergences": int(stats["diverging"].values.sum()),
        "coverage_90": round(float(np.mean((lo <= true_n) & (true_n <= hi))), 3),
        "median_relative_error": round(float(np.median(np.abs(med / true_n - 1))), 4),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_1min_before": round(load_before, 2),
                    "load_average_1min_after": round(os.getloadavg()[0], 2)},
    }
    write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
