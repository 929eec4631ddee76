"""Benchmark: the hierarchical model under each NUTS sampler, as `darkfigure fit` runs it.

For each simulated world (regions x sectors x lists) and each sampler named, one full fit
through `darkfigure.fit.fit` (compile included: a run card's fit is one process), with the
figures a reader needs to trust the timing: ESS of the stratum totals N (minimum bulk), R-hat,
divergences, ESS(N) per second and the seconds to ESS(N) 1,000. Where JAX is importable the
JSON names the device it placed the program on, so a GPU row can be told from a CPU row.
Results are written after every fit, so a run stopped at a time limit keeps what it finished.

usage: python benchmarks/bench_samplers.py OUT.json [--worlds 8x6x5,30x10x5,89x10x5]
       [--samplers numpyro,nutpie] [--chains 4] [--draws 1000] [--tune 1000] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

from darkfigure.fit import FitInputs, fit
from darkfigure.io import write_json
from darkfigure.models.hierarchical_parts import simulate
from darkfigure.provenance import library_versions
from darkfigure.runcard import SAMPLER_DEFAULTS, RunCard


def jax_device() -> str | None:
    """The device JAX places programs on by default, or None where JAX is absent."""
    try:
        import jax
    except ImportError:
        return None
    device = jax.devices()[0]
    return f"{device.platform}: {getattr(device, 'device_kind', device)}"


def one(world: tuple[int, int, int], sampler: str, *, chains: int = 4, draws: int = 1000,
        tune: int = 1000, seed: int = 1) -> dict:
    """Fit the simulated world (regions, sectors, lists) jointly under ``sampler``."""
    regions, sectors, lists = world
    # seeded by the number of regions, as every scaling run of the benchmarks is
    table, official, truth = simulate(regions, sectors, lists, rng=np.random.default_rng(regions))
    settings = dict(SAMPLER_DEFAULTS) | {"sampler": sampler, "chains": chains, "draws": draws,
                                         "tune": tune}
    card = RunCard(name="bench", model="hierarchical", seed=seed, table=Path("bench.csv"),
                   sampler=settings)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree, diagnostics = fit(card, FitInputs(table, official=official), progress=False)
    seconds = time.perf_counter() - start
    n = tree["posterior"]["N"].stack(sample=("chain", "draw")).transpose("stratum", "sample")
    lo, hi = np.quantile(n.values, [0.05, 0.95], axis=1)
    true_n = truth["N"].values
    ess = diagnostics["min_ess_bulk_N"]
    stats = tree["sample_stats"] if "sample_stats" in tree.children else None
    steps = float(stats["n_steps"].mean()) if stats is not None and "n_steps" in stats else None
    return {"world": f"{regions}x{sectors}x{lists}", "strata": regions * sectors,
            "lists": lists, "sampler": sampler, "chains": chains, "draws": draws,
            "tune": tune, "seconds_including_compile": round(seconds, 1),
            "min_ess_bulk_N": ess, "ess_N_per_second": round(ess / seconds, 2),
            "seconds_to_ess_1000": round(seconds * 1000 / ess, 1) if ess > 0 else None,
            "max_rhat": diagnostics["max_rhat"],
            "max_rhat_variable": diagnostics["max_rhat_variable"],
            "divergences": diagnostics["divergences"],
            "mean_leapfrog_steps_draws": round(steps, 1) if steps is not None else None,
            "converged": diagnostics["converged"],
            # a check that the samplers agree with the truth, not only run fast
            "coverage_90_of_true_N": round(float(np.mean((lo <= true_n) & (true_n <= hi))), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--worlds", default="8x6x5,30x10x5,89x10x5",
                        help="comma-separated REGIONSxSECTORSxLISTS")
    parser.add_argument("--samplers", default="numpyro,nutpie")
    for name, default in (("chains", 4), ("draws", 1000), ("tune", 1000), ("seed", 1)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    worlds = [tuple(int(x) for x in w.split("x")) for w in args.worlds.split(",")]
    result = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "jax_device": jax_device(), "versions": library_versions()},
              "rows": []}
    for world in worlds:
        for sampler in args.samplers.split(","):
            row = one(world, sampler, chains=args.chains, draws=args.draws, tune=args.tune,
                      seed=args.seed)
            result["rows"].append(row)
            write_json(args.out, result)
            print(f"{row['world']:<10} {sampler:<8} {row['seconds_including_compile']:>7} s  "
                  f"ESS(N) {row['min_ess_bulk_N']:>7}  ESS/s {row['ess_N_per_second']:>7}  "
                  f"R-hat {row['max_rhat']:.4f}  div {row['divergences']}", flush=True)


if __name__ == "__main__":
    main()
