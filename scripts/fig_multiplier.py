"""Figure: forest plot of the dark-figure multiplier per comparison (posterior `multiplier`,
dim `comparison`) with the published multiplier marked where the run card names one (the fit
stores its value in the posterior file's `comparisons` group). Reads
the posterior file only; house style from darkfigure.plotting.

usage: fig_multiplier.py RESULT.nc OUT.pdf
"""

import sys
import textwrap
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from darkfigure.io import read_posterior, write_figure
from darkfigure.plotting import ACCENT, forest_array, house_style


def published(tree) -> dict[str, float]:
    """Comparison -> published value of the figure its card entry names (if any), as the fit
    stored it (NaN where none)."""
    comps = tree["comparisons"]
    return {str(c): float(v) for c, v in zip(comps["comparison"].values,
                                             comps["published"].values) if np.isfinite(v)}


def main(path: Path, out: Path) -> None:
    tree = read_posterior(path)
    draws = tree["posterior"]["multiplier"].stack(sample=("chain", "draw"))
    draws = draws.transpose("comparison", "sample")
    labels = [str(c) for c in draws["comparison"].values]
    values = draws.values
    figure = forest_array(values, [textwrap.fill(label.replace("art127_2", "Art. 127.2").replace("_", " "), 34) for label in labels],
                          "Multiplier: court-recorded cases per official case or conviction",
                          group_name="comparison")
    figure.set_size_inches(6.0, 0.45 * len(labels) + 1.4)
    ref = published(tree)
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
    write_figure(out, figure, bbox_inches="tight")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
