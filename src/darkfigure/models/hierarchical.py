"""Hierarchical Poisson log-linear multiple-systems estimation over all strata jointly.

For stratum s (e.g. federal district x sector) and every capture pattern q of K lists,
including the all-zero cell of people on no list,

    log mu[s, q] = level[s] + sum_k b[s, k] x_qk + sum_{j<k} (h[s] + g_jk) x_qj x_qk,

in effect coding (x - 1/2) as in `loglinear`, and the observed cells are Poisson counts
(Fienberg 1972, Biometrika 59:591; Bishop, Fienberg & Holland 1975, ch. 6; the Bayesian
log-linear treatments of Madigan & York 1997, Biometrika 84:19, and King & Brooks 2001,
Biometrics 57:1196). ``missing_rate[s]`` = mu[s, 0...0]; `darkfigure.fit` draws
N[s] = observed[s] + Poisson(missing_rate[s]). Terms, each partially pooled over strata with
learned scales (Gelman & Hill 2007, *Data Analysis Using Regression and Multilevel/Hierarchical
Models*, ch. 11-13):

- abundance: level[s] (the mean log cell) = intercept + one effect per stratum column
  (region, sector, ...) + a shrunk stratum residual, which with two columns is their
  interaction (with three, the residual of the full cross; with none, the level alone);
- capture: b[s, k] = list effect + list x column effects (one learned scale per column and
  list: a regional NGO varies by region far more than a federal court does);
- list dependence: g_jk, one term per pair shared by all strata, sum-to-zero and shrunk toward
  the common level h[s] with a learned scale; optionally (``stratum_dependence``) stratum
  deviations per pair, shrunk hard;
- individual heterogeneity: the common pairwise term h[s] (``heterogeneity``, intercept + one
  effect per column). Under the Rasch model with normally distributed log catchability of
  variance sigma^2 and rare capture, the marginal cell law is log-linear with exactly this
  term, h = sigma^2, added to every pair (Darroch, Fienberg, Glonek & Junker 1993, JASA
  88:1137; Fienberg, Johnson & Junker 1999, JRSS A 162:383). We chose it over a latent-class
  mixture because it keeps the model log-linear and unimodal (NUTS over 890 strata), never
  adds a term the no-three-way-interaction assumption cannot identify (it lives in the
  two-way space, so it is identified with 3 lists), and lets sparse strata borrow the
  strength of heterogeneity from their region and sector. Positive h reads as heterogeneity
  (or referral common to all pairs); negative as avoidance common to all pairs. What it does
  not capture, like every log-linear model, is heterogeneity whose higher cumulants matter
  (a small, nearly invisible class): that stays the untestable assumption.

With fewer than 3 lists the two-way terms are dropped (independence; nothing identifies them).

**Coverage.** A list that did not operate in stratum s is missing there, not zero: the
stratum's observable cells are its patterns on the covered lists, each with the rate summed
over the uncovered lists' indicators, and its missing cell sums every full pattern with no
covered list, so N still counts everyone. This is exact marginalisation of the complete
table (the model is the same; only what was observed differs). `hierarchical_parts.cells`
precomputes, per non-empty cell of such a stratum, the flat indices of the full patterns it
sums, and per such stratum a 0/1 mask of its missing cell, so no per-stratum aggregation
matrix is ever multiplied.

**Cost** (`hierarchical_rates`, where the measurements are). Fully covered strata enter the
likelihood through sufficient statistics (records, sum y x per list, sum y x_a x_b per pair),
not cell by cell, and the total rate of every stratum, a sum over all 2^K patterns,
factorises over the stratum columns: its exponentials are computed per region and per
sector, and the sum is one matrix product.

**Official counts** (``official``): official[s] ~ Poisson(r[s] (observed[s] + missing_rate[s])),
the Binomial(N, r) thinning with N's missing part marginalised, logit r[s] = intercept +
column effects + a stratum residual (all partially pooled); ``reporting_rate`` holds r. The
residual lets each stratum's official count be explained by its own rate rather than by
pulling N, which the official count should barely inform. Strata with no official record
still get a rate; their multiplier N/official is left empty downstream.

**Aggregate-only sources** (``aggregates``: counts per stratum or per coarser group of
strata, e.g. CTDC's synthetic records by sector, with no identities, hence no overlaps) enter
as margins: count[g] ~ Poisson(r[g] sum_{s in g} (observed[s] + missing_rate[s])), the
Binomial thinning of the group's N with its missing part marginalised, as for official
counts; logit r[g] = the source's logit typical rate (``aggregate_rate``, dim ``source``) +
a group residual with a learned scale per source (``aggregate_group_rate``, dim
``aggregate_group``). What such a source can and cannot identify:

- it never identifies N, list dependence or heterogeneity: with no overlaps it only says
  "count[g] people, out of N[g], were caught by a process of unknown efficiency", and any N
  fits that with the rate count/N;
- with the default weak prior on its rate, what it identifies is its own rate relative to
  the N the lists give (r[g] ~ count[g] / N[g]), and N is left essentially as without it: the
  margin adds only the constraint r <= 1 (N[g] at least about count[g]) and a tilt of the
  order of the prior's log-density slope, small next to N's posterior spread;
- it informs N only through an assumption about its rate: an informative prior
  (``aggregate_rate = {ctdc = {lower = 0.02, upper = 0.10}}`` in the run card's [priors],
  or {median, logit_sd}) turns count/r into a second, independent estimate of N that is
  pooled with the lists'. The test world (3 x 2 strata, 4 lists, a national total caught
  at rate 0.5) shows both: under the weak default the 90% interval of total N keeps its
  width within 20% and its median within 15% of that width; under a correct prior with
  logit sd 0.02 the interval narrows from 913 to 549 people. (The Poisson margin, the
  rare-capture form of the Binomial thinning, overstates the count's variance by a factor
  1 / (1 - r): at r = 0.5 the source is worth half the records it holds.) A wrong
  informative prior biases N just as confidently, so the interval given must be defended
  from outside the data (a documented detection rate, not a guess);
- with several groups the prior is on the source's typical rate; each group's rate departs
  from it by the pooled residual, so the prior informs the groups' N together more than
  each one (a small ``aggregate_scale_sd`` asserts one rate everywhere);
- a group the source did not report on is absent from its file: it says nothing there.

**Parameterisation.** Non-centring cures the funnels of sparse strata, centring avoids the
long trajectories non-centring causes in data-rich ones (Papaspiliopoulos, Roberts & Skold
2007, Statistical Science 22:59): centring pays when the data pin an element down more tightly
than the pooling prior does. Under 'auto' the choice for the abundance and reporting effects
compares each element's sampling variance (Poisson, from its records or official count) with
what the data say the pooling scale is *at least*: the lower end of the 95% Q-profile interval
of the between-group variance (`hierarchical_parts.between_variance`), computed in numpy from
the table before any graph exists. Stratum residuals are chosen element by element; column
effects (zero-sum normals, which remove the ridge between intercept, region and sector) as a
whole, each level seen through its strata with the residual's variance added (a large residual
could equally explain a level's departure). Where the groups do not differ beyond their noise
(a reporting rate with no residual, a 3 x 2 world's two degrees of freedom) nothing is centred.
The earlier rule, records alone (>= ``centred_min_count``), centred such elements and walked
into the centred funnel: on the nine 8 x 6 test worlds (3-5 lists, seeds 1-3, 4 x 1000 draws)
it gave 77 and 33 divergences in two worlds and R-hat > 1.01 in seven; the scatter rule gave
0 divergences with 4 and 5 lists but 3 and 1 in two 3-list worlds, at small reporting column
scales, while the records stood in for N. Reporting effects are now seen through log(official /
N), N from a two-list Chapman estimate (`hierarchical_parts.log_size`), whose variance the
strata of a level share (their N rest on the same level capture and heterogeneity effects):
0 divergences in all nine worlds, R-hat > 1.01 in five (max 1.038, ``reporting_region_scale``
of a 4-list world that the rule now leaves non-centred where centring converged, at 1.008: a
borderline the data cannot settle before sampling). On 89 x 10 x 5 (4 x 1000) it gave 0
divergences (1-4 before), 41 leapfrog steps per draw (49) and 179 s of sampling (236 s). A
centred stratum level is sampled through the log of its expected observed total, which the
data pin down almost independently of everything else (see `_abundance`). Capture column
effects follow the same rule on the log odds of being on each list; heterogeneity and
dependence, whose scales no record count estimates, keep the records rule: heterogeneity
effects only on 25 times the pairwise evidence (``HETEROGENEITY``), since their between-group
scale is near zero, where a centred effect is the funnel itself (centred at the plain rule,
89 x 10 x 5 gave R-hat 1.68 on ``heterogeneity_region_scale``).
nutpie's low-rank mass matrix did not help (tuning cost 195 steps per draw and R-hat rose
to 1.30; again on the 8 x 6 worlds: R-hat 1.057 on world 3-1 and a divergence on 3-2), so
the mass matrix is diagonal (``NUTPIE_OPTIONS``), estimated from the draws' variances as Stan
does (nutpie's ``draw_diag``) rather than from their gradients (nutpie's default). The pooling
scales are what mixed slowly, and along their funnels the gradients understate how far they
move. Measured (4 x 1000 draws, seeds 1-3, gradient -> draw variances): the nine 8 x 6 worlds
with R-hat > 1.01 went from four (3-1, 3-3, 4-1, 4-3; max 1.021, reporting_region_scale) to
none (max 1.0086), their smallest ESS(N) from 396 to 872, at 31-63 -> 31-76 leapfrog steps
per draw and about the same seconds; a divergence in 5-3 as before and now one in 3-2.
30 x 10 x 5: R-hat 1.068 -> 1.014 (heterogeneity), with 2 divergences where there were none;
89 x 10 x 5: ESS(N) 2,425 -> 3,344, 112 -> 150 s, R-hat 1.0064 -> 1.0096, no divergence.
Fewer fits flagged (five of the nine worlds -> two), so the draws' variances it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from ..errors import InputError
from ..tables import CaptureTable
from . import hierarchical_parts as parts
from . import hierarchical_rates as rates
from .hierarchical_parts import aggregate, simulate  # noqa: F401  (the family's public API)
from .loglinear import DRAW_DIAG, pair_labels

ASSUMPTION = ("no three-way or higher list interactions within a stratum; capture, dependence "
              "and a Rasch-type heterogeneity term additive over region and sector, partially "
              "pooled across strata")

#: Extra nutpie.sample settings `darkfigure.fit` passes for this family.
NUTPIE_OPTIONS: dict = DRAW_DIAG
#: Fewest degrees of freedom a pooled effect may have before sampling takes smaller steps.
FEW_DEGREES_OF_FREEDOM = 4


def target_accept(table: CaptureTable) -> float:
    """NUTS target acceptance under the run card's "auto": 0.99 when some pooled effect over
    the strata has fewer than `FEW_DEGREES_OF_FREEDOM` degrees of freedom (a column with
    < 5 levels, or a stratum residual with < 4), else 0.95. A scale learned from so few
    groups keeps a wide posterior, and the curvature changes along it in either
    parameterisation; smaller steps follow it. On the 3 x 2 test world (4 lists; its
    stratum residual has 2 degrees of freedom), with the half-normal prior on the
    residual's scale that larger worlds keep: 21 divergences at 0.95 and 4 at 0.99 with
    4 x 1000 draws. The rest of the cure is that prior's boundary-avoiding form
    (`_pooling_scale`): with it, 0 divergences at 0.99. The 8 x 6 worlds sample without
    divergences at 0.95, and at 89 x 10 x 5 strata the larger steps are what keeps the fit
    within five minutes."""
    lay = parts.layout(table)
    columns = [len(lay.levels[c]) - 1 for c in lay.columns if len(lay.levels[c]) > 1]
    residual = residual_degrees_of_freedom(lay, len(table.stratum_labels))
    pooled = columns + ([residual] if residual > 0 else [])
    return 0.99 if pooled and min(pooled) < FEW_DEGREES_OF_FREEDOM else 0.95


def residual_degrees_of_freedom(lay: parts.Layout, n_strata: int) -> int:
    """What the additive part (intercept + column effects) leaves to a stratum residual,
    counted as `parts.between_variance` counts it: strata minus the design's rank."""
    return n_strata - int(np.linalg.matrix_rank(parts.additive_design(lay, n_strata)))


