"""Figure (appendix): trace and rank plots of one posterior's headline quantity (total N, or
the first multiplier for the multiplier family), one colour per chain. Rank plots (Vehtari et
al. 2021, Bayesian Analysis 16:667) histogram each chain's ranks among all draws: flat and
alike when the chains mix. Reads the posterior file only.

usage: fig_diagnostics.py RESULT.nc OUT.pdf
"""

import json
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy.stats import rankdata

from darkfigure.io import read_posterior, write_figure
from darkfigure.plotting import MODEL_COLOURS, house_style


def headline(tree) -> tuple[np.ndarray, str]:
    """(chain, draw) draws of total N, else of the first element of the variable the fit's
    diagnostics call its headline (else the first variable)."""
    post = tree["posterior"].dataset
    name = json.loads(tree.attrs["diagnostics"]).get("headline", "N")
    name = name if name in post else "N" if "N" in post else next(iter(post.data_vars))
    values = post[name]
    extra = [d for d in values.dims if d not in ("chain", "draw")]
    if name == "N":
        return values.sum(extra).transpose("chain", "draw").values, "Total N"
    first = values.isel({d: 0 for d in extra})
    label = ", ".join(f"{d}={first[d].item()}" for d in extra)
    return first.transpose("chain", "draw").values, f"{name}\n({label})" if label else name


def main(path: Path, out: Path) -> None:
    draws, label = headline(read_posterior(path))
    chains, n = draws.shape
    ranks = rankdata(draws.ravel()).reshape(draws.shape)
    bins = np.linspace(0, chains * n, 21)
    with house_style():
        fig = Figure(figsize=(6.5, 2.4), layout="constrained")
        trace, rank = fig.subplots(1, 2, width_ratios=[1.6, 1])
        for c in range(chains):
            colour = MODEL_COLOURS[c % len(MODEL_COLOURS)]
            trace.plot(np.arange(n), draws[c], color=colour, linewidth=0.4, alpha=0.8,
                       label=f"chain {c + 1}")
            rank.stairs(np.histogram(ranks[c], bins)[0], bins, color=colour, linewidth=0.9)
        rank.axhline(n / 20, color="0.4", linestyle="--", linewidth=0.7,
                     label="uniform (ideal)")
        trace.set_xlabel("Draw (after tuning and thinning)")
        trace.set_ylabel(label)
        trace.set_title(f"{path.stem}: trace")
        rank.set_xlabel("Rank among all draws")
        rank.set_ylabel("Draws per bin")
        rank.set_title("Rank histograms per chain")
        rank.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), frameon=False)
        trace.legend(loc="upper left", ncols=min(chains, 4), fontsize=6)
    write_figure(out, fig, bbox_inches="tight")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
