"""Figure: posterior of N (median, 50% and 95% intervals) per benchmark table and model, with
the published estimate and interval. Reads posterior files only.

usage: benchmark_figure.py RESULTS_DIR OUT.png
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from benchmark_table import published
from darkfigure.io import atomic_path, read_posterior
from darkfigure.runcard import parse_card


def main(results: Path, out: Path) -> None:
    fits: dict[str, dict[str, np.ndarray]] = {}
    for path in sorted(results.glob("*.nc")):
        tree = read_posterior(path)
        card = parse_card(tree.attrs["run_card"])
        fits.setdefault(card.table.stem, {})[card.model] = \
            tree["posterior"]["N"].values.sum(axis=-1).ravel()
    models = sorted({m for by_model in fits.values() for m in by_model})
    pub = published()
    fig, axes = plt.subplots(len(fits), 1, figsize=(7, 1.1 * len(fits) + 1), squeeze=False)
    for ax, table in zip(axes[:, 0], sorted(fits)):
        for i, model in enumerate(models):
            if model not in fits[table]:
                continue
            q = np.quantile(fits[table][model], [0.025, 0.25, 0.5, 0.75, 0.975])
            ax.hlines(i, q[0], q[4], color=f"C{i}", lw=1.2)
            ax.hlines(i, q[1], q[3], color=f"C{i}", lw=4, label=model)
            ax.plot(q[2], i, "o", color="white", mec=f"C{i}", ms=5)
        ref = pub.get(table, {})
        if ref.get("lo") and ref.get("hi"):
            ax.axvspan(float(ref["lo"]), float(ref["hi"]), color="0.9", zorder=0,
                       label="published interval")
        if ref.get("estimate"):
            ax.axvline(float(ref["estimate"]), color="k", ls="--", lw=1, label="published")
        ax.set_xscale("log")
        ax.set_yticks([])
        ax.set_ylabel(table, rotation=0, ha="right", va="center")
    axes[-1, 0].set_xlabel("population size N (people, log scale)")
    handles, labels = [], []
    for ax in axes[:, 0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="upper center", ncol=4, frameon=False)
    fig.suptitle("Posterior of N on the benchmark tables (median, 50% and 95% intervals)",
                 y=0.995, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=200, format="png")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
