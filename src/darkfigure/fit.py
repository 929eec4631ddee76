"""Build, sample, check convergence, attach provenance; nothing else.

NUTS families are sampled with nutpie by default (Rust NUTS, ~30x PyMC's own sampler here);
``sampler = "pymc"`` falls back to `pm.sample`. One compiled model serves every stratum with
the same lists (only `pm.Data` changes), so per-stratum fits compile once; a family whose
graph names its lists only in coordinates (``labels``) shares it among tables with as many
lists (held-out lists, `compare`'s variants), its draws relabelled; a pooling family's
joint model is reused the same way for every table of equal structure (``structure_key``:
repeated fits, calibration replicates). Families with their own samplers (exact or Gibbs)
provide ``sample``. Non-pooling families fit each stratum on its own; lists that did not
operate in a stratum are dropped there, which is exact for a stratum fitted alone (its cells
on that list were never observable).

Same seed, same inputs, same draws: PyTensor's numba backend compiles with fast-math flags by
default, and a kernel compiled fresh (LLVM optimising across inlined ops, reassociating sums)
then differs in the last bits from the same kernel loaded from PyTensor's cache. NUTS
trajectories amplify such bits, so a first run on a fresh clone gave other draws than every
later run (the SYNTHETIC Russia total: 8,964 [6,417, 13,653] cold, 8,924 [6,422, 13,726]
warm; log density, gradient and derived quantities differed by up to 2.5e-14 relative).
Strict IEEE arithmetic makes cold and warm kernels agree bit for bit, so it is set here for
every fit. It costs about 12% of gradient time on 89 x 10 strata x 5 lists (525 -> 587 us,
three runs each); that fit still takes 237 s in all.
"""

from __future__ import annotations

import functools
import sys
import time
import warnings
from dataclasses import dataclass, fields

import numpy as np
import pymc as pm
import pytensor
import xarray as xr

from . import diagnostics as diag
from .errors import InputError
from .models import Family, get_family
from .runcard import RunCard
from .tables import CaptureTable

pytensor.config.numba__fastmath = False

#: NUTS target acceptance of a family that names none (``TARGET_ACCEPT`` in its module).
TARGET_ACCEPT = 0.95

_COMPILED: dict[tuple, object] = {}
#: Compiled models kept per process (a calibration worker meets a few structures per
#: scenario; each compiled model holds tens of MB).
COMPILED_KEEP = 32


@dataclass(frozen=True)
class FitInputs:
    table: CaptureTable
    official: xr.DataArray | None = None
    coverage: xr.DataArray | None = None
    aggregates: tuple = ()   # stratadata.Aggregate sources (pooling families only)


def make_priors(family: Family, overrides: dict):
    priors_cls = family.module.Priors
    known = {f.name for f in fields(priors_cls)}
    unknown = set(overrides) - known
    if unknown:
        raise InputError(f"unknown prior(s) {sorted(unknown)} for model '{family.name}'; "
                         f"known: {sorted(known)}")
    try:
        return priors_cls(**overrides)
    except (TypeError, ValueError) as err:
        raise InputError(f"priors for model '{family.name}': {err}") from None


def stratum_seed(seed: int, index: int, stream: int = 0) -> int:
    """Independent, reproducible seeds per stratum and purpose (SeedSequence spawning)."""
    return int(np.random.SeedSequence([seed, index, stream]).generate_state(1)[0])


