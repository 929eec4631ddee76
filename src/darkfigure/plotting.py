"""Figure helpers and the house style; pure functions from posterior trees (or arrays) to
matplotlib Figures. Nothing here reads or writes files: scripts save what these return.

- `heatmap`: region x sector grid of the posterior median of N or of the multiplier
  N / official (grey and hatched where nothing was recorded: no finite multiplier exists);
- `forest`: N or N / official per region or per sector, aggregated from the joint draws
  (`models.hierarchical.aggregate`), with medians, 50% and 95% intervals.

Figures are built on `matplotlib.figure.Figure` directly, not through pyplot, so no global
figure state is touched and nothing needs closing.
"""

from __future__ import annotations

import contextlib

import matplotlib as mpl
import numpy as np
import xarray as xr
from matplotlib.colors import LogNorm
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .models.hierarchical_parts import aggregate

#: One house style: serif text sized for a journal column, no top/right spines, light grid.
STYLE = {
    "font.family": "serif",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "grid.color": "0.9",
    "grid.linewidth": 0.5,
    "figure.dpi": 150,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "image.cmap": "viridis",
}
INK, ACCENT, MUTED = "#1b1b1b", "#b2182b", "0.55"
LABELS = {"N": "Estimated victims N", "ratio": "Multiplier N / official count"}


def _plain_log_ticks(axis, values=None) -> None:
    """Ticks at 1, 2, 5 x 10^k over the range of ``values``, labelled as plain numbers
    (1,000 rather than 10^3); no minor labels (they collide)."""
    if values is not None:
        values = np.asarray(values, float)
        values = values[np.isfinite(values) & (values > 0)]
    if values is not None and values.size:
        low, high = np.floor(np.log10(values.min())), np.ceil(np.log10(values.max()))
        ticks = [m * 10.0**k for k in np.arange(low, high + 1) for m in (1, 2, 5)]
        ticks = [t for t in ticks if values.min() / 1.5 <= t <= values.max() * 1.5]
        axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _number(v)))
    axis.set_minor_formatter(NullFormatter())


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def house_style():
    """Context manager applying `STYLE` (use around any figure code of the project)."""
    return mpl.rc_context(STYLE)


def _draws(tree: xr.DataTree, quantity: str) -> xr.DataArray:
    """Per-stratum draws (chain, draw, stratum) of N or of N / official (NaN where 0)."""
    n = tree["posterior"]["N"].transpose("chain", "draw", "stratum")
    if quantity == "N":
        return n
    if quantity != "ratio":
        raise ValueError(f"quantity '{quantity}': use 'N' or 'ratio'")
    if "constant_data" not in tree.children or "official" not in tree["constant_data"].dataset:
        raise ValueError("the ratio needs official counts (constant_data/official)")
    official = tree["constant_data"]["official"].sel(stratum=n["stratum"])
    return (n / official).where(official > 0)


def heatmap(tree: xr.DataTree, quantity: str = "N", rows: str = "region",
            columns: str = "sector", annotate: bool | None = None) -> Figure:
    """Posterior median of ``quantity`` ("N" or "ratio") on a ``rows`` x ``columns`` grid,
    log colour scale; cells with no stratum are white, cells with no official record grey."""
    counts = tree["observed_data"]["count"]
    median = _draws(tree, quantity).median(("chain", "draw")).values
    row_of, col_of = counts[rows].values, counts[columns].values
    row_labels, col_labels = sorted(set(row_of)), sorted(set(col_of))
    grid = np.full((len(row_labels), len(col_labels)), np.nan)
    present = np.zeros_like(grid, bool)
    for value, r, c in zip(median, row_of, col_of):
        i, j = row_labels.index(r), col_labels.index(c)
        grid[i, j], present[i, j] = value, True
    return heatmap_array(grid, row_labels, col_labels, LABELS[quantity] + "\n(posterior median)",
                         row_name=rows, column_name=columns, present=present,
                         annotate=annotate)


