"""Scenario worlds with known truth: people, their latent class, the lists that caught them.

`generate` draws one world from a `darkfigure.scenarios.Scenario`, person class by person
class, from the quadratic exponential (log-linear) law of capture histories described there.
Two seeds: the scenario's own seed fixes the *structure* (stratum effects on size, capture and
reporting; which strata a list did not cover), so every replicate of a scenario is the same
world design; the replicate seed draws the population sizes, the captures and the official
counts. The models' own generative twins live in their modules (`simulate` there); these
worlds are deliberately built from outside any one model, to break their assumptions.

The writers return text in the DESIGN.md contracts (capture table in either CSV shape,
official counts, list coverage, truth JSON); files are written by the CLI through `io`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import xarray as xr

from .models.hierarchical_parts import full_patterns
from .scenarios import Scenario
from .summaries import rows_to_csv
from .tables import CaptureTable


@dataclass(frozen=True)
class World:
    """One simulated world: the observed table, the side inputs and the truth."""

    scenario: Scenario
    seed: int
    table: CaptureTable
    official: xr.DataArray | None
    coverage: xr.DataArray
    n_true: np.ndarray          # (stratum,) true population sizes
    parameters: dict            # structure actually used (for the truth file)


def _logit(p):
    p = np.asarray(p, dtype=float)
    return np.log(p / (1 - p))


def structure(scenario: Scenario) -> dict:
    """The replicate-independent design drawn from the scenario seed: per stratum its levels,
    log-size offset, capture log-odds (stratum, list), reporting rate and coverage."""
    rng = np.random.default_rng(np.random.SeedSequence([scenario.seed, 0x5EED]))
    columns = [c for c, _ in scenario.strata]
    combos = list(itertools.product(*(levels for _, levels in scenario.strata))) or [()]
    n_strata, k = len(combos), scenario.n_lists
    log_size = np.zeros(n_strata)
    capture = np.tile(_logit(scenario.capture), (n_strata, 1))
    reporting = np.zeros(n_strata)
    for j, (_, levels) in enumerate(scenario.strata):
        level_index = np.array([levels.index(c[j]) for c in combos])
        log_size += rng.normal(0, scenario.stratum_sd, len(levels))[level_index]
        capture += rng.normal(0, scenario.capture_sd, (len(levels), k))[level_index]
        reporting += rng.normal(0, scenario.official_sd, len(levels))[level_index]
    covered = np.ones((n_strata, k), dtype=bool)
    for list_index, share in scenario.uncovered:
        gone = rng.permutation(n_strata)[:max(1, round(share * n_strata))]
        covered[gone, list_index] = False
    rate = None
    if scenario.official_rate is not None:
        rate = 1 / (1 + np.exp(-(_logit(scenario.official_rate) + reporting)))
    return {"columns": columns, "levels": combos, "expected_size": scenario.size *
            np.exp(log_size), "capture_logit": capture, "covered": covered,
            "reporting_rate": rate}


def pattern_probabilities(eta: np.ndarray, dependence) -> np.ndarray:
    """P(x) over all 2^K histories (code 0 = on no list first, as in `all_patterns`) for
    capture log-odds ``eta`` (K,) and pairwise log odds ratios ``(j, k, g)``."""
    full = full_patterns(len(eta)).astype(float)
    log_p = full @ eta
    for j, k, g in dependence:
        log_p = log_p + g * full[:, j] * full[:, k]
    p = np.exp(log_p - log_p.max())
    return p / p.sum()


def generate(scenario: Scenario, seed: int) -> World:
    """Draw one world: N per stratum ~ Poisson(expected size), classes ~ Multinomial(shares),
    histories per class ~ Multinomial(pattern_probabilities); lists a stratum did not cover
    catch nobody there; official counts ~ Binomial(N, rate)."""
    design = structure(scenario)
    rng = np.random.default_rng(np.random.SeedSequence([scenario.seed, seed]))
    k = scenario.n_lists
    shares = np.array([s for s, _ in scenario.classes])
    n_true = rng.poisson(design["expected_size"])
    counts = np.zeros((len(n_true), 2**k), dtype=np.int64)
    full = full_patterns(k)
    for s, n in enumerate(n_true):
        per_class = rng.multinomial(n, shares / shares.sum())
        for (_, shift), people in zip(scenario.classes, per_class):
            p = pattern_probabilities(design["capture_logit"][s] + shift, scenario.dependence)
            drawn = rng.multinomial(people, p)
            # An uncovered list catches nobody: each history loses that list's bit.
            code = (full * design["covered"][s]) @ (1 << np.arange(k - 1, -1, -1))
            np.add.at(counts[s], code, drawn)
    strata = {c: [levels[j] for levels in design["levels"]]
              for j, c in enumerate(design["columns"])}
    table = CaptureTable.from_array(counts[:, 1:], scenario.lists, strata or None)
    labels = {"stratum": table.stratum_labels}
    official = None
    if design["reporting_rate"] is not None:
        official = xr.DataArray(rng.binomial(n_true, design["reporting_rate"]), dims="stratum",
                                coords=labels, name="official")
    coverage = xr.DataArray(design["covered"], dims=("stratum", "list"), name="covered",
                            coords=labels | {"list": list(scenario.lists)})
    parameters = {
        "expected_size": design["expected_size"].round(3).tolist(),
        "capture_logit": design["capture_logit"].round(4).tolist(),
        "classes": [{"share": s, "shift": h} for s, h in scenario.classes],
        "dependence": {f"{scenario.lists[j]}:{scenario.lists[k]}": g
                       for j, k, g in scenario.dependence},
        "reporting_rate": None if design["reporting_rate"] is None
        else design["reporting_rate"].round(4).tolist(),
    }
    return World(scenario, seed, table, official, coverage, n_true.astype(np.int64), parameters)


# -- the files of a world (texts; the CLI writes them atomically) -------------------------
def _stratum_cells(world: World, s: int) -> dict[str, str]:
    return world.table.stratum_values(world.table.stratum_labels[s])


def table_csv(world: World, shape: str = "aggregated") -> str:
    """The capture table: ``aggregated`` (every pattern of every stratum, zeros included, so
    strata without records keep their rows) or ``records`` (one row per person observed)."""
    if shape not in ("aggregated", "records"):
        raise ValueError(f"shape '{shape}': choose aggregated or records")
    table, rows = world.table, []
    for s in range(len(table.stratum_labels)):
        cells = _stratum_cells(world, s)
        for pattern, n in zip(table.patterns, table.counts.values[s]):
            row = cells | dict(zip(table.lists, (int(b) for b in pattern)))
            if shape == "aggregated":
                rows.append(row | {"count": int(n)})
            else:
                rows.extend([row] * int(n))
    if not rows:  # nobody observed: a header-only file still names the columns
        return ",".join(list(table.strata) + list(table.lists)) + "\n"
    return rows_to_csv(rows)


def official_csv(world: World) -> str | None:
    if world.official is None:
        return None
    if not world.table.strata:
        return f"official\n{int(world.official.values[0])}\n"
    return rows_to_csv([_stratum_cells(world, s) | {"official": int(v)}
                        for s, v in enumerate(world.official.values)])


def coverage_csv(world: World) -> str:
    rows = [_stratum_cells(world, s) | {"list": name, "covered": int(world.coverage.values[s, k])}
            for s in range(len(world.table.stratum_labels))
            for k, name in enumerate(world.table.lists)]
    return rows_to_csv(rows)


def truth(world: World) -> dict:
    """The truth file: N, observed and hidden per stratum and in total, and the parameters."""
    observed = world.table.observed.values
    strata = []
    for s, label in enumerate(world.table.stratum_labels):
        row = {"stratum": label} | _stratum_cells(world, s)
        row |= {"N": int(world.n_true[s]), "observed": int(observed[s]),
                "hidden": int(world.n_true[s] - observed[s])}
        if world.official is not None:
            row["official"] = int(world.official.values[s])
        row["uncovered_lists"] = [n for n, ok in zip(world.table.lists, world.coverage.values[s])
                                  if not ok]
        strata.append(row)
    total = {"N": int(world.n_true.sum()), "observed": int(observed.sum()),
             "hidden": int(world.n_true.sum() - observed.sum())}
    if world.official is not None:
        total["official"] = int(world.official.values.sum())
    return {"scenario": world.scenario.name, "description": world.scenario.description,
            "scenario_seed": world.scenario.seed, "seed": world.seed,
            "lists": list(world.table.lists), "stratum_columns": list(world.table.strata),
            "strata": strata, "total": total, "parameters": world.parameters}
