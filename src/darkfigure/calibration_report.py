"""Tables and figures of a calibration study, as pure functions of its replicate records.

Per scenario and model: empirical coverage of the central 50/90/95% intervals of N, with the
Monte Carlo standard error sqrt(c (1 - c) / n) of the 95% coverage; bias and RMSE of the
posterior mean; mean width of the 95% interval; the same for the multiplier N / official
where the world has official counts. The official count is fixed within a replicate, so the
multiplier's interval covers exactly when N's does; its bias, RMSE and width differ.
Units are strata (each stratum of each replicate counts once); ``total`` rows use the joint
draws of the sum over strata. Strata where the model says N is not estimable from the data
(never-overlapping lists, `darkfigure.sparsity`) are counted in ``unestimable`` and left out of
the coverage, as the tool prints no number there.

SBC (Talts et al. 2018, arXiv:1804.06788): per model the fractional ranks u, their
Kolmogorov-Smirnov p-value against Uniform(0, 1), and whether their ECDF stays inside the
simultaneous 95% band of Säilynoja, Bürkner & Vehtari (2022, Statistics and Computing 32:32),
drawn as an ECDF-difference plot.

Nothing here reads or writes files: the CLI writes the returned texts and figures via `io`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from .calibrate import LEVELS
from .plotting import house_style
from .sbc import ecdf_band

COVERAGE_COLUMNS = ["scenario", "model", "level", "replicates", "units", "unestimable",
                    "converged", "cover50", "cover90", "cover95", "cover95_mcse", "bias",
                    "rel_bias", "rmse", "width95", "ratio_bias", "ratio_rmse", "ratio_width95"]

SBC_COLUMNS = ["scenario", "model", "replicates", "ranks", "converged", "mean_u", "ks_p",
               "in_band", "max_ecdf_diff"]

#: The columns of the LaTeX table (the CSV has them all): narrow enough for a page.
LATEX_COLUMNS = ["scenario", "model", "level", "replicates", "unestimable", "cover50",
                 "cover90", "cover95", "rel_bias", "rmse", "width95", "ratio_width95"]


def coverage_rows(records: list[dict]) -> list[dict]:
    """One row per (scenario, model, level) of the scenario records; see the module doc."""
    groups: dict[tuple, list] = {}
    replicates: dict[tuple, set] = {}
    for rec in records:
        if rec.get("kind") != "scenario":
            continue
        for unit in rec["units"]:
            key = (rec["scenario"], rec["model"], unit["level"])
            groups.setdefault(key, []).append(unit)
            replicates.setdefault(key, set()).add(rec["replicate"])
    rows = []
    for key in sorted(groups):
        units = groups[key]
        used = [u for u in units if u.get("fitted") and u.get("estimable")]
        row = dict(zip(("scenario", "model", "level"), key))
        row |= {"replicates": len(replicates[key]), "units": len(units),
                "unestimable": len(units) - len(used)}
        if not used:
            rows.append(row)
            continue
        truth = np.array([u["N"] for u in used], float)
        mean = np.array([u["mean"] for u in used], float)
        q = {p: np.array([u["q"][str(p)] for u in used], float)
             for p in {p for pair in LEVELS.values() for p in pair}}
        row["converged"] = float(np.mean([u["converged"] for u in used]))
        for level, (lo, hi) in LEVELS.items():
            row[f"cover{level}"] = float(np.mean((q[lo] <= truth) & (truth <= q[hi])))
        row["cover95_mcse"] = float(np.sqrt(row["cover95"] * (1 - row["cover95"]) / len(used)))
        row |= {"bias": float(np.mean(mean - truth)), "rel_bias": float(np.mean(mean / truth - 1)),
                "rmse": float(np.sqrt(np.mean((mean - truth) ** 2))),
                "width95": float(np.mean(q[0.975] - q[0.025]))}
        official = np.array([u.get("official") or 0 for u in used], float)
        if (official > 0).any():
            ok = official > 0
            ratio_err = (mean[ok] - truth[ok]) / official[ok]
            row |= {"ratio_bias": float(ratio_err.mean()),
                    "ratio_rmse": float(np.sqrt(np.mean(ratio_err**2))),
                    "ratio_width95": float(np.mean((q[0.975] - q[0.025])[ok] / official[ok]))}
        rows.append(row)
    return rows


def sbc_values(records: list[dict]) -> dict[str, np.ndarray]:
    """Fractional ranks u per model (records without a rank are left out and counted in
    `sbc_rows`)."""
    out: dict[str, list] = {}
    for rec in records:
        if rec.get("kind") == "sbc" and rec.get("u") is not None:
            out.setdefault(rec["model"], []).append(rec["u"])
    return {m: np.array(v) for m, v in sorted(out.items())}


def sbc_rows(records: list[dict]) -> list[dict]:
    """Per model: replicates, ranks, KS p-value, inside the simultaneous 95% band or not."""
    rows = []
    values = sbc_values(records)
    for model in sorted({r["model"] for r in records if r.get("kind") == "sbc"}):
        recs = [r for r in records if r.get("kind") == "sbc" and r["model"] == model]
        u = values.get(model, np.array([]))
        row = {"model": model, "scenario": recs[0]["scenario"], "replicates": len(recs),
               "ranks": len(u), "converged": float(np.mean([r.get("converged", False)
                                                            for r in recs]))}
        if len(u) >= 5:
            z, lower, upper = ecdf_band(len(u))
            ecdf = np.searchsorted(np.sort(u), z, side="right") / len(u)
            row |= {"mean_u": float(u.mean()), "ks_p": float(stats.kstest(u, "uniform").pvalue),
                    "in_band": bool(np.all((ecdf >= lower) & (ecdf <= upper))),
                    "max_ecdf_diff": float(np.max(np.abs(ecdf - z)))}
        rows.append(row)
    return rows


def _cell(value, column: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "--"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if column.startswith(("cover", "converged", "rel_", "ks_", "mean_u", "max_")):
            return f"{value:.3f}"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:,.0f}".replace(",", "{,}")
    return str(value).replace("_", r"\_").replace("%", r"\%")


def to_latex(rows: list[dict], columns: list[str], caption: str, label: str) -> str:
    """A booktabs table (needs \\usepackage{booktabs}) of ``columns`` of ``rows``."""
    present = [c for c in columns if any(c in r for r in rows)]
    head = " & ".join(c.replace("_", r"\_") for c in present)
    body = [" & ".join(_cell(r.get(c), c) for c in present) + r" \\" for r in rows]
    return "\n".join([r"\begin{table}[htbp]", r"\centering\small",
                      rf"\caption{{{caption}}}", rf"\label{{{label}}}",
                      r"\begin{tabular}{" + "l" * 3 + "r" * (len(present) - 3) + "}",
                      r"\toprule", head + r" \\", r"\midrule", *body, r"\bottomrule",
                      r"\end{tabular}", r"\end{table}", ""])


def coverage_figure(rows: list[dict], level: str = "stratum"):
    """Coverage by scenario and model, one panel per nominal level, with 95% Monte Carlo
    intervals (binomial, Wilson) and the nominal level dashed."""
    rows = [r for r in rows if r["level"] == level and "cover95" in r]
    scenarios = sorted({r["scenario"] for r in rows})
    models = sorted({r["model"] for r in rows})
    with house_style():
        return _coverage_panels(rows, scenarios, models, level)


def _coverage_panels(rows, scenarios, models, level):
    # Page width (6.5 in), so the house style's 7-9 pt text prints at its size.
    fig = Figure(figsize=(6.5, 2.9), constrained_layout=True)
    axes = fig.subplots(1, len(LEVELS), sharey=False)
    markers = "osD^vP*X"
    for ax, nominal in zip(axes, LEVELS):
        for j, model in enumerate(models):
            offset = (j - (len(models) - 1) / 2) * 0.8 / max(len(models), 1)
            xs, ys, lo, hi = [], [], [], []
            for i, s in enumerate(scenarios):
                row = next((r for r in rows if r["scenario"] == s and r["model"] == model), None)
                if row is None:
                    continue
                n = row["units"] - row["unestimable"]
                c = row[f"cover{nominal}"]
                a, b = stats.binomtest(round(c * n), n).proportion_ci(0.95, "wilson")
                xs.append(i + offset)
                ys.append(100 * c)
                lo.append(100 * (c - a))
                hi.append(100 * (b - c))
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt=markers[j % len(markers)], ms=3.5,
                        capsize=1.5, lw=0.8, label=model)
        ax.axhline(nominal, ls="--", color="0.3", lw=1)
        ax.set_xticks(range(len(scenarios)), scenarios, rotation=45, ha="right")
        ax.set_title(f"Nominal {nominal}% interval")
        ax.set_ylabel("Empirical coverage of N (%)")
        ax.set_ylim(0, 102)
        ax.grid(axis="y", alpha=0.3)
    axes[-1].legend(title="Model", loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(f"Coverage of central posterior intervals for N (per {level}; bars: 95% "
                 "Monte Carlo interval)")
    return fig


def sbc_figure(records: list[dict]):
    """ECDF difference plots of the SBC fractional ranks, one panel per model, with the
    simultaneous 95% band of Säilynoja, Bürkner & Vehtari (2022)."""
    values = sbc_values(records)
    with house_style():
        return _sbc_panels(values)


def _sbc_panels(values):
    fig = Figure(figsize=(2.2 * max(len(values), 1), 2.3), constrained_layout=True)
    axes = fig.subplots(1, max(len(values), 1), sharey=True, squeeze=False)
    for ax, (model, u) in zip(axes[0], values.items()):
        z, lower, upper = ecdf_band(len(u))
        ecdf = np.searchsorted(np.sort(u), z, side="right") / len(u)
        ax.fill_between(z, lower - z, upper - z, step="mid", color="C0", alpha=0.2,
                        label="simultaneous 95% band")
        ax.step(z, ecdf - z, where="mid", color="k", lw=1.2, label="ECDF difference")
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_title(f"{model} (n = {len(u)})")
        ax.set_xlabel("Fractional rank u of true N")
        ax.set_xlim(0, 1)
    axes[0][0].set_ylabel("ECDF(u) - u")
    if values:
        axes[0][0].legend(loc="lower left")
    fig.suptitle("Simulation-based calibration under each model's (truncated) prior")
    return fig
