"""One run card -> one posterior: read the inputs, fit, write the files, reproduce.

All inputs are read and validated before anything is written, so bad input leaves the output
directory untouched; every file is then written atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from . import heldout, io, summaries
from .fit import FitInputs, fit
from .models import REGISTRY, get_family
from .provenance import provenance_attrs
from .runcard import RunCard, parse_card
from .stratadata import read_aggregate, read_coverage, read_official
from .tables import read_table
from .errors import InputError


@dataclass
class Outcome:
    tree: xr.DataTree
    diagnostics: dict
    rows: list[dict]
    attrs: dict[str, str]


def _family(card: RunCard):
    try:
        return get_family(card.model)
    except KeyError as err:
        raise InputError(str(err.args[0])) from None


def load_inputs(card: RunCard) -> FitInputs:
    if _family(card).reads_figures:
        raise InputError(f"model '{card.model}' fits published figures, not a capture table: "
                         "write a run card with [data] figures and run `darkfigure fit`")
    if card.table is None:
        raise InputError(f"model '{card.model}' fits a capture table: [data] table is "
                         "required")
    table = read_table(card.table, list(card.lists) if card.lists else None,
                       list(card.strata) if card.strata is not None else None)
    official = read_official(card.official, table) if card.official else None
    coverage = read_coverage(card.coverage, table) if card.coverage else None
    aggregates = tuple(read_aggregate(path, table, name) for name, path in card.aggregates)
    return FitInputs(table=table, official=official, coverage=coverage, aggregates=aggregates)


def run(card: RunCard, card_text: str, progress: bool = True) -> Outcome:
    if _family(card).reads_figures and card.figures is not None:
        tree, diagnostics = fit_figures(card)
        rows = summaries.multiplier_rows(tree)
    else:
        inputs = load_inputs(card)
        tree, diagnostics = fit(card, inputs, progress=progress)
        rows = summaries.estimate_rows(tree, diagnostics.get("unestimable_strata", ()))
    attrs = provenance_attrs(card_text, card.inputs, card.seed, diagnostics)
    return Outcome(tree, diagnostics, rows, attrs)


def fit_figures(card: RunCard) -> tuple[xr.DataTree, dict]:
    """Fit a family that reads published figures (``multiplier``): read and check the
    figures the card compares, then draw and diagnose the posterior (`fit.fit_figures`)."""
    from . import figures
    from .fit import fit_figures as fit_read_figures

    _family(card)
    data = figures.load(card.figures, card.exposure, card.comparisons,
                        card=f"run card {card.name}")
    return fit_read_figures(card, data)


def write_estimate_dir(out: Path, outcome: Outcome) -> None:
    """posterior.nc, estimates.csv and diagnostics.json (DESIGN.md); with two or more
    stratum columns also the first two's heatmaps and forest plots (N, and N / official
    when official counts were given)."""
    io.write_posterior(outcome.tree, out / "posterior.nc", outcome.attrs)
    io.write_text(out / "estimates.csv", summaries.rows_to_csv(outcome.rows))
    io.write_json(out / "diagnostics.json", outcome.diagnostics)
    for name, figure in stratum_figures(outcome.tree).items():
        io.write_figure(out / f"{name}.png", figure, dpi=200)


def stratum_figures(tree: xr.DataTree) -> dict:
    """Heatmaps of N (and N / official) over the first two stratum columns, forest plots by
    each; nothing for tables with fewer than two stratum columns."""
    from . import plotting

    columns = summaries.stratum_columns(tree)
    if len(columns) < 2:
        return {}
    quantities = ["N"] + (["ratio"] if "constant_data" in tree.children
                          and "official" in tree["constant_data"].dataset else [])
    figures = {}
    for quantity in quantities:
        figures[f"heatmap_{quantity}"] = plotting.heatmap(tree, quantity, rows=columns[0],
                                                          columns=columns[1])
        for by in columns[:2]:
            figures[f"forest_{quantity}_by_{by}"] = plotting.forest(tree, by=by,
                                                                    quantity=quantity)
    return figures


def compare_dir(table_path: Path, out: Path, card: RunCard, models: list[str] | None,
                omit: bool, merge: bool, progress: bool) -> list[dict]:
    """`darkfigure compare`: compare.csv and compare.png in ``out``."""
    from . import plotting, sensitivity

    inputs = load_inputs(card)
    unknown = [m for m in models or [] if m not in REGISTRY]
    if unknown:
        raise InputError(f"unknown model '{unknown[0]}'; choose from {', '.join(REGISTRY)}")
    rows = sensitivity.compare(inputs.table, card, models, omit, merge, progress)
    io.write_text(out / "compare.csv", summaries.rows_to_csv(rows))
    figure = plotting.sensitivity_figure(rows, title=f"{table_path.name}: N by model and lists")
    io.write_figure(out / "compare.png", figure, dpi=200)
    return rows


def validate_dir(out: Path, card: RunCard, progress: bool,
                 min_observed: int = heldout.MIN_OBSERVED) -> tuple[list[dict], dict]:
    """`darkfigure validate`: held-out-list rows and their summary in ``out``."""
    inputs = load_inputs(card)
    if inputs.table.n_lists < 3:
        raise InputError("held-out-list validation needs at least 3 lists (2 remain to "
                         "estimate each held-out list)", path=card.table)
    rows = heldout.validate(inputs.table, card, progress=progress, min_observed=min_observed)
    summary = heldout.summarise(rows) | {"model": card.model, "table": str(card.table),
                                         "min_observed": min_observed}
    io.write_text(out / "validate.csv", summaries.rows_to_csv(rows))
    io.write_json(out / "validate_summary.json", summary)
    return rows, summary


def reproduce(path: Path, progress: bool = False) -> tuple[bool, list[dict]]:
    """Refit from the card stored in a posterior file; compare per quantity.

    Identical draws are required when the fit and the refit ran the same code (same git
    commit, clean trees) under the same Python and library versions: the seed then fixes
    every draw, and any difference means something in the fit is not deterministic.
    Elsewhere the medians must agree within 4 Monte Carlo standard errors (arviz mcse of the
    median), since compilers and BLAS builds legitimately change the draws.
    """
    import arviz as az

    old = io.read_posterior(path)
    card_text = old.attrs["run_card"]
    recorded = json.loads(old.attrs.get("input_sha256", "{}"))
    card = parse_card(card_text, path=f"{path} (stored run card)")
    new = run(card, card_text, progress=progress)
    same_inputs = all(new_hash == recorded.get(name) for name, new_hash in
                      json.loads(new.attrs["input_sha256"]).items())
    strict = (old.attrs.get("library_versions") == new.attrs["library_versions"]
              and old.attrs.get("git_commit") == new.attrs["git_commit"]
              and old.attrs.get("git_dirty") == new.attrs["git_dirty"] == "false")
    report = []
    old_post, new_post = old["posterior"].to_dataset(), new.tree["posterior"].to_dataset()
    for name in sorted(old_post.data_vars):
        if name not in new_post:
            report.append({"quantity": name, "agrees": False, "how": "missing in refit"})
            continue
        a, b = old_post[name].values, new_post[name].values
        if a.shape == b.shape and np.array_equal(a, b, equal_nan=True):
            report.append({"quantity": name, "agrees": True, "how": "identical draws"})
            continue
        if strict:
            report.append({"quantity": name, "agrees": False, "how": "draws differ although "
                           "code, Python and libraries are the same (a non-deterministic fit)"})
            continue
        mcse = az.mcse(old_post[[name]], method="median")[name].values
        gap = np.abs(np.median(a, axis=(0, 1)) - np.median(b, axis=(0, 1)))
        ok = bool(np.all(gap <= 4 * np.sqrt(2) * np.maximum(mcse, 1e-12)))
        report.append({"quantity": name, "agrees": ok,
                       "how": f"medians within {float(np.max(gap / np.maximum(mcse, 1e-12))):.2f}"
                              " MCSE" if ok else "medians differ beyond Monte Carlo error"})
    report.insert(0, {"quantity": "inputs", "agrees": same_inputs,
                      "how": "sha256 as at fit time" if same_inputs else "inputs changed"})
    return all(r["agrees"] for r in report), report
