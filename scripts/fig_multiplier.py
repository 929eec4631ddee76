"""Figure: forest plot of the dark-figure multiplier per comparison (posterior `multiplier`,
dim `comparison`) with the published multiplier marked where the run card names one. Reads
the posterior file only; house style from darkfigure.plotting.

usage: fig_multiplier.py RESULT.nc OUT.pdf
"""

import csv
import sys
import textwrap
import tomllib
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from darkfigure.io import atomic_path, read_posterior
from darkfigure.plotting import ACCENT, forest_array, house_style


def published(card: dict) -> dict[str, float]:
    """Comparison -> published value of the figure its card entry names (if any)."""
    figures = Path(card["data"]["figures"])
    with figures.open(encoding="utf-8") as handle:
        values = {r["id"]: float(r["value"]) for r in csv.DictReader(handle)}
    return {name: values[c["published"]] for name, c in card.get("comparisons", {}).items()
            if c.get("published") in values}


def main(path: Path, out: Path) -> None:
    tree = read_posterior(path)
    card = tomllib.loads(tree.attrs["run_card"])
    draws = tree["posterior"]["multiplier"].stack(sample=("chain", "draw"))
    draws = draws.transpose("comparison", "sample")
    labels = [str(c) for c in draws["comparison"].values]
    values = draws.values
    figure = forest_array(values, [textwrap.fill(label.replace("art127_2", "Art. 127.2").replace("_", " "), 34) for label in labels],
                          "Multiplier: court-recorded cases per official case or conviction",
                          group_name="comparison")
    figure.set_size_inches(6.0, 0.45 * len(labels) + 1.4)
    ref = published(card)
    if ref:
        # forest_array orders rows by median; find each comparison's row the same way.
        order = list(np.argsort(np.median(values, axis=1)))
        ax = figure.axes[0]
        for name, value in ref.items():
            ax.plot(value, order.index(labels.index(name)), "D", color=ACCENT, markersize=3.5,
                    zorder=4)
        old = figure.legends[0]
        handles = list(old.legend_handles)
        old.remove()
        with house_style():
            figure.legend(handles=handles + [Line2D([], [], marker="D", color=ACCENT,
                                                    linestyle="none", label="published figure")],
                          loc="outside lower center", ncols=4)
    with atomic_path(out) as tmp:
        figure.savefig(tmp, format=out.suffix.lstrip("."), bbox_inches="tight")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