def heatmap_array(grid: np.ndarray, row_labels, col_labels, colour_label: str, *,
                  row_name: str = "region", column_name: str = "sector",
                  present: np.ndarray | None = None, annotate: bool | None = None) -> Figure:
    """The grid figure itself, from a (row, column) array; NaN where ``present`` marks grey."""
    grid = np.asarray(grid, float)
    present = np.isfinite(grid) if present is None else present
    annotate = grid.size <= 150 if annotate is None else annotate
    with house_style():
        height = min(max(2.2, 0.16 * len(row_labels) + 1.2), 16.0)
        fig = Figure(figsize=(max(3.3, 0.45 * len(col_labels) + 1.6), height),
                     layout="constrained")
        ax = fig.add_subplot()
        finite = grid[np.isfinite(grid) & (grid > 0)]
        norm = LogNorm(finite.min(), finite.max()) if finite.size and finite.min() < finite.max() \
            else None
        ax.imshow(np.where(present, np.nan, 0.0), cmap="Greys", vmin=0, vmax=1, aspect="auto")
        empty = present & ~np.isfinite(grid)
        ax.imshow(np.where(empty, 0.35, np.nan), cmap="Greys", vmin=0, vmax=1, aspect="auto")
        image = ax.imshow(np.where(grid > 0, grid, np.nan), norm=norm, aspect="auto",
                          interpolation="nearest")
        for i, j in zip(*np.nonzero(empty)):
            ax.add_patch(mpl.patches.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                               hatch="///", edgecolor="0.5", linewidth=0))
        if annotate:
            for i, j in zip(*np.nonzero(np.isfinite(grid))):
                shade = norm(grid[i, j]) if norm is not None else 0.5
                ax.text(j, i, _number(grid[i, j]), ha="center", va="center", fontsize=5.5,
                        color="white" if shade < 0.6 else INK)
        ax.set_xticks(range(len(col_labels)), col_labels, rotation=45, ha="right")
        ax.set_yticks(range(len(row_labels)), row_labels)
        ax.set_xlabel(column_name.capitalize())
        ax.set_ylabel(row_name.capitalize())
        ax.tick_params(length=0)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        bar = fig.colorbar(image, ax=ax, shrink=min(1.0, 6.0 / height) if height > 6 else 1.0)
        bar.set_label(colour_label)
        if norm is not None:
            _plain_log_ticks(bar.ax.yaxis, finite)
        if empty.any():
            fig.legend(handles=[Patch(facecolor="0.65", hatch="///", edgecolor="0.5",
                                      label="no official record: multiplier undefined")],
                       loc="outside lower left")
    return fig


def forest(tree: xr.DataTree, by: str = "region", quantity: str = "N") -> Figure:
    """Medians with 50% (thick) and 95% (thin) intervals of N or N / official per level of
    ``by``, from the joint draws (sums of N over each group's strata per draw). For N the
    people actually recorded are marked as well: the estimate's floor."""
    groups = aggregate(tree, by=by)
    if quantity == "ratio" and "ratio" not in groups:
        raise ValueError("the ratio needs official counts (constant_data/official)")
    draws = groups[quantity].stack(sample=("chain", "draw")).transpose(by, "sample").values
    labels = [str(v) for v in groups[by].values]
    observed = None
    if quantity == "N":
        counts = tree["observed_data"]["count"]
        observed = counts.sum("pattern").groupby(counts[by]).sum().sel({by: labels}).values
    return forest_array(draws, labels, LABELS[quantity], group_name=by, observed=observed)


def forest_array(draws: np.ndarray, labels, value_label: str, *, group_name: str = "region",
                 observed: np.ndarray | None = None) -> Figure:
    """The forest figure from (group, sample) draws; groups with no finite draw (an
    undefined multiplier) are listed and marked 'undefined'."""
    draws = np.asarray(draws, float)
    finite = np.isfinite(draws).all(axis=1)
    q = np.full((len(labels), 5), np.nan)
    if finite.any():
        q[finite] = np.quantile(draws[finite], [0.025, 0.25, 0.5, 0.75, 0.975], axis=1).T
    order = np.argsort(np.where(finite, q[:, 2], -np.inf))
    y = np.arange(len(labels))
    with house_style():
        fig = Figure(figsize=(3.5, min(max(2.0, 0.14 * len(labels) + 1.0), 16.0)),
                     layout="constrained")
        ax = fig.add_subplot()
        ax.grid(True, axis="x")
        ax.hlines(y, q[order, 0], q[order, 4], color=INK, linewidth=0.8)
        ax.hlines(y, q[order, 1], q[order, 3], color=INK, linewidth=2.6)
        ax.plot(q[order, 2], y, "o", color="white", markeredgecolor=INK, markersize=3.2,
                zorder=3)
        handles = [Line2D([], [], color=INK, linewidth=2.6, label="50% interval"),
                   Line2D([], [], color=INK, linewidth=0.8, label="95% interval"),
                   Line2D([], [], marker="o", color="white", markeredgecolor=INK,
                          linestyle="none", label="posterior median")]
        if observed is not None:
            ax.plot(np.asarray(observed)[order], y, "|", color=ACCENT, markersize=6)
            handles.append(Line2D([], [], marker="|", color=ACCENT, linestyle="none",
                                  label="recorded on any list"))
        for i in np.flatnonzero(~finite[order]):
            ax.annotate("undefined (no official record)", (0.01, y[i]),
                        xycoords=("axes fraction", "data"), va="center", fontsize=6,
                        color=MUTED)
        if np.nanmin(q) > 0:
            ax.set_xscale("log")
            _plain_log_ticks(ax.xaxis, q if observed is None else np.append(q, observed))
        ax.set_yticks(y, [labels[i] for i in order])
        ax.set_ylim(-0.7, len(labels) - 0.3)
        ax.set_xlabel(value_label)
        ax.set_ylabel(group_name.capitalize())
        fig.legend(handles=handles, loc="outside lower center", ncols=2)
    return fig


MODEL_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")
_Q = ("N_q025", "N_q25", "N_median", "N_q75", "N_q975")


