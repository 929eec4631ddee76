"""The dark-figure multiplier from published counts (family ``multiplier``).

Official statistics and independent counts of the same crime (e.g. court verdicts with evidence
of slavery filed under other articles) are aggregates that cannot be linked, so no capture
table exists. What they support is a ratio: how many court-recorded cases exist per officially
registered one. Each count y_f, collected over t_f years, is a Poisson draw around a steady
yearly rate, with a Gamma(shape, rate) prior on the rate,

    y_f ~ Poisson(lambda_f t_f),   lambda_f ~ Gamma(shape, rate)
    =>  lambda_f | y_f ~ Gamma(y_f + shape, t_f + rate)          (conjugate; BDA3 section 2.6)

and a comparison's multiplier is sum(numerator rates) / sum(denominator rates). The default
prior is Jeffreys' lambda^(-1/2) for a Poisson mean (Jeffreys 1946, Proc. R. Soc. A 186:453),
under which the posterior of a ratio of two rates matches the standard intervals for the ratio
of Poisson rates (Price & Bonett 2000, Comput. Stat. Data Anal. 34:345). The posterior is
known exactly, so `sample` draws it independently (no chain, nothing to tune); where a
comparison is a ratio of two Gamma sums with common scales its quantiles are also computed in
closed form (scaled beta-prime) and stored beside the draws as a check.

What the multiplier is and is not: the uncertainty is that of counts as realisations of
underlying rates. It does not cover what the counts mean (cases, convictions, verdicts), which
no model can supply; the notes made by `darkfigure.figures` say where definitions differ. Since
court records hold only the crimes that reached a court, the ratio of court-recorded to
official cases is a *lower bound* on the dark figure of the crime itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy import stats

from ..figures import FigureData

ASSUMPTION = ("each count is a Poisson draw around a steady yearly rate, and a comparison's "
              "counts are disjoint records of the same crime over their stated periods")
#: Quantiles stored in closed form beside the draws.
EXACT_QUANTILES = (0.025, 0.05, 0.5, 0.95, 0.975)


@dataclass(frozen=True)
class Priors:
    """Gamma prior on each yearly rate (shape, rate; rate 0 is improper but always gives a
    proper posterior because shape + count > 0).

    shape: 0.5 with rate 0 is Jeffreys' prior (default); 1 with rate 0 is flat.
    rate: pseudo-years of prior exposure; small values keep the prior vague.
    """

    shape: float = 0.5
    rate: float = 0.0

    def __post_init__(self):
        if not self.shape > 0:
            raise ValueError(f"shape is {self.shape}; the Gamma shape must be > 0")
        if not self.rate >= 0:
            raise ValueError(f"rate is {self.rate}; the Gamma rate must be >= 0")


def posterior_parameters(data: FigureData, priors: Priors = Priors()
                         ) -> tuple[np.ndarray, np.ndarray]:
    """(shape, rate) of each figure's Gamma posterior, in the order of ``data.ids``."""
    shape = np.array([data.counts[f] + priors.shape for f in data.ids])
    rate = np.array([data.years[f] + priors.rate for f in data.ids])
    return shape, rate


def sample(data: FigureData, priors: Priors = Priors(), *, draws: int = 1000, tune: int = 0,
           chains: int = 4, seed: int | None = None, progress: bool = False) -> xr.DataTree:
    """Independent draws of every yearly rate and every comparison's multiplier (``tune`` and
    ``progress`` are unused: there is no chain to tune)."""
    shape, rate = posterior_parameters(data, priors)
    rng = np.random.default_rng(seed)
    rates = rng.standard_gamma(shape, size=(chains, draws, len(shape))) / rate
    index = {f: i for i, f in enumerate(data.ids)}
    multipliers = np.stack(
        [rates[..., [index[f] for f in c.numerator]].sum(-1)
         / rates[..., [index[f] for f in c.denominator]].sum(-1) for c in data.comparisons],
        axis=-1)
    names = [c.name for c in data.comparisons]
    coords = {"chain": np.arange(chains), "draw": np.arange(draws), "figure": data.ids,
              "comparison": names}
    posterior = xr.Dataset(
        {"rate": (("chain", "draw", "figure"), rates),
         "multiplier": (("chain", "draw", "comparison"), multipliers)}, coords=coords)
    posterior["rate"].attrs["units"] = "events per year"
    return xr.DataTree.from_dict({"posterior": posterior,
                                  "constant_data": _figures_dataset(data),
                                  "comparisons": _comparisons_dataset(data, priors)})


