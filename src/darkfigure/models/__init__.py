"""The model families and their registry.

Each family is a module with a frozen ``Priors`` dataclass (documented defaults) and either

- ``build(table, priors) -> pm.Model``: a pure PyMC model with named dims, sampled by NUTS in
  `darkfigure.fit`; it must define a ``missing_rate`` deterministic (dims ``stratum``), the
  expected number of people on no list, or an ``N`` variable directly; or
- ``sample(table, priors, *, draws, tune, chains, seed, progress) -> xr.DataTree``: a
  family with its own exact or Gibbs sampler, returning at least ``posterior/N``
  (chain, draw, stratum).

a one-line ``ASSUMPTION`` (the identifying assumption) and a ``simulate(...)``
generative twin for tests. ``pools_strata`` says whether one joint model
covers all strata (``hierarchical``) or each stratum is fitted on its own.
``reads_figures`` marks a family fitted to published aggregate figures instead of a capture
table (``multiplier``: its ``sample`` takes a `darkfigure.figures.FigureData`); commands that
take a capture table skip it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Family:
    name: str
    module_name: str
    pools_strata: bool = False
    reads_figures: bool = False

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(f"{__name__}.{self.module_name}")

    @property
    def assumption(self) -> str:
        """The family's identifying assumption in one line (its module's ``ASSUMPTION``)."""
        return self.module.ASSUMPTION

    @property
    def uses_nuts(self) -> bool:
        return hasattr(self.module, "build") and not hasattr(self.module, "sample")


#: Explicit registry: CLI model names -> families. A family is added here, nowhere else.
REGISTRY: dict[str, Family] = {
    "loglinear": Family("loglinear", "loglinear"),
    "bma": Family("bma", "bma"),
    "latent-class": Family("latent-class", "latent_class"),
    "hierarchical": Family("hierarchical", "hierarchical", pools_strata=True),
    "multiplier": Family("multiplier", "multiplier", reads_figures=True),
}


def capture_families() -> list[str]:
    """Names of the families that fit a capture table (all but figure-reading ones)."""
    return [name for name, family in REGISTRY.items() if not family.reads_figures]


def get_family(name: str) -> Family:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model '{name}'; choose one of {', '.join(REGISTRY)}") from None