def fit(card: RunCard, inputs: FitInputs, progress: bool = True) -> tuple[xr.DataTree, dict]:
    """Fit the card's model to ``inputs``; return the posterior tree and its diagnostics."""
    family = get_family(card.model)
    priors = make_priors(family, card.priors)
    table = inputs.table
    limits = getattr(family.module, "LIST_LIMITS", None)
    if limits and not limits[0] <= table.n_lists <= limits[1]:
        raise InputError(f"model '{family.name}' handles {limits[0]}-{limits[1]} lists; the "
                         f"table has {table.n_lists}: merge lists or choose another model")
    if inputs.aggregates and not family.pools_strata:
        raise InputError(f"aggregate-only sources enter only the hierarchical model, as margins "
                         f"over strata; model '{family.name}' fits each stratum on its own")
    start = time.perf_counter()
    if family.pools_strata:
        tree = _sample(family, priors, table, card, 0, progress, inputs)
        tree = _with_total(tree, table, card.seed, 0)
    else:
        parts = []
        labels = table.stratum_labels
        for i, label in enumerate(labels):
            if progress and len(labels) > 1:
                print(f"[darkfigure] stratum {i + 1}/{len(labels)}: {label}", file=sys.stderr)
            sub = _covered(table.stratum(label), inputs.coverage)
            parts.append(_with_total(_sample(family, priors, sub, card, i, progress), sub,
                                     card.seed, i))
        tree = _concat_strata(parts)
    seconds = time.perf_counter() - start
    tree = _attach_data(tree, inputs)
    return tree, diag.diagnose(tree, table, seconds, _estimability(family, priors),
                               getattr(family.module, "DIAGNOSED", None))


def fit_figures(card: RunCard, data) -> tuple[xr.DataTree, dict]:
    """Fit a family that reads published figures to ``data`` (a `figures.FigureData`): its
    exact posterior draws and their diagnostics (`diagnostics.diagnose_draws`)."""
    family = get_family(card.model)
    priors = make_priors(family, card.priors)
    start = time.perf_counter()
    tree = family.module.sample(data, priors, draws=card.sampler["draws"],
                                tune=card.sampler["tune"], chains=card.sampler["chains"],
                                seed=stratum_seed(card.seed, 0))
    return tree, diag.diagnose_draws(tree, "multiplier", time.perf_counter() - start,
                                     data.notes)


def _estimability(family: Family, priors):
    """The family's estimability check (``estimability(table, label, priors)``), told the
    priors: the independence log-linear model can estimate what the pairwise one cannot."""
    check = getattr(family.module, "estimability", None)
    return None if check is None else functools.partial(check, priors=priors)


def _covered(sub: CaptureTable, coverage: xr.DataArray | None) -> CaptureTable:
    if coverage is None:
        return sub
    mask = coverage.sel(stratum=sub.stratum_labels[0]).values
    if mask.all():
        return sub
    keep = [name for name, ok in zip(sub.lists, mask) if ok]
    if len(keep) < 2:
        raise InputError(f"stratum {sub.stratum_labels[0]}: only {len(keep)} list(s) operated "
                         "there; at least 2 are needed to estimate it on its own (use the "
                         "hierarchical model to borrow strength)")
    return sub.select_lists(keep)


def _sample(family: Family, priors, table: CaptureTable, card: RunCard, index: int,
            progress: bool, inputs: FitInputs | None = None) -> xr.DataTree:
    """Sample one model. Pooling families also get the official counts and coverage."""
    module = family.module
    settings = card.sampler | {"target_accept": target_accept(module, card.sampler, table)}
    seed = stratum_seed(card.seed, index)
    extra = {"official": inputs.official, "coverage": inputs.coverage} if inputs else {}
    if inputs is not None and inputs.aggregates:
        extra["aggregates"] = inputs.aggregates
    if not family.uses_nuts:
        return module.sample(table, priors, draws=settings["draws"], tune=settings["tune"],
                             chains=settings["chains"], seed=seed, progress=progress, **extra)
    if settings["sampler"] == "numpyro":
        return _sample_jax(module.build(table, priors, **extra), settings, seed, progress)
    nutpie = _nutpie() if settings["sampler"] == "nutpie" else None
    if nutpie is None:
        return pm.sample(model=module.build(table, priors, **extra), draws=settings["draws"],
                         tune=settings["tune"], chains=settings["chains"], random_seed=seed,
                         target_accept=settings["target_accept"], progressbar=progress,
                         nuts_sampler="pymc")
    labels = getattr(module, "labels", None)
    if extra.get("aggregates") or not hasattr(module, "structure_key"):
        compiled = nutpie.compile_pymc_model(module.build(table, priors, **extra))
    else:  # same lists (or as many, given labels), strata and structure: reuse the compiled
        # model, swap the pm.Data
        key = (family.name, table.n_lists if labels else table.lists, priors,
               table.counts.sizes["stratum"],
               module.structure_key(table, priors, **extra))
        if key not in _COMPILED:
            while len(_COMPILED) >= COMPILED_KEEP:  # oldest first: bound the memory held
                del _COMPILED[next(iter(_COMPILED))]
            _COMPILED[key] = nutpie.compile_pymc_model(module.build(table, priors, **extra))
        compiled = _COMPILED[key].with_data(**module.data_for(table, priors, **extra))
    tree = nutpie.sample(compiled, draws=settings["draws"], tune=settings["tune"],
                         chains=settings["chains"], seed=seed, progress_bar=progress,
                         target_accept=settings["target_accept"],
                         **nutpie_options(module, table, priors))
    return _relabelled(tree, labels(table)) if labels else tree


