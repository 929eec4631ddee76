"""Figure: posterior of N per benchmark table and model beside the published estimate.
Reads posterior files only; fits whose N has no estimate are left out (their notes say why).

usage: benchmark_figure.py RESULTS_DIR OUT.png|OUT.pdf [RUN ...]
(without RUN names every posterior file in RESULTS_DIR is drawn)
"""

import json
import sys
from pathlib import Path

import numpy as np

from benchmark_table import published
from darkfigure.io import read_posterior, write_figure
from darkfigure.plotting import benchmark_figure
from darkfigure.runcard import parse_card

QUANTILES = {"N_q025": 0.025, "N_q25": 0.25, "N_median": 0.5, "N_q75": 0.75, "N_q975": 0.975}


def main(results: Path, out: Path, runs: list[str] | None = None) -> None:
    rows = []
    paths = [results / f"{r}.nc" for r in runs] if runs else sorted(results.glob("*.nc"))
    for path in paths:
        tree = read_posterior(path)
        diagnostics = json.loads(tree.attrs["diagnostics"])
        if not diagnostics.get("estimable", True):
            continue
        card = parse_card(tree.attrs["run_card"])
        n = tree["posterior"]["N"].values.sum(axis=-1).ravel()
        rows.append({"table": card.table.stem, "model": card.model,
                     "converged": diagnostics["converged"]}
                    | {k: float(np.quantile(n, q)) for k, q in QUANTILES.items()})
    figure = benchmark_figure(rows, published())
    # One page of the paper at most: a panel per table is then about 0.8 inch high.
    figure.set_size_inches(6.3, min(8.4, figure.get_figheight()))
    write_figure(out, figure, dpi=200, bbox_inches="tight")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
