"""Benchmark comparison table: our posterior of N per table and model beside the published
estimates (data/raw/benchmarks/published.csv). Reads posterior files only; never refits.

usage: benchmark_table.py RESULTS_DIR OUT.csv
"""

import csv
import json
import sys
from pathlib import Path

import numpy as np

from darkfigure.io import read_posterior, write_text
from darkfigure.runcard import parse_card

PUBLISHED = Path("data/raw/benchmarks/published.csv")


def published() -> dict[str, dict]:
    """The first published estimate with a 95% interval per table (else the first row)."""
    chosen: dict[str, dict] = {}
    with PUBLISHED.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            best = chosen.get(row["dataset"])
            if best is None or (not best["estimate"] and row["estimate"]):
                chosen[row["dataset"]] = row
    return chosen


def main(results: Path, out: Path) -> None:
    pub = published()
    rows = []
    for path in sorted(results.glob("*.nc")):
        tree = read_posterior(path)
        card = parse_card(tree.attrs["run_card"])
        diag = json.loads(tree.attrs["diagnostics"])
        n = tree["posterior"]["N"].values.sum(axis=-1).ravel()
        ref = pub.get(card.table.stem, {})
        # No number where the data cannot estimate N (diagnostics say why).
        shown = (lambda q: f"{np.quantile(n, q):.0f}") if diag.get("estimable", True) \
            else (lambda q: "not estimable")
        rows.append({
            "table": card.table.stem, "model": card.model,
            "N_median": shown(0.5), "N_q025": shown(0.025), "N_q975": shown(0.975),
            "published": ref.get("estimate", ""), "published_lo": ref.get("lo", ""),
            "published_hi": ref.get("hi", ""), "published_method": ref.get("method", ""),
            "converged": diag["converged"], "max_rhat": diag["max_rhat"],
            "ess_N": diag["min_ess_bulk_N"], "divergences": diag["divergences"],
            "seconds": diag["seconds"]})
    if not rows:
        sys.exit(f"no posterior files in {results}; run `make fit` first")
    lines = [",".join(rows[0])] + [",".join(f'"{v}"' if "," in str(v) else str(v)
                                            for v in r.values()) for r in rows]
    write_text(out, "\n".join(lines) + "\n")
    for r in rows:
        print(f"{r['table']:<13} {r['model']:<10} {r['N_median']:>7} [{r['N_q025']:>6}, "
              f"{r['N_q975']:>7}]  published {r['published'] or '-':>6} "
              f"[{r['published_lo'] or '-'}, {r['published_hi'] or '-'}]  "
              f"{'ok' if r['converged'] else 'NOT CONVERGED'} {r['seconds']} s")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
