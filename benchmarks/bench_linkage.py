"""Benchmark: link 3 SYNTHETIC lists of about 100,000 records each; write JSON.

    python benchmarks/bench_linkage.py --records 100000 --out benchmarks/results/linkage.json

Times `darkfigure.linkage` (reading and standardising the lists, splink training, prediction
and clustering on DuckDB) and drawing linkages (`darkfigure.linkage_sampler`) separately
from generating the lists, in wall-clock and CPU seconds (the machine is shared: the load
average is recorded), and scores the best linkage and the sampled ones (pairwise precision
and recall against the true identities; people found against true people) and the candidate
pairs' match probabilities (how many true pairs the blocking rules reach). ``blocked_pairs`` is
splink's estimate (from 5% of the records) of the pairs the rules propose, all of which are
scored; ``candidate_pairs`` are those scored at match probability 0.01 or more.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import tempfile
import time

import numpy as np

from darkfigure import io, linkage, linkage_uncertainty, synthetic_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="records per list")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--linkages", type=int, default=20, help="linkages to sample")
    parser.add_argument("--out", default="benchmarks/results/linkage.json")
    args = parser.parse_args()
    capture = 0.3  # equal capture so that every list holds about --records records
    profiles = {n: dataclasses.replace(p, capture=capture)
                for n, p in synthetic_records.PROFILES.items()}
    start = time.perf_counter()
    synth = synthetic_records.generate(int(args.records / capture / 1.03), args.seed, profiles)
    generate_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory(prefix="darkfigure-bench-") as tmp:
        paths = synthetic_records.write(synth, tmp)
        start, cpu = time.perf_counter(), time.process_time()
        lists = [linkage.read_record_list(paths[n], n) for n in synth.rows]
        read_s = time.perf_counter() - start
        scored = linkage.score(lists, seed=args.seed)
        total_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
        blocked = linkage.blocked_pairs(lists)
    truth = np.concatenate([synth.truth[n] for n in synth.rows])
    start = time.perf_counter()
    draws = linkage_uncertainty.sample_partitions(scored.pair_left, scored.pair_right,
                                                  scored.probability, len(truth),
                                                  args.linkages, args.seed, start=scored.best)
    sample_s = time.perf_counter() - start
    sampled = [linkage_uncertainty.pairwise_scores(d, truth) for d in draws]
    scores = linkage_uncertainty.pairwise_scores(scored.best, truth)
    same = truth[scored.pair_left] == truth[scored.pair_right]
    n = len(truth)
    result = {
        "records_per_list": {k: len(v) for k, v in synth.rows.items()}, "records": n,
        "seconds_generate": round(generate_s, 1), "seconds_read": round(read_s, 1),
        "seconds_link_total": round(total_s, 1), "cpu_seconds_link": round(cpu_s, 1),
        "records_per_second": round(n / total_s),
        "seconds_sample_linkages": round(sample_s, 1), "linkages": args.linkages,
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "people_true": int(len(np.unique(truth))),
        "people_best": int(len(np.unique(scored.best))),
        "people_sampled": [int(len(np.unique(d))) for d in draws],
        "precision_sampled_mean": round(float(np.mean([s["precision"] for s in sampled])), 4),
        "recall_sampled_mean": round(float(np.mean([s["recall"] for s in sampled])), 4),
        "precision": round(scores["precision"], 4), "recall": round(scores["recall"], 4),
        "f1": round(scores["f1"], 4), "true_pairs": scores["true_pairs"],
        "pairs_compared": scored.info["pairs_compared"], "blocked_pairs": blocked,
        "candidate_pairs": int(len(same)), "true_pairs_among_candidates": int(same.sum()),
        "expected_matches_sum_p": round(float(scored.probability.sum()), 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
    }
    io.write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