@dataclass(frozen=True)
class Priors:
    """Prior scales of the hierarchical model (reasons in the module docstring)."""

    intercept_sd: float = 10.0              # abundance intercept, centred on the data's mean
    abundance_scale_sd: float = 2.0         # HalfNormal: spread of log size over regions etc.
    abundance_interaction_sd: float = 0.5   # HalfNormal: stratum residual (region x sector)
    # (each HalfNormal(sd) scale here is Gamma(2) of equal mean where its effect has 1-3
    # degrees of freedom: `_pooling_scale`)
    main_effect_sd: float = 5.0             # list effects, essentially free
    capture_scale_sd: float = 1.0           # HalfNormal: spread of capture log odds by column
    interaction_scale_sd: float = 1.0       # HalfNormal: pair-specific dependence (as loglinear)
    heterogeneity_sd: float = 1.0           # Normal: common pairwise term's intercept
    heterogeneity_scale_sd: float = 0.5     # HalfNormal: its spread over regions and sectors
    stratum_dependence: bool = False        # add per-stratum deviations of every pair term
    stratum_dependence_sd: float = 0.1      # HalfNormal: their scale (shrunk hard)
    reporting_intercept_sd: float = 2.5     # Normal on the logit reporting rate
    reporting_scale_sd: float = 1.0         # HalfNormal: its spread by column and stratum
    aggregate_intercept_mean: float = -2.0  # Normal on an aggregate source's logit rate ...
    aggregate_intercept_sd: float = 2.5     # ... unless `aggregate_rate` names the source
    aggregate_scale_sd: float = 0.5         # HalfNormal: its spread over the source's groups
    #: informative priors on aggregate sources' rates, source name -> {median, logit_sd} or
    #: {lower, upper} (a 90% interval), a logit-normal on the source's typical rate; e.g. in
    #: a run card: aggregate_rate = {ctdc = {lower = 0.02, upper = 0.10}}
    aggregate_rate: dict = field(default_factory=dict)
    #: "auto" centres abundance, capture and reporting effects the data pin down beyond the
    #: pooling scale's lower bound (module docstring), and dependence and heterogeneity
    #: effects informed by >= centred_min_count records (x their weights); "centred" /
    #: "noncentred" force one form everywhere.
    parameterisation: str = "auto"
    centred_min_count: int = 20

    def __post_init__(self):
        # frozen and hashable: the rate priors are kept as sorted (name, (mean, sd)) pairs
        object.__setattr__(self, "aggregate_rate", tuple(sorted(
            (str(name), spec if isinstance(spec, tuple) else parts.logit_normal(name, spec))
            for name, spec in
            dict(self.aggregate_rate).items())))


