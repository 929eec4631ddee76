"""Coverage of N with linkage uncertainty, over seeds of the SYNTHETIC list generator; JSON.

    python benchmarks/linkage_coverage.py --people 400 --seeds 10 --linkages 10 \
        --out benchmarks/results/linkage_coverage.json [--all-pairs-max 0]

For each seed: draw a population and its three noisy lists (`darkfigure.synthetic_records`),
link them (`darkfigure.linkage_run.link_only`), and fit the log-linear model to the capture
table under the true links, under splink's best linkage, and under each sampled linkage
(pooled as `darkfigure link` pools them). Reports per seed the pairwise precision and recall
of the best linkage and of the sampled ones, the observed people, and the central interval of
N from each; and over seeds how often each interval covers the true population. Lists this
small have every pair compared; ``--all-pairs-max 0`` measures the blocking rules instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from darkfigure import io, linkage, linkage_run, synthetic_records
from darkfigure import linkage_uncertainty as lu
from darkfigure.runcard import SAMPLER_DEFAULTS, RunCard
from darkfigure.tables import CaptureTable

NAMES = ["court", "ngo", "shelter"]


def interval(draws: np.ndarray, level: float) -> list[float]:
    a = (1 - level) / 2
    return [float(x) for x in np.quantile(draws, [a, 0.5, 1 - a])]


def one_seed(seed: int, args, card: RunCard) -> dict:
    synth = synthetic_records.generate(args.people, seed=seed)
    with tempfile.TemporaryDirectory(prefix="darkfigure-cov-") as tmp:
        paths = synthetic_records.write(synth, tmp)
        opts = linkage_run.LinkOptions(lists=[paths[n] for n in NAMES], out=Path(tmp) / "o",
                                       names=NAMES, linkages=args.linkages, seed=seed,
                                       all_pairs_max=args.all_pairs_max, progress=False)
        linked = linkage_run.link_only(opts)
    truth = np.concatenate([synth.truth[n] for n in NAMES])
    _, counts = synthetic_records.true_capture_counts(synth)
    true_table = CaptureTable.from_array(counts[None, :], NAMES)

    def n_draws(table, k):
        n, diag = lu.fit_table(card, table, seed * 100 + k, False)
        return n.sum("stratum").values.ravel(), diag["converged"]

    n_true, ok_true = n_draws(true_table, 0)
    n_best, ok_best = n_draws(linked.best, 1)
    fits = [n_draws(t, 2 + k) for k, t in enumerate(linked.tables)]
    pooled = np.concatenate([f[0] for f in fits])
    best = lu.pairwise_scores(linked.scored.best, truth)
    sampled = [lu.pairwise_scores(d, truth) for d in linked.draws]
    out = {"seed": seed, "population": args.people,
           "people_observed_true": int(counts.sum()),
           "people_observed_best": int(linked.best.observed.sum()),
           "people_observed_sampled": [int(t.observed.sum()) for t in linked.tables],
           "precision_best": best["precision"], "recall_best": best["recall"],
           "precision_sampled_mean": float(np.mean([s["precision"] for s in sampled])),
           "recall_sampled_mean": float(np.mean([s["recall"] for s in sampled])),
           "converged": bool(ok_true and ok_best and all(f[1] for f in fits))}
    for name, draws in (("true_links", n_true), ("best_linkage", n_best),
                        ("pooled_linkages", pooled)):
        lo, med, hi = interval(draws, args.level)
        out[name] = {"lo": lo, "median": med, "hi": hi,
                     "covers": bool(lo <= args.people <= hi)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=400)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--linkages", type=int, default=10)
    parser.add_argument("--level", type=float, default=0.9)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--all-pairs-max", type=int, default=linkage.ALL_PAIRS_MAX)
    parser.add_argument("--out", default="benchmarks/results/linkage_coverage.json")
    args = parser.parse_args()
    sampler = dict(SAMPLER_DEFAULTS) | {"draws": args.draws, "tune": args.draws, "chains": 2}
    card = RunCard(name="coverage", model="loglinear", seed=0, table=Path("-"),
                   sampler=sampler)
    start, rows = time.perf_counter(), []
    for seed in range(args.seeds):
        rows.append(one_seed(seed, args, card))
        print(json.dumps(rows[-1]), flush=True)
    summary = {k: float(np.mean([r[k]["covers"] for r in rows]))
               for k in ("true_links", "best_linkage", "pooled_linkages")}
    result = {"level": args.level, "seeds": args.seeds, "people": args.people,
              "linkages": args.linkages, "all_pairs_max": args.all_pairs_max,
              "coverage": summary,
              "precision_best_mean": float(np.mean([r["precision_best"] for r in rows])),
              "recall_best_mean": float(np.mean([r["recall_best"] for r in rows])),
              "seconds": round(time.perf_counter() - start, 1), "runs": rows}
    io.write_json(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
