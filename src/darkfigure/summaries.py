"""Pure functions from posterior draws to reported numbers: N, N / official, quantiles.

The total over strata is computed from the joint draws (sum of N per draw), never by adding
quantiles, which would overstate the interval's width.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import xarray as xr

QUANTILES = {"q025": 0.025, "q05": 0.05, "median": 0.5, "q95": 0.95, "q975": 0.975}
TOTAL = "ALL"


def _columns(prefix: str) -> list[str]:
    return [f"{prefix}_mean"] + [f"{prefix}_{name}" for name in QUANTILES]


def describe(draws: np.ndarray, prefix: str) -> dict[str, float]:
    draws = np.asarray(draws, dtype=float).ravel()
    row = {f"{prefix}_mean": float(draws.mean())}
    row.update({f"{prefix}_{name}": float(np.quantile(draws, q))
                for name, q in QUANTILES.items()})
    return row


def stratum_columns(tree: xr.DataTree) -> list[str]:
    """The columns that label strata (region, sector, ...), in the capture table's order."""
    counts = tree["observed_data"]["count"]
    return [c for c in counts.coords if c not in ("stratum", "pattern")
            and counts[c].dims == ("stratum",)]


def estimate_rows(tree: xr.DataTree, unestimable=()) -> list[dict]:
    """One row per stratum, then the ``ALL`` total: the columns of estimates.csv.

    Strata in ``unestimable`` (N has no estimate from the data) get empty N and ratio
    columns, and so does the total if any stratum is among them: no number is printed that
    rests on a non-existent estimate.
    """
    observed_data = tree["observed_data"].to_dataset()
    counts = observed_data["count"]
    strata = stratum_columns(tree)
    n_draws = tree["posterior"]["N"].transpose("chain", "draw", "stratum").values
    official = None
    if "constant_data" in tree.children and "official" in tree["constant_data"].dataset:
        official = tree["constant_data"]["official"].sel(stratum=counts["stratum"]).values
    rows = []
    labels = [str(s) for s in counts["stratum"].values]
    for i, label in enumerate(labels):
        row = {c: str(counts[c].values[i]) for c in strata}
        row["observed"] = int(counts.values[i].sum())
        row.update(describe(n_draws[..., i], "N"))
        if official is not None:
            row.update(_ratio(n_draws[..., i], int(official[i])))
        rows.append(_blank(row) if label in unestimable else row)
    if len(labels) > 1 or not strata:
        total = {c: TOTAL for c in strata} | {"observed": int(counts.values.sum())}
        total.update(describe(n_draws.sum(axis=-1), "N"))
        if official is not None:
            total.update(_ratio(n_draws.sum(axis=-1), int(official.sum())))
        total = _blank(total) if unestimable else total
        if strata:
            rows.append(total)
        else:
            rows = [total]
    return rows


def multiplier_rows(tree: xr.DataTree) -> list[dict]:
    """One row per comparison of a ``multiplier`` fit: its figures, the ratio of the
    published yearly counts, the source's own ratio where it gives one, and the posterior of
    the multiplier (court-recorded cases per official case)."""
    comps = tree["comparisons"].to_dataset()
    draws = tree["posterior"]["multiplier"].transpose("chain", "draw", "comparison")
    rows = []
    for i, name in enumerate(comps["comparison"].values):
        published = float(comps["published"].values[i])
        row = {"comparison": str(name), "numerator": str(comps["numerator"].values[i]),
               "denominator": str(comps["denominator"].values[i]),
               "count_ratio": float(comps["count_ratio"].values[i]),
               "published": None if np.isnan(published) else published}
        row.update(describe(draws.sel(comparison=name).values, "multiplier"))
        rows.append(row)
    return rows


def _blank(row: dict) -> dict:
    return {k: (None if k.startswith(("N_", "ratio_")) else v) for k, v in row.items()}


def _ratio(n_draws: np.ndarray, official: int) -> dict:
    """N / official; left empty where nothing was recorded (no finite multiplier exists)."""
    row = {"official": official}
    if official > 0:
        row.update(describe(n_draws / official, "ratio"))
    else:
        row.update({c: None for c in _columns("ratio")})
    return row


def rows_to_csv(rows: list[dict]) -> str:
    """Rows of dicts as CSV; columns in order of first appearance, missing values empty."""
    names = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n", restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(v) for k, v in row.items()})
    return out.getvalue()


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def terminal_table(rows: list[dict], diagnostics: dict) -> str:
    """A readable summary for the terminal: N median and 95% interval per stratum (or the
    multiplier per comparison)."""
    if "comparison" in rows[0]:
        return _multiplier_table(rows, diagnostics)
    keys = [k for k in rows[0] if k not in ("observed", "official") and not
            k.startswith(("N_", "ratio_"))]
    has_ratio = "ratio_median" in rows[0]
    head = keys + ["observed", "N median", "N 95% interval"] + \
        (["official", "N/official median [95%]"] if has_ratio else [])
    body = []
    for row in rows:
        if row["N_median"] is None:
            line = [row[k] for k in keys] + [f"{row['observed']:,}", "not estimable", ""]
            line += [f"{row['official']:,}", ""] if has_ratio else []
            body.append([str(x) for x in line])
            continue
        line = [row[k] for k in keys] + [f"{row['observed']:,}", f"{row['N_median']:,.0f}",
                                         f"[{row['N_q025']:,.0f}, {row['N_q975']:,.0f}]"]
        if has_ratio:
            ratio = "" if row["ratio_median"] is None else \
                f"{row['ratio_median']:.3g} [{row['ratio_q025']:.3g}, {row['ratio_q975']:.3g}]"
            line += [f"{row['official']:,}", ratio]
        body.append([str(x) for x in line])
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*b) for b in body]
    return "\n".join(lines + _status(diagnostics, sampled=True))


def _status(diagnostics: dict, sampled: bool = False) -> list[str]:
    """The verdict line and the notes; ``sampled``: an MCMC fit (ESS of N, divergences)."""
    status = "converged" if diagnostics["converged"] else "NOT CONVERGED"
    ess = f"min bulk ESS(N) {diagnostics['min_ess_bulk_N']}, divergences " \
        f"{diagnostics['divergences']}" if sampled else \
        f"min bulk ESS {diagnostics['min_ess_bulk_N']}"
    return [f"{status}: max R-hat {diagnostics['max_rhat']}, {ess}, {diagnostics['seconds']} s"] \
        + [f"note: {n}" for n in diagnostics["notes"]]


def _multiplier_table(rows: list[dict], diagnostics: dict) -> str:
    width = max(len(r["comparison"]) for r in rows)
    lines = [f"{'comparison':<{width}}  {'counts':>7}  multiplier median [95%]"]
    lines += [f"{r['comparison']:<{width}}  {r['count_ratio']:>7.3g}  "
              f"{r['multiplier_median']:.3g} [{r['multiplier_q025']:.3g}, "
              f"{r['multiplier_q975']:.3g}]" for r in rows]
    return "\n".join(lines + _status(diagnostics))