@dataclass(frozen=True)
class Plan:
    """Everything `build` takes from the data, computed in numpy before any graph exists.

    ``structure`` is what shapes the graph (the strata layout, where lists operated and every
    centring choice): two tables with equal structures compile to the same model, so a
    compiled model is reused across repeated fits (calibration replicates, benchmarks) with
    only ``data`` swapped in (the `pm.Data` values: non-empty cells, the log-factorial
    constant, the abundance centring offsets, official counts). `darkfigure.fit` keys its
    cache on `structure_key` and fills it with `data_for`.
    """

    lay: parts.Layout
    covered: np.ndarray
    cells: parts.Cells
    info: parts.Information
    centred: dict          # effect -> bool (whole effect) or bool array (element by element)
    official: np.ndarray | None

    @property
    def structure(self) -> tuple:
        def frozen(v):
            v = np.asarray(v)
            return (v.shape, v.astype(bool).tobytes())
        layout = tuple((c, tuple(self.lay.levels[c]), tuple(self.lay.index[c].tolist()))
                       for c in self.lay.columns)
        return (layout, frozen(self.covered), len(self.cells.part_count) > 0,
                self.official is not None,
                tuple((k, frozen(v)) for k, v in sorted(self.centred.items())))

    @property
    def data(self) -> dict:
        well = self.centred["abundance_stratum"]
        n_lists = self.covered.shape[1]
        values = {"cell_total": self.cells.total, "cell_margin": self.cells.margin,
                  "cell_log_factorial": np.float64(self.cells.log_factorial),
                  "records": self.info.records,
                  "mean_log_cell": np.float64(np.log(max(self.info.records.mean(), 1.0)
                                                     / 2**n_lists))}
        if n_lists >= 3:
            values["cell_pairs"] = self.cells.pairs
        if len(self.cells.part_count):
            values |= {"partial_index": self.cells.part_index,
                       "partial_weight": self.cells.part_weight,
                       "partial_count": self.cells.part_count}
        if well.any():
            values["log_records_centred"] = np.log(self.info.records[well])
        if self.official is not None:
            values["official_count"] = self.official
        return values


