"""Figure: region x sector heatmap of the posterior median of N, or of the multiplier
N / official, from a stratified (hierarchical) posterior. The first two stratum columns are
the grid's rows and columns (for the Russia run: federal district x sector). Reads the
posterior file only; house style from darkfigure.plotting.

usage: fig_russia_heatmap.py RESULT.nc N|ratio OUT.pdf
"""

import sys
from pathlib import Path

from darkfigure.io import read_posterior, write_figure
from darkfigure.plotting import heatmap
from darkfigure.summaries import stratum_columns


def main(path: Path, quantity: str, out: Path) -> None:
    tree = read_posterior(path)
    columns = stratum_columns(tree)
    if len(columns) < 2:
        sys.exit(f"{path}: a heatmap needs two stratum columns; found {columns or 'none'}")
    figure = heatmap(tree, quantity, rows=columns[0], columns=columns[1])
    # Page width, and enough height that the grid keeps its rows beside long sector names.
    rows = len(set(tree["observed_data"]["count"][columns[0]].values))
    figure.set_size_inches(6.3, 0.3 * rows + 2.4)
    write_figure(out, figure, bbox_inches="tight")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