def _intervals(ax, y, quantiles: np.ndarray, colour, converged: np.ndarray) -> None:
    """Thin 95% and thick 50% lines with the median; hollow median where not converged."""
    ax.hlines(y, quantiles[:, 0], quantiles[:, 4], color=colour, linewidth=0.8)
    ax.hlines(y, quantiles[:, 1], quantiles[:, 3], color=colour, linewidth=2.6)
    for ok, face in ((converged, colour), (~converged, "white")):
        ax.plot(quantiles[ok, 2], np.asarray(y)[ok], "o", color=face, markeredgecolor=colour,
                markersize=3.2, linestyle="none", zorder=3)


def _model_legend(models, with_unconverged: bool):
    handles = [Line2D([], [], color=MODEL_COLOURS[i % len(MODEL_COLOURS)], marker="o",
                      linewidth=2.6, label=m) for i, m in enumerate(models)]
    handles += [Line2D([], [], color=INK, linewidth=2.6, label="50% interval"),
                Line2D([], [], color=INK, linewidth=0.8, label="95% interval")]
    if with_unconverged:
        handles.append(Line2D([], [], marker="o", color="white", markeredgecolor=INK,
                              linestyle="none", label="not converged"))
    return handles


def sensitivity_figure(rows: list[dict], title: str = "") -> Figure:
    """N (median, 50% and 95% intervals) per list variant, one colour per model: the rows of
    `sensitivity.compare`; skipped rows are left out."""
    rows = [r for r in rows if not r.get("skipped") and r.get("N_median") is not None]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    step = 1.0 / (len(models) + 1)
    with house_style():
        fig = Figure(figsize=(4.5, min(max(2.2, 0.3 * len(variants) * max(1, len(models))
                                           * 0.5 + 1.2), 16.0)), layout="constrained")
        ax = fig.add_subplot()
        ax.grid(True, axis="x")
        for m, model in enumerate(models):
            mine = [r for r in rows if r["model"] == model]
            y = [variants.index(r["variant"]) + (m + 1) * step - 0.5 for r in mine]
            q = np.array([[float(r[k]) for k in _Q] for r in mine])
            _intervals(ax, y, q, MODEL_COLOURS[m % len(MODEL_COLOURS)],
                       np.array([bool(r.get("converged", True)) for r in mine]))
        if rows and min(float(r["N_q025"]) for r in rows) > 0:
            ax.set_xscale("log")
            _plain_log_ticks(ax.xaxis, [float(r[k]) for r in rows for k in _Q])
        ax.set_yticks(range(len(variants)), variants)
        ax.invert_yaxis()
        ax.set_xlabel("Estimated population size N")
        ax.set_ylabel("Lists used")
        if title:
            ax.set_title(title)
        ax.legend(handles=_model_legend(models, any(not r.get("converged", True)
                                                    for r in rows)),
                  loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def benchmark_figure(rows: list[dict], published: dict[str, dict]) -> Figure:
    """N per benchmark table and model beside the published estimate (dashed line) and its
    interval (grey band), one row of intervals per model and a panel per table."""
    tables = list(dict.fromkeys(r["table"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    with house_style():
        fig = Figure(figsize=(4.5, min(max(2.0, 0.22 * len(rows) + 0.5 * len(tables)), 16.0)),
                     layout="constrained")
        axes = fig.subplots(max(len(tables), 1), 1, squeeze=False)[:, 0]
        for ax, table in zip(axes, tables):
            mine = [r for r in rows if r["table"] == table]
            ref = published.get(table, {})
            if ref.get("lo") and ref.get("hi"):
                ax.axvspan(float(ref["lo"]), float(ref["hi"]), color="0.9", zorder=0)
            if ref.get("estimate"):
                ax.axvline(float(ref["estimate"]), color=MUTED, linestyle="--", linewidth=0.8)
            for i, r in enumerate(mine):
                colour = MODEL_COLOURS[models.index(r["model"]) % len(MODEL_COLOURS)]
                _intervals(ax, [i], np.array([[float(r[k]) for k in _Q]]), colour,
                           np.array([bool(r.get("converged", True))]))
            ax.set_yticks(range(len(mine)), [r["model"] for r in mine])
            ax.set_ylim(-0.7, len(mine) - 0.3)
            ax.set_xscale("log")
            _plain_log_ticks(ax.xaxis, [float(r[k]) for r in mine for k in _Q]
                             + [float(ref[k]) for k in ("estimate", "lo", "hi") if ref.get(k)])
            ax.set_ylabel(table, rotation=0, ha="right", va="center")
        if len(axes):
            axes[-1].set_xlabel("Estimated population size N")
            handles = _model_legend(models, any(not r.get("converged", True) for r in rows))
            handles += [Line2D([], [], color=MUTED, linestyle="--", label="published"),
                        Patch(color="0.9", label="published interval")]
            axes[0].legend(handles=handles, loc="lower left", bbox_to_anchor=(1.01, 0.0))
    return fig