#: `Plan.data` entries that replace fields of `hierarchical_parts.Cells` in the graph.
CELL_DATA = {"cell_total": "total", "cell_margin": "margin", "cell_pairs": "pairs",
             "cell_log_factorial": "log_factorial", "partial_index": "part_index",
             "partial_weight": "part_weight", "partial_count": "part_count"}
#: `Plan.data` entries over named dims (per stratum); the rest are ragged.
STRATUM_DATA = {"official_count": "stratum", "records": "stratum", "cell_total": "stratum",
                "cell_margin": ("stratum", "list"), "cell_pairs": ("stratum", "pair")}


def plan(table: CaptureTable, priors: Priors = Priors(), *,
         official: xr.DataArray | None = None, coverage: xr.DataArray | None = None) -> Plan:
    """The numpy side of `build`: layout, cells and the centring choice of every effect."""
    if priors.parameterisation not in ("auto", "centred", "noncentred"):
        raise ValueError(f"parameterisation '{priors.parameterisation}': use auto, centred or "
                         "noncentred")
    lay = parts.layout(table)
    covered = parts.coverage_mask(table, coverage)
    info = parts.information(table, covered)
    centre, scatter = _centring(priors), _scatter_rule(priors)
    n = {c: len(lay.levels[c]) for c in lay.columns}
    additive = parts.additive_design(lay, len(info.records))
    centred = {"dependence": bool(centre(info.overlap.sum(axis=0), 0.5).all())}
    centred |= _stratum_and_columns("abundance", *_log_rate(info.records), lay, additive,
                                    scatter)
    for c, i in lay.index.items():
        on, off = (parts.group_sum(x, i, n[c]) for x in (info.on_list, info.off_list))
        log_odds, noise = _log_rate(on, off)
        operated = parts.group_sum(covered.astype(float), i, n[c]).ravel() > 0
        design = np.kron(np.ones((n[c], 1)), np.eye(table.n_lists))  # one mean per list
        centred[f"capture_{c}"] = _whole(scatter(log_odds.ravel()[operated],
                                                 noise.ravel()[operated], design[operated]))
        centred[f"heterogeneity_{c}"] = _whole(centre(parts.group_sum(info.multiple, i, n[c]),
                                                      HETEROGENEITY))
    if priors.stratum_dependence:
        centred["stratum_dependence"] = centre(info.overlap, PAIRWISE)
    values = None
    if official is not None:
        values = np.asarray(official.sel(stratum=table.stratum_labels).values, dtype=np.int64)
        if values.max(initial=0) >= 2**31 - 1:  # PyMC holds integer data as int32
            raise InputError(f"an official count of {values.max():,} is past what the model "
                             "can hold (2,147,483,646)")
        # The reporting rate is official / N: its estimate carries N's uncertainty too.
        log_official, official_variance = _log_rate(values)
        log_n, log_n_variance = parts.log_size(table, info, covered)
        centred |= _stratum_and_columns("reporting", log_official - log_n, official_variance,
                                        lay, additive, scatter, shared=log_n_variance)
    return Plan(lay, covered, parts.cells(table, covered), info, centred, values)


