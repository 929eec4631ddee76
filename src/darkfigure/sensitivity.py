"""Sensitivity of N across models and list definitions: a first-class output.

The dark figure is not identified by the data alone; each family identifies it through its
own assumption about list dependence and heterogeneity. `compare` fits every applicable
family to one table and then refits with each list omitted and with pairs of lists merged,
since published estimates are known to swing with such choices (Silverman 2020, JRSS A 183;
Chan, Silverman & Vincent 2021, JASA 116).
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import replace

import numpy as np

from .errors import DataWarning
from .fit import FitInputs, fit
from .models import REGISTRY, capture_families, get_family
from .runcard import RunCard
from .tables import CaptureTable


def applicable(family_name: str, table: CaptureTable) -> str | None:
    """None if the family can fit the table, else why not."""
    family = get_family(family_name)
    if family.reads_figures:
        return "fits published figures, not a capture table"
    if family.pools_strata:
        return "pools strata; compare fits one table at a time"
    limits = getattr(family.module, "LIST_LIMITS", None)
    if limits and not limits[0] <= table.n_lists <= limits[1]:
        return f"needs {limits[0]}-{limits[1]} lists, the table has {table.n_lists}"
    return None


def variants(table: CaptureTable, omit: bool = True, merge: bool = True):
    """(label, table) pairs: the table as given, each list omitted, each pair merged."""
    yield "all lists", table
    if omit and table.n_lists > 3:
        for name in table.lists:
            yield f"without {name}", table.select_lists([n for n in table.lists if n != name])
    if merge and table.n_lists > 3:
        for a, b in itertools.combinations(table.lists, 2):
            yield f"{a}+{b} merged", table.merge_lists([a, b], f"{a}+{b}")


def compare(table: CaptureTable, card: RunCard, models: list[str] | None = None,
            omit: bool = True, merge: bool = True, progress: bool = False) -> list[dict]:
    """One row per (variant, model): N median and 95% interval, convergence, assumption."""
    rows = []
    names = models or [n for n in capture_families() if not REGISTRY[n].pools_strata]
    for v, (label, variant) in enumerate(variants(table, omit, merge)):
        for name in names:
            why_not = applicable(name, variant)
            row = {"variant": label, "model": name, "lists": variant.n_lists,
                   "assumption": get_family(name).assumption}
            if why_not:
                rows.append(row | {"skipped": why_not})
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DataWarning)
                tree, diagnostics = fit(replace(card, model=name, seed=card.seed + v),
                                        FitInputs(variant), progress=progress)
            n = tree["posterior"]["N"].values.sum(axis=-1).ravel()
            q = np.quantile(n, [0.025, 0.25, 0.5, 0.75, 0.975])
            rows.append(row | {"N_q025": q[0], "N_q25": q[1], "N_median": q[2], "N_q75": q[3],
                               "N_q975": q[4], "converged": diagnostics["converged"],
                               "max_rhat": diagnostics["max_rhat"],
                               "divergences": diagnostics["divergences"],
                               "notes": "; ".join(diagnostics["notes"]), "skipped": ""})
    return rows
