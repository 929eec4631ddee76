"""Figure helpers and the house style. Pure: functions take numbers or rows and return
matplotlib Figures; they never read or write files (scripts and the CLI save them).
"""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

HOUSE_STYLE = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
    "axes.spines.right": False, "figure.dpi": 100, "savefig.bbox": "tight",
    "axes.prop_cycle": matplotlib.cycler(color=["#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                                "#E69F00", "#56B4E9", "#000000"]),
}
plt.rcParams.update(HOUSE_STYLE)


def people_axis(ax, axis: str = "x") -> None:
    """A log axis of counts labelled 1,000 / 2,000 / 5,000 ... (no 2x10^3 notation)."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    target.set_minor_formatter(NullFormatter())


def interval_rows(ax, rows: list[dict], series: list[str], y_of, colour_of) -> None:
    """Median dot with 50% (thick) and 95% (thin) intervals for each row's N quantiles."""
    for row in rows:
        y, colour = y_of(row), colour_of(row)
        ax.hlines(y, row["N_q025"], row["N_q975"], color=colour, lw=1.2)
        ax.hlines(y, row["N_q25"], row["N_q75"], color=colour, lw=4)
        ax.plot(row["N_median"], y, "o", ms=4, mec=colour,
                mfc="white" if row.get("converged", True) else colour)


def sensitivity_figure(rows: list[dict], title: str = "") -> Figure:
    """N by model (colour) for each list variant (row), with each model's identifying
    assumption in the legend. Hollow dots: converged fits; filled: not converged."""
    fitted = [r for r in rows if not r.get("skipped")]
    variants = list(dict.fromkeys(r["variant"] for r in fitted))
    models = list(dict.fromkeys(r["model"] for r in fitted))
    fig, ax = plt.subplots(figsize=(7.5, 0.3 * len(variants) * max(1, len(models)) + 2.0))
    step = 0.8 / max(1, len(models))
    interval_rows(ax, fitted, models,
                  y_of=lambda r: variants.index(r["variant"])
                  + (models.index(r["model"]) - (len(models) - 1) / 2) * step,
                  colour_of=lambda r: f"C{models.index(r['model'])}")
    ax.set_yticks(range(len(variants)), variants)
    ax.invert_yaxis()
    people_axis(ax)
    ax.set_xlabel("population size N (people, log scale)")
    ax.grid(axis="x", color="0.92")
    assumptions = {r["model"]: r["assumption"] for r in fitted}
    handles = [plt.Line2D([], [], color=f"C{i}", lw=4) for i in range(len(models))]
    ax.legend(handles, [f"{m}: {textwrap.shorten(assumptions[m], 90)}" for m in models],
              loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    ax.set_title(title or "Posterior of N by model: median, 50% and 95% intervals")
    fig.tight_layout()
    return fig


def benchmark_figure(rows: list[dict], published: dict[str, dict]) -> Figure:
    """Posterior of N per benchmark table (panel) and model (colour), with the published
    estimate (dashed) and interval (grey band). ``rows``: table, model and N quantiles."""
    tables = sorted({r["table"] for r in rows})
    models = sorted({r["model"] for r in rows})
    fig, axes = plt.subplots(len(tables), 1, figsize=(7, 0.85 * len(tables) + 1.2),
                             squeeze=False)
    for ax, table in zip(axes[:, 0], tables):
        mine = [r for r in rows if r["table"] == table]
        interval_rows(ax, mine, models, y_of=lambda r: models.index(r["model"]),
                      colour_of=lambda r: f"C{models.index(r['model'])}")
        ref = published.get(table, {})
        if ref.get("lo") and ref.get("hi"):
            ax.axvspan(float(ref["lo"]), float(ref["hi"]), color="0.9", zorder=0)
        if ref.get("estimate"):
            ax.axvline(float(ref["estimate"]), color="k", ls="--", lw=1)
        people_axis(ax)
        ax.set_ylim(-0.7, len(models) - 0.3)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_ylabel(table, rotation=0, ha="right", va="center")
    axes[-1, 0].set_xlabel("population size N (people, log scale)")
    handles = [plt.Line2D([], [], color=f"C{i}", lw=4) for i in range(len(models))] + [
        plt.Line2D([], [], color="k", ls="--", lw=1),
        matplotlib.patches.Patch(color="0.9")]
    fig.legend(handles, models + ["published estimate", "published interval"],
               loc="lower center", ncol=len(models) + 2, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.suptitle("Posterior of N on the published benchmark tables "
                 "(median, 50% and 95% intervals)")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