def _log_rate(count: np.ndarray, base: np.ndarray | None = None):
    """log(count) or log(count / base), and its Poisson sampling variance, with the
    Haldane-Anscombe 1/2 added to every count so zeros (a stratum with no official record)
    enter as the large deviations they are rather than dropping out."""
    count = np.asarray(count, float) + 0.5
    if base is None:
        return np.log(count), 1.0 / count
    base = np.asarray(base, float) + 0.5
    return np.log(count / base), 1.0 / count + 1.0 / base


def _whole(mask) -> bool:
    """Column effects are zero-sum normals, centred or not as a whole (see `_zero_sum`):
    centred when most of their levels would be."""
    return bool(np.mean(mask) >= 0.5)


def _stratum_and_columns(prefix: str, estimate, variance, lay, additive, scatter,
                         shared=None):
    """Centring of a pooled effect with a stratum residual (``{prefix}_stratum`` or
    ``_residual``) and column effects (``{prefix}_{column}``), from per-stratum estimates.

    A level's effect is seen through its strata, each with its sampling variance plus the
    residual's variance (the residual could equally explain a level's departure), so a large
    residual keeps the column effects non-centred: they are then not pinned down by the data.
    ``shared`` is a further per-stratum variance whose errors the strata of one level share,
    so that it does not average out over them: N's, in a reporting rate official / N, since
    the strata of a region estimate their N through the same region capture and
    heterogeneity effects. Counted as independent it made the reporting column effects of
    every 3-list test world look pinned down; centred, they diverged where their scale fell
    towards 0 (e.g. ``reporting_region_scale`` 0.008 at divergences, median 0.33).
    """
    shared = np.zeros_like(variance) if shared is None else np.asarray(shared, float)
    residual = "abundance_stratum" if prefix == "abundance" else f"{prefix}_residual"
    out = {residual: scatter(estimate, variance + shared, additive)}
    spread = parts.between_variance(estimate, variance + shared, additive)
    for c, i in lay.index.items():
        n = len(lay.levels[c])
        mean, noise = parts.level_means(estimate, variance + spread, i, n)
        noise += parts.group_sum(shared, i, n) / np.bincount(i, minlength=n)  # level mean
        out[f"{prefix}_{c}"] = _whole(scatter(mean, noise, np.ones((n, 1))))
    return out


def structure_key(table: CaptureTable, priors: Priors = Priors(), *,
                  official: xr.DataArray | None = None,
                  coverage: xr.DataArray | None = None) -> tuple:
    """What besides lists, priors and the number of strata shapes the compiled graph."""
    return plan(table, priors, official=official, coverage=coverage).structure


def data_for(table: CaptureTable, priors: Priors = Priors(), *,
             official: xr.DataArray | None = None,
             coverage: xr.DataArray | None = None) -> dict[str, np.ndarray]:
    """The `pm.Data` values of `build` for a table of the same structure."""
    return plan(table, priors, official=official, coverage=coverage).data