def _relabelled(tree: xr.DataTree, labels: dict[str, list[str]]) -> xr.DataTree:
    """Every group's list dims named for this table (a shared compiled model carries the
    names of the table it was compiled for)."""
    return tree.map_over_datasets(
        lambda ds: ds.assign_coords({dim: values for dim, values in labels.items()
                                     if dim in ds.dims}))


def target_accept(module, settings: dict, table: CaptureTable | None = None) -> float:
    """The card's NUTS target acceptance. ``"auto"`` is the family's choice: its
    ``target_accept(table)`` where it judges from the data, else its ``TARGET_ACCEPT``."""
    value = settings["target_accept"]
    if value != "auto":
        return value
    if table is not None and callable(getattr(module, "target_accept", None)):
        return module.target_accept(table)
    return getattr(module, "TARGET_ACCEPT", TARGET_ACCEPT)


def nutpie_options(module, table: CaptureTable, priors) -> dict:
    """Extra nutpie.sample settings: the family's ``nutpie_options(table, priors)`` where it
    judges from the data, else its ``NUTPIE_OPTIONS``."""
    choose = getattr(module, "nutpie_options", None)
    return choose(table, priors) if callable(choose) else getattr(module, "NUTPIE_OPTIONS", {})


def _sample_jax(model: pm.Model, settings: dict, seed: int, progress: bool) -> xr.DataTree:
    """NUTS in JAX (NumPyro, through PyMC's JAX export), all chains vectorised into one
    compiled program: on a GPU one gradient serves every chain at once, with no round trip to
    Python per leapfrog step (nutpie's JAX backend calls back into Python at each step, which
    on this 2-core CPU made an 8 x 6 x 4 world ~5 times slower than its numba backend).
    JAX places the program on a GPU when it sees one (`jax.devices()`), else on the CPU.
    On the CPU nutpie is faster; this is for large hierarchical models on an accelerator.
    Measured on one H100 (benchmarks/measured/samplers_h100_2026-11-24.json): 89 x 10 strata
    x 5 lists in 214 s, as nutpie on 16 CPU cores, with 1.5 times its ESS(N) per second; an
    8 x 6 world gains nothing (145 s against 116 s): a leapfrog step costs about 2 ms on the
    GPU whatever the model's size, kernel launches rather than arithmetic."""
    try:
        import jax  # noqa: F401
        import numpyro  # noqa: F401
    except ImportError as err:
        raise InputError(f"[sampler] sampler = 'numpyro' needs JAX and NumPyro ({err}); "
                         "install them with: pip install 'darkfigure[jax]' (and a CUDA build "
                         "of jax for a GPU)") from None
    return pm.sample(model=model, draws=settings["draws"], tune=settings["tune"],
                     chains=settings["chains"], random_seed=seed,
                     target_accept=settings["target_accept"], progressbar=progress,
                     nuts_sampler="numpyro", nuts={"chain_method": "vectorized"})


