"""Benchmark: the latent-class Gibbs sampler on the benchmark tables (issue 10).

For each table: single-thread sweeps per CPU second of `run_chain` (thread CPU time, so a
shared machine's load distorts it less than wall time), then wall seconds of a whole
`latent_class.sample` (4 chains in threads, compile cache warm) with the ESS and R-hat of N
it reached. LCMCR's rate on the same kind of machine, from shared/anchors: ESS(N) = 1000 in
about 14 s on UK6 and 9 s on UK5. The JSON also holds the load average before and after.

usage: python benchmarks/bench_latent_class.py OUT.json [--tables uk6,uk5] [--thin 50]
       [--tune 1200] [--draws 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import arviz as az
import numpy as np

from darkfigure.io import write_json
from darkfigure.models import latent_class as lc
from darkfigure.models._lcmcr_gibbs import run_chain
from darkfigure.tables import read_table

BENCHMARKS = Path(__file__).resolve().parents[1] / "data" / "raw" / "benchmarks"


def sweeps_per_cpu_second(cells, freq, sweeps: int = 200_000) -> float:
    """One chain of ``sweeps`` sweeps on this thread; sweeps per second of its CPU time."""
    p = lc.Priors()  # LCMCR's defaults, as the run cards use them
    start = time.thread_time()
    run_chain(cells, freq, p.truncation, p.alpha_shape, p.alpha_rate, p.lambda_a, p.lambda_b,
              1, 1000, sweeps // 100, 100)
    return (sweeps + 1000) / (time.thread_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--tables", default="uk6,uk5")
    for name, default in (("thin", 50), ("tune", 1200), ("draws", 2000), ("seed", 1)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()

    record = {"load_before": os.getloadavg()[0], "settings": vars(args) | {"out": str(args.out)},
              "tables": {}}
    for name in args.tables.split(","):
        table = read_table(BENCHMARKS / f"{name}.csv")
        cells, freq = lc.observed_cells(table)
        lc.sample(table, lc.Priors(thin=2), draws=5, tune=5, chains=4, seed=0)  # compile
        rate = sweeps_per_cpu_second(cells, freq)
        start = time.perf_counter()
        tree = lc.sample(table, lc.Priors(thin=args.thin), draws=args.draws, tune=args.tune,
                         chains=4, seed=args.seed)
        wall = time.perf_counter() - start
        N = tree["posterior"]["N"].values[..., 0].astype(float)
        record["tables"][name] = {
            "sweeps_per_cpu_second": rate, "wall_seconds": wall,
            "ess_bulk_N": float(az.ess(N, method="bulk")), "rhat_N": float(az.rhat(N)),
            "median_N": float(np.median(N))}
        print(name, record["tables"][name], flush=True)
    record["load_after"] = os.getloadavg()[0]
    write_json(args.out, record)


if __name__ == "__main__":
    main()