def build(table: CaptureTable, priors: Priors = Priors(), *, official: xr.DataArray | None = None,
          coverage: xr.DataArray | None = None, aggregates: tuple = ()) -> pm.Model:
    """One joint model over every stratum of ``table`` (see the module docstring)."""
    p = plan(table, priors, official=official, coverage=coverage)
    lay, centred = p.lay, p.centred
    coords = {"stratum": table.stratum_labels, "list": list(table.lists),
              "pair": pair_labels(table.lists)} | {c: lay.levels[c] for c in lay.columns}
    n_strata = len(table.stratum_labels)
    with pm.Model(coords=coords) as model:
        data = {name: pm.Data(name, value, dims=STRATUM_DATA.get(name))
                for name, value in p.data.items()}
        capture = pm.Normal("capture_list", 0.0, priors.main_effect_sd, dims="list")
        captures = []
        for column, index in lay.index.items():
            scale = _pooling_scale(f"capture_{column}_scale", priors.capture_scale_sd,
                                   table.n_lists * (len(lay.levels[column]) - 1))
            captures.append(_zero_sum(f"capture_{column}", scale, centred[f"capture_{column}"],
                                      ("list", column)))
        terms = rates.Terms(n_strata, table.n_lists, capture,
                            tuple((b, None, i) for b, i in zip(captures, lay.index.values())))
        if table.n_lists >= 3:
            terms = _dependence(terms, table, lay, priors, centred)
        cells = replace(p.cells, **{field: data[name] for name, field in CELL_DATA.items()
                                    if name in data})
        rate = rates.rates(terms, cells, rates.Patterns.of(table.n_lists))
        residual_df = residual_degrees_of_freedom(lay, n_strata)
        level = _abundance(lay, priors, centred, data, rate.observable, residual_df)
        loglik = rates.loglik(level, terms, cells, rate, partial="partial_count" in data)
        missing = pt.exp(level) * rate.missing
        pm.Potential("cells", loglik)
        pm.Deterministic("missing_rate", missing, dims="stratum")
        if official is not None:
            _reporting(lay, priors, centred, data["official_count"], data["records"] + missing,
                       residual_df)
        if aggregates:
            _aggregates(model, aggregates, priors, _centring(priors), data["records"] + missing)
    return model


def _pooling_scale(name: str, sd: float, degrees_of_freedom: int):
    """Scale of a pooled effect: HalfNormal(sd), or, where the effect has fewer than
    `FEW_DEGREES_OF_FREEDOM` degrees of freedom (a column with < 5 levels, a stratum
    residual with < 4), Gamma(2, rate) with the same prior mean (sd sqrt(2 / pi)).

    With so few groups the data leave the scale on its prior, and the half-normal's mode
    at 0 (complete pooling) then puts posterior mass at scales near 0, where a centred
    effect's funnel narrows, while groups rich in records pull it up to where the
    non-centred form strains: no parameterisation suits both ends. The Gamma(2) prior is
    the boundary-avoiding prior of Chung, Rabe-Hesketh, Dorie, Gelman & Liu (2013, "A
    nondegenerate penalized likelihood estimator for variance parameters in multilevel
    models", Psychometrika 78:685), proposed for exactly this case: its density vanishes
    linearly at 0, so the posterior leaves the funnel's neck, yet it keeps the data's say
    on small scales (a linear, not an exponential, penalty). Measured with target
    acceptance 0.99 ("auto" on such tables):

    - the 3 x 2 test world (4 lists; residual with 2 degrees of freedom, non-centred),
      4 x 1000 draws: divergences 4 -> 0 with seed 7, 0 -> 0 with seeds 1-3 and their
      largest R-hat 1.012 -> 1.0057; the residual scale's 90% interval [0.006, 0.42] ->
      [0.026, 0.44]; ESS(N) above 3,400;
    - the region_sector calibration scenario (3 regions, so 2 degrees of freedom in the
      centred region effect of abundance), 12 replicates x 2 x 500 draws: 5 had
      divergences, at ``abundance_region_scale`` 0.002-0.008 (its 5% quantile 0.021);
      with this prior none had, and 90% coverage of stratum N stayed 0.944.

    Effects with 4 or more degrees of freedom (the 8 x 6 worlds, the Russia card's 8 x 9,
    89 x 10) keep the half-normal: their data inform the scale. So does a residual with
    none (one stratum per level of a single column): it is the column effect over again,
    and the half-normal lets it shrink away.
    """
    if not 0 < degrees_of_freedom < FEW_DEGREES_OF_FREEDOM:
        return pm.HalfNormal(name, sd)
    return pm.Gamma(name, alpha=2.0, beta=2.0 / (sd * np.sqrt(2.0 / np.pi)))


def _abundance(lay, priors, centred, data, observable, residual_df: int):
    """The mean log cell per stratum: intercept + column effects + a stratum residual.

    The residual is centred where a stratum has many records, but then sampled through the
    log of the stratum's expected observed total, offset from log(records) with a flat prior
    (a shift, so no Jacobian), and the pooled prior on the level added as a potential. The
    Poisson likelihood factorises into a Poisson for the observed total and a multinomial
    for the cells given it, and this coordinate is what the first pins down: it is nearly
    independent of capture and dependence, which the mean log cell is not (the large cells
    weigh most), and a diagonal mass matrix handles it without long trajectories.
    """
    well = centred["abundance_stratum"]
    # An offset from the data's mean log cell (same prior, shifted) keeps the initial point
    # free of pm.Data, so a reused compiled model starts where a fresh compile would.
    additive = pm.Deterministic("abundance_intercept", data["mean_log_cell"] + pm.Normal(
        "abundance_intercept_offset", 0.0, priors.intercept_sd))
    additive = additive + _column_effects("abundance", lay, priors.abundance_scale_sd,
                                          centred) + np.zeros(len(well))
    scale = _pooling_scale("abundance_residual_scale", priors.abundance_interaction_sd,
                           residual_df)
    pieces, order = [], np.concatenate([np.flatnonzero(well), np.flatnonzero(~well)])
    if well.any():
        offset = pm.Flat("log_observed_offset", shape=int(well.sum()))
        level = data["log_records_centred"] + offset - pt.log(observable[well])
        pm.Potential("abundance_residual_prior",
                     pm.logp(pm.Normal.dist(0.0, scale), level - additive[well]).sum())
        pieces.append(level)
    if (~well).any():
        z = pm.Normal("abundance_residual_z", 0.0, 1.0, shape=int((~well).sum()))
        pieces.append(additive[~well] + scale * z)
    level = pt.concatenate(pieces)[np.argsort(order)]
    pm.Deterministic("abundance_residual", level - additive, dims="stratum")
    return level