def exact_quantiles(data: FigureData, priors: Priors, comparison: str,
                    qs=EXACT_QUANTILES) -> np.ndarray | None:
    """Closed-form quantiles of one comparison's multiplier, or None where there are none.

    With numerator and denominator disjoint, or the denominator inside the numerator (ratio
    1 + rest / denominator), and each side's rates sharing one Gamma scale, each side is one
    Gamma variable and their ratio a scaled beta-prime."""
    comp = next(c for c in data.comparisons if c.name == comparison)
    shape, rate = posterior_parameters(data, priors)
    index = {f: i for i, f in enumerate(data.ids)}
    num, den = set(comp.numerator), set(comp.denominator)
    if num & den and not den <= num:
        return None
    rest = [index[f] for f in comp.numerator if f not in den]
    bottom = [index[f] for f in comp.denominator]
    offset = 1.0 if den <= num else 0.0
    if not rest:
        return np.full(len(qs), offset)
    if len(set(rate[rest])) > 1 or len(set(rate[bottom])) > 1:
        return None
    scale = rate[bottom][0] / rate[rest][0]
    return offset + scale * stats.betaprime.ppf(qs, shape[rest].sum(), shape[bottom].sum())


def simulate(rates: dict[str, float], years: dict[str, float], *, seed: int | None = None
             ) -> dict[str, int]:
    """Counts drawn from the model: figure -> Poisson(rate x years) (for tests)."""
    rng = np.random.default_rng(seed)
    return {f: int(rng.poisson(rates[f] * years[f])) for f in rates}


def _figures_dataset(data: FigureData) -> xr.Dataset:
    figs = [data.figures[f] for f in data.ids]
    return xr.Dataset(
        {"count": ("figure", [data.counts[f] for f in data.ids]),
         "years": ("figure", [data.years[f] for f in data.ids]),
         "value": ("figure", [f.value for f in figs])},
        coords={"figure": data.ids, "unit": ("figure", [f.unit for f in figs]),
                "period": ("figure", [f.period for f in figs]),
                "geography": ("figure", [f.geography for f in figs]),
                "definition": ("figure", [f.definition for f in figs]),
                "document": ("figure", [f.document for f in figs]),
                "line": ("figure", [f.line for f in figs])},
        attrs={"figures_file": str(data.path)})


def _comparisons_dataset(data: FigureData, priors: Priors) -> xr.Dataset:
    """Per comparison: its figures, the ratio of the yearly counts as published (no prior),
    the source's own ratio where named, and the closed-form quantiles (NaN where none)."""
    index = {f: i for i, f in enumerate(data.ids)}
    per_year = np.asarray([data.counts[f] / data.years[f] for f in data.ids])
    point, exact = [], []
    published = [np.nan if c.published_value is None else c.published_value
                 for c in data.comparisons]
    for comp in data.comparisons:
        den = per_year[[index[f] for f in comp.denominator]].sum()
        num = per_year[[index[f] for f in comp.numerator]].sum()
        point.append(num / den if den > 0 else np.nan)
        q = exact_quantiles(data, priors, comp.name)
        exact.append(q if q is not None else np.full(len(EXACT_QUANTILES), np.nan))
    return xr.Dataset(
        {"count_ratio": ("comparison", point), "published": ("comparison", published),
         "exact_quantile": (("comparison", "quantile"), np.array(exact))},
        coords={"comparison": [c.name for c in data.comparisons],
                "quantile": list(EXACT_QUANTILES),
                "numerator": ("comparison", [" + ".join(c.numerator) for c in data.comparisons]),
                "denominator": ("comparison",
                                [" + ".join(c.denominator) for c in data.comparisons]),
                "published_id": ("comparison", [c.published or "" for c in data.comparisons]),
                "description": ("comparison", [c.description for c in data.comparisons])})