def _nutpie():
    """nutpie if it imports; else None, with a warning, and PyMC's own NUTS takes over."""
    try:
        import nutpie
    except ImportError as err:
        warnings.warn(f"nutpie unavailable ({err}); falling back to PyMC's NUTS sampler, "
                      "which is much slower", RuntimeWarning, stacklevel=3)
        return None
    return nutpie


def _with_total(tree: xr.DataTree, table: CaptureTable, seed: int, index: int) -> xr.DataTree:
    """Add N = observed + a Poisson draw of the missing cell where the family gives only the
    missing cell's expectation; keep only the groups darkfigure stores."""
    posterior = tree["posterior"].to_dataset()
    posterior = posterior.assign_coords(stratum=table.stratum_labels) \
        if "stratum" in posterior.dims else posterior
    if "N" not in posterior:
        rng = np.random.default_rng(stratum_seed(seed, index, stream=1))
        rate = posterior["missing_rate"]
        hidden = rng.poisson(rate.values).astype(np.int64)
        posterior["N"] = rate.copy(data=hidden + table.observed.values[None, None, :])
    groups = {"posterior": posterior}
    if "sample_stats" in tree.children:
        stats = tree["sample_stats"].to_dataset()
        groups["sample_stats"] = stats[[v for v in stats.data_vars
                                        if stats[v].dtype != object]]
    for name, child in tree.children.items():
        if name not in ("posterior", "sample_stats") and not name.startswith("warmup") \
                and name not in ("observed_data", "constant_data"):
            groups[name] = child.to_dataset()
    return xr.DataTree.from_dict(groups)


def _concat_strata(parts: list[xr.DataTree]) -> xr.DataTree:
    if len(parts) == 1:
        return parts[0]
    groups = {}
    for name in parts[0].children:
        datasets = [p[name].to_dataset() for p in parts if name in p.children]
        # Sampler internals differ between strata (e.g. which log-linear terms are sampled
        # centred, with unnamed dims): keep the variables every stratum has in named dims.
        common = set.intersection(*(set(d.data_vars) for d in datasets))
        keep = [v for v in datasets[0].data_vars if v in common
                and not any("_dim_" in str(dim) for dim in datasets[0][v].dims)]
        datasets = [d[keep] for d in datasets]
        if name == "sample_stats":
            datasets = [d.expand_dims(stratum=p["posterior"]["stratum"].values)
                        for d, p in zip(datasets, parts)]
        groups[name] = xr.concat(datasets, dim="stratum", join="outer",
                                 data_vars="all", coords="different", compat="equals")
    return xr.DataTree.from_dict(groups)


def _attach_data(tree: xr.DataTree, inputs: FitInputs) -> xr.DataTree:
    table = inputs.table
    observed = xr.Dataset({"count": table.counts, "captured": table.design})
    for column in table.strata:
        observed = observed.assign_coords({column: table.counts[column]})
    groups = {name: child.to_dataset() for name, child in tree.children.items()}
    groups["observed_data"] = observed
    constant = {}
    if inputs.official is not None:
        constant["official"] = inputs.official
    if inputs.coverage is not None:
        constant["covered"] = inputs.coverage.astype(np.int8)
    if inputs.aggregates:
        constant["aggregate_count"] = aggregate_counts(inputs.aggregates)
    if constant:
        groups["constant_data"] = xr.Dataset(constant)
    return xr.DataTree.from_dict(groups)


def aggregate_counts(aggregates) -> xr.DataArray:
    """Every aggregate source's counts along one ``aggregate_group`` dim, with its ``source``
    and ``group`` (the group's levels joined by '|', or 'all') as coordinates."""
    names = [a.name for a in aggregates for _ in a.groups]
    groups = [g for a in aggregates for g in a.groups]
    return xr.DataArray(np.concatenate([a.count for a in aggregates]), dims="aggregate_group",
                        coords={"aggregate_group": [f"{n}:{g}" for n, g in zip(names, groups)],
                                "source": ("aggregate_group", names),
                                "group": ("aggregate_group", groups)}, name="aggregate_count")