#: Records per unit of information for the effects whose scale no count estimates (the
#: records rule of `_centring`), relative to a log rate (variance 1/n): a two-way term costs
#: about 16 times a log rate (Bishop, Fienberg & Holland 1975, ch. 14); ``centred_min_count``
#: puts the centring point at a scale of ~0.5 on the log-rate scale. Heterogeneity varies
#: ~5 times less between groups (its true scale was ~0 in every world we fitted), so its
#: effects need 25 times the pairwise records: centred at the plain rule, 89 x 10 x 5 gave
#: R-hat 1.68 on ``heterogeneity_region_scale`` (the centred funnel).
PAIRWISE, HETEROGENEITY = 16.0, 400.0


def _centring(priors: Priors):
    """Records informing an effect -> which of its elements to sample centred."""
    def choose(records: np.ndarray, per: float = 1.0) -> np.ndarray:
        if priors.parameterisation == "centred":
            return np.ones(np.shape(records), bool)
        if priors.parameterisation == "noncentred":
            return np.zeros(np.shape(records), bool)
        return np.asarray(records) / per >= priors.centred_min_count
    return choose


def _scatter_rule(priors: Priors):
    """(estimates, sampling variances, design) of a pooled effect's elements -> which to
    sample centred: under "auto", those whose sampling variance is below what the estimates'
    own scatter says the between-group variance is at least (the lower end of its 95%
    Q-profile interval, `hierarchical_parts.between_variance`).

    Centring pays when the data pin an element down more tightly than the pooling prior does
    (Papaspiliopoulos, Roberts & Skold 2007); the prior's scale is unknown before sampling,
    so the data's own evidence about it stands in. A point estimate is not enough: where few
    groups measure the scale (2 degrees of freedom on a 3 x 2 world) its posterior reaches
    down to 0, and any centred element there is a funnel. The lower bound is 0 whenever the
    data cannot exclude a scale near 0, and then nothing is centred.
    """
    def choose(estimate, variance, design) -> np.ndarray:
        variance = np.asarray(variance, float)
        if priors.parameterisation != "auto":
            return _centring(priors)(variance)
        return variance < parts.between_variance(estimate, variance, design, 0.95)
    return choose


def _pooled(name: str, scale, centred: np.ndarray, dims, store: bool = True):
    """Effects ~ Normal(0, scale), each element centred or non-centred as ``centred`` says."""
    if centred.all():
        return pm.Normal(name, 0.0, scale, dims=dims)
    if not centred.any():
        effect = pm.Normal(f"{name}_z", 0.0, 1.0, dims=dims) * scale
    else:
        raw = pm.Normal(f"{name}_raw", 0.0, pt.where(centred, scale, 1.0), dims=dims)
        effect = pt.where(centred, raw, raw * scale)
    return pm.Deterministic(name, effect, dims=dims) if store else effect


def _zero_sum(name: str, scale, centred: bool, dims):
    """Effects over the levels of a stratum column (the last dim), summing to zero there.

    Without the constraint an additive model (intercept + region + sector) has a ridge along
    which constants move between terms, which costs the sampler long trajectories. A
    zero-sum normal has no free mean direction to mix element by element, so the whole
    effect is centred when most of its levels are well informed, and non-centred otherwise.
    """
    if centred:
        return pm.ZeroSumNormal(name, sigma=scale, dims=dims)
    z = pm.ZeroSumNormal(f"{name}_z", sigma=1.0, dims=dims)
    return pm.Deterministic(name, z * scale, dims=dims)


def _column_parts(prefix: str, lay: parts.Layout, scale_sd: float, centred: dict) -> list:
    """One partially pooled effect per stratum column, over its levels, with the (stratum,)
    level index of every stratum; ``centred`` holds `plan`'s choice for each under the name
    ``{prefix}_{column}``."""
    out = []
    for column, index in lay.index.items():
        scale = _pooling_scale(f"{prefix}_{column}_scale", scale_sd,
                               len(lay.levels[column]) - 1)
        out.append((_zero_sum(f"{prefix}_{column}", scale, centred[f"{prefix}_{column}"],
                              column), index))
    return out


def _column_effects(prefix: str, lay: parts.Layout, scale_sd: float, centred: dict):
    """Sum over stratum columns of one partially pooled effect per level, per stratum."""
    return sum((effect[index] for effect, index in
                _column_parts(prefix, lay, scale_sd, centred)), 0.0)


def _dependence(terms: rates.Terms, table, lay, priors, centred) -> rates.Terms:
    """``terms`` with the two-way terms added: h[s] + g_jk (+ per-stratum deviations)."""
    het = pm.Normal("heterogeneity_mean", 0.0, priors.heterogeneity_sd)
    effects = _column_parts("heterogeneity", lay, priors.heterogeneity_scale_sd, centred)
    columns = tuple((b, e, i) for (b, _, i), (e, _) in zip(terms.columns, effects))
    terms = replace(terms, heterogeneity=het, columns=columns)
    pm.Deterministic("heterogeneity", terms.heterogeneity_by_stratum(), dims="stratum")
    tau = pm.HalfNormal("dependence_scale", priors.interaction_scale_sd)
    if centred["dependence"]:  # tau ~ 1: as loglinear, centred on overlaps >= 10
        pair = pm.ZeroSumNormal("dependence", sigma=tau, dims="pair")
    else:
        pair = pm.Deterministic("dependence", tau * pm.ZeroSumNormal(
            "dependence_z", sigma=1.0, dims="pair"), dims="pair")
    deviation = None
    if priors.stratum_dependence:
        scale = pm.HalfNormal("stratum_dependence_scale", priors.stratum_dependence_sd)
        deviation = _pooled("stratum_dependence", scale, centred["stratum_dependence"],
                            ("stratum", "pair"), store=False)
    return replace(terms, dependence=pair, deviation=deviation)


def _reporting(lay, priors, centred, count, expected_n, residual_df: int):
    """official[s] ~ Poisson(r[s] E[N[s]]), logit r = intercept + column effects + residual."""
    logit = pm.Normal("reporting_intercept", -2.0, priors.reporting_intercept_sd)
    logit = logit + _column_effects("reporting", lay, priors.reporting_scale_sd, centred)
    scale = _pooling_scale("reporting_residual_scale", 0.5 * priors.reporting_scale_sd,
                           residual_df)
    logit = logit + _pooled("reporting_residual", scale, centred["reporting_residual"],
                            "stratum", store=False)
    rate = pm.Deterministic("reporting_rate", pm.math.sigmoid(logit), dims="stratum")
    pm.Poisson("official", mu=rate * expected_n, observed=count, dims="stratum")


def _aggregates(model, aggregates, priors, centre, expected_n):
    """Margins of aggregate-only sources: count[g] ~ Poisson(r[g] sum_{s in g} E[N[s]]).

    logit r[g] = the source's logit typical rate (``aggregate_rate``, dim ``source``) + a
    group residual pooled with one learned scale per source (absent for a single total).
    """
    names = [a.name for a in aggregates]
    unknown = sorted(set(dict(priors.aggregate_rate)) - set(names))
    if unknown:
        raise InputError(f"[priors] aggregate_rate names source '{unknown[0]}', but the "
                         f"aggregate sources are {', '.join(names)}")
    model.add_coord("source", names)
    model.add_coord("aggregate_group", [f"{a.name}:{g}" for a in aggregates for g in a.groups])
    mean, sd = (np.array([dict(priors.aggregate_rate).get(
        n, (priors.aggregate_intercept_mean, priors.aggregate_intercept_sd))[i] for n in names])
        for i in (0, 1))
    typical = pm.Normal("aggregate_logit", mean, sd, dims="source")
    pm.Deterministic("aggregate_rate", pm.math.sigmoid(typical), dims="source")
    source = np.concatenate([np.full(len(a.groups), i) for i, a in enumerate(aggregates)])
    count = np.concatenate([a.count for a in aggregates])
    logit = typical[source]
    several = np.concatenate([np.full(len(a.groups), len(a.groups) > 1) for a in aggregates])
    if several.any():
        scale = pm.HalfNormal("aggregate_residual_scale", priors.aggregate_scale_sd,
                              dims="source")
        residual = _pooled("aggregate_residual", scale[source], centre(count, PAIRWISE),
                           "aggregate_group", store=False)
        logit = logit + pt.where(several, residual, 0.0)
    rate = pm.Deterministic("aggregate_group_rate", pm.math.sigmoid(logit),
                            dims="aggregate_group")
    # Each stratum adds its E[N] to its group's total (a scatter-add, not a dense product).
    offset = np.cumsum([0] + [len(a.groups) for a in aggregates])[:-1]
    strata = np.concatenate([np.flatnonzero(a.member >= 0) for a in aggregates])
    group = np.concatenate([o + a.member[a.member >= 0] for o, a in zip(offset, aggregates)])
    total = pt.inc_subtensor(pt.zeros(len(count))[group], expected_n[strata])
    pm.Poisson("aggregate", mu=rate * total, observed=count, dims="aggregate_group")
