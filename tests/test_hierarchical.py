"""The hierarchical family: construction, coverage aggregation, official counts with zeros,
recovery on a small world with known truth, aggregates and figures.

One joint fit of a 3 x 2 world (compiled once, ~1 minute) serves the sampling tests.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
import xarray as xr
from scipy.stats import poisson

from darkfigure import cli, plotting, summaries
from darkfigure.errors import InputError
from darkfigure.fit import FitInputs, fit
from darkfigure.models import REGISTRY, Family
from darkfigure.models import hierarchical as h
from darkfigure.models import hierarchical_parts as parts
from darkfigure.models import hierarchical_rates as rates
from darkfigure.runcard import RunCard, parse_card
from darkfigure.stratadata import read_aggregate
from darkfigure.tables import CaptureTable

FAMILY = Family("hierarchical", "hierarchical", pools_strata=True)


@pytest.fixture(scope="module")
def world():
    """3 regions x 2 sectors, 4 lists, heterogeneity and dependence; list D did not operate
    in one region; one stratum's official count set to zero."""
    table, official, truth = h.simulate(3, 2, 4, size=250.0, uncovered=0.34,
                                        rng=np.random.default_rng(20261123))
    official = official.copy(data=np.where(np.arange(6) == 5, 0, official.values))
    return table, official, truth


def _fit_world(world, draws: int):
    """The 3 x 2 world fitted jointly, seed 7, 4 chains of ``draws`` + ``draws``."""
    table, official, truth = world
    card = RunCard(name="t", model="hierarchical", seed=7, table=Path("world.csv"),
                   sampler={"draws": draws, "tune": draws, "chains": 4, "target_accept": "auto",
                            "sampler": "nutpie"})
    return fit(card, FitInputs(table, official, truth["coverage"]), progress=False)


@pytest.fixture(scope="module")
def fitted(world, monkeypatch_module):
    monkeypatch_module.setitem(REGISTRY, "hierarchical", FAMILY)
    return _fit_world(world, 500)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_reused_compiled_model_samples_as_a_fresh_compile(world, fitted, monkeypatch):
    """Claim: a second table of the same structure reuses the compiled joint model (only its
    pm.Data change) and gets exactly the draws a fresh compile gives, same seed."""
    import darkfigure.fit as fit_module

    table, official, truth = world
    other = dataclasses.replace(table, counts=table.counts.copy(
        data=table.counts.values + (table.counts.values > 0)))
    args = dict(official=official, coverage=truth["coverage"])
    assert h.structure_key(other, h.Priors(), **args) == \
        h.structure_key(table, h.Priors(), **args), "the perturbed table changed structure"
    assert h.data_for(other, h.Priors(), **args)["cell_total"].sum() > \
        h.data_for(table, h.Priors(), **args)["cell_total"].sum(), "the counts did not change"
    card = RunCard(name="t", model="hierarchical", seed=3, table=Path("world.csv"),
                   sampler={"draws": 100, "tune": 100, "chains": 2, "target_accept": 0.95,
                            "sampler": "nutpie"})
    cached = len(fit_module._COMPILED)
    reused, _ = fit(card, FitInputs(other, official, truth["coverage"]), progress=False)
    assert len(fit_module._COMPILED) == cached, "the same structure was compiled again"
    monkeypatch.setattr(fit_module, "_COMPILED", {})
    fresh, _ = fit(card, FitInputs(other, official, truth["coverage"]), progress=False)
    np.testing.assert_array_equal(reused["posterior"]["N"].values,
                                  fresh["posterior"]["N"].values)
    assert not np.array_equal(reused["posterior"]["N"].values,
                              fitted[0]["posterior"]["N"].values[:2, :100]), \
        "the reused model sampled the first table's data"


def test_jax_sampler_reproduces_its_draws_and_targets_the_same_posterior(world, fitted):
    """Claim: ``sampler = "numpyro"`` (NUTS in JAX, the GPU option) writes the same posterior
    variables and diagnostics as nutpie, gives the same draws for the same seed, and samples
    the same posterior: its median total N lies inside nutpie's central 50% interval."""
    pytest.importorskip("numpyro")
    table, official, truth = world
    card = RunCard(name="t", model="hierarchical", seed=11, table=Path("world.csv"),
                   sampler={"draws": 150, "tune": 150, "chains": 2, "target_accept": 0.95,
                            "sampler": "numpyro"})
    inputs = FitInputs(table, official, truth["coverage"])
    (first, diagnostics), (second, _) = (fit(card, inputs, progress=False) for _ in range(2))
    np.testing.assert_array_equal(first["posterior"]["N"].values,
                                  second["posterior"]["N"].values)
    assert first["posterior"]["N"].dims == ("chain", "draw", "stratum")
    assert {"divergences", "max_rhat", "min_ess_bulk_N"} <= set(diagnostics)
    lo, hi = fitted[0]["posterior"]["N"].sum("stratum").quantile([0.25, 0.75]).values
    median = float(first["posterior"]["N"].sum("stratum").median())
    assert lo <= median <= hi, f"JAX median total {median:.0f} outside nutpie's [{lo}, {hi}]"


def test_model_has_named_dims_and_contract_variables(world):
    table, official, truth = world
    model = h.build(table, h.Priors(), official=official, coverage=truth["coverage"])
    dims = model.named_vars_to_dims
    for name in ("missing_rate", "reporting_rate", "heterogeneity", "abundance_residual"):
        assert dims[name] == ("stratum",), f"{name} has dims {dims.get(name)}"
    assert dims["dependence"] == ("pair",), f"dependence has dims {dims['dependence']}"
    assert list(model.coords["region"]) == ["R01", "R02", "R03"], "region levels lost"
    assert list(model.coords["sector"]) == ["S01", "S02"], "sector levels lost"
    logp = model.compile_logp()(model.initial_point())
    assert np.isfinite(logp), f"log density {logp} at the initial point is not finite"


def test_official_count_past_int32_is_refused_not_wrapped(world):
    """PyMC holds integer data as int32: a count past that would wrap silently, so the model
    refuses it with a clear error instead."""
    table, official, truth = world
    huge = official.copy(data=np.where(np.arange(6) == 0, 3_000_000_000, official.values))
    with pytest.raises(InputError, match="3,000,000,000"):
        h.build(table, h.Priors(), official=huge, coverage=truth["coverage"])


def test_parameterisation_is_overridable(world):
    table, _, _ = world
    names = {p: {v.name for v in h.build(table, h.Priors(parameterisation=p)).free_RVs}
             for p in ("centred", "noncentred")}
    assert "log_observed_offset" in names["centred"] and \
        "abundance_residual_z" not in names["centred"], "centred did not centre the residual"
    assert "abundance_residual_z" in names["noncentred"] and \
        "log_observed_offset" not in names["noncentred"], "noncentred left a centred residual"
    with pytest.raises(ValueError, match="parameterisation"):
        h.build(table, h.Priors(parameterisation="sideways"))


def test_between_variance_matches_the_closed_form_and_bounds_it_below():
    """Claim: with equal sampling variances v and an intercept only, the Paule-Mandel
    estimate has the closed form (sample variance - v), and the Q-profile lower bound lies
    below it; estimates that scatter no more than their noise give 0 for both."""
    rng = np.random.default_rng(11)
    y = rng.normal(0.0, np.sqrt(0.04 + 0.25), 60)
    ones = np.ones((60, 1))
    estimate = parts.between_variance(y, np.full(60, 0.04), ones)
    closed = y.var(ddof=1) - 0.04
    assert np.isclose(estimate, closed, rtol=1e-6), f"Paule-Mandel {estimate} != {closed}"
    lower = parts.between_variance(y, np.full(60, 0.04), ones, 0.95)
    assert 0.0 < lower < estimate, f"lower bound {lower} outside (0, {estimate})"
    flat = np.zeros(60)
    assert parts.between_variance(flat, np.full(60, 0.04), ones) == 0.0 and \
        parts.between_variance(flat, np.full(60, 0.04), ones, 0.95) == 0.0, \
        "estimates with no scatter must give tau^2 = 0"
    # The additive design absorbs what it explains: a pure column effect leaves no residual.
    table, _, _ = h.simulate(4, 3, 3, rng=np.random.default_rng(2))
    lay = parts.layout(table)
    design = parts.additive_design(lay, 12)
    additive = design @ rng.normal(0.0, 1.0, design.shape[1])
    assert parts.between_variance(additive, np.full(12, 0.01), design) == 0.0, \
        "an exactly additive pattern has no between-stratum residual"


def test_reporting_residual_centred_only_where_the_rates_really_differ():
    """Claim: 'auto' centres a stratum's reporting residual only when the official rates
    scatter beyond their Poisson noise (a centred effect at a scale near 0 is a funnel)."""
    table, _, _ = h.simulate(8, 6, 4, size=2000.0, rng=np.random.default_rng(5))
    records = table.observed.values
    labels = {"stratum": table.stratum_labels}
    steady = xr.DataArray(np.round(0.2 * records).astype(int), dims="stratum", coords=labels)
    plan = h.plan(table, h.Priors(), official=steady)
    assert not plan.centred["reporting_residual"].any(), \
        "one reporting rate everywhere: no residual may be centred"
    rates = np.random.default_rng(6).uniform(0.02, 0.6, len(records))
    varied = steady.copy(data=np.round(rates * records).astype(int))
    plan = h.plan(table, h.Priors(), official=varied)
    big = varied.values >= 100
    assert plan.centred["reporting_residual"][big].mean() > 0.9, \
        "rates from 2% to 60% on counts >= 100: those residuals are pinned by the data"


def _tiny():
    """Two strata, lists A, B, C; C did not operate in the second stratum."""
    #            001 010 011 100 101 110 111
    counts = [[4, 6, 2, 9, 3, 5, 1],
              [0, 7, 0, 8, 0, 4, 0]]
    table = CaptureTable.from_array(counts, ["A", "B", "C"], {"region": ["x", "y"]})
    coverage = xr.DataArray([[True, True, True], [True, True, False]], dims=("stratum", "list"),
                            coords={"stratum": table.stratum_labels, "list": ["A", "B", "C"]})
    return table, coverage


def test_log_size_is_chapmans_estimate_from_the_largest_list():
    """Hand-checked: stratum 1 has A = 18 (largest), 9 of them on A alone, 30 records, so the
    other lists hold n2 = 21 and m = 9 are on both: N + 1 = 19 * 22 / 10 and var(log) =
    9 * 12 / (19 * 22 * 11). Stratum 2 (C did not operate): A = 12, 8 alone, 19 records:
    N + 1 = 13 * 12 / 5, var = 8 * 7 / (13 * 12 * 6). One list alone measures nothing."""
    table, coverage = _tiny()
    covered = parts.coverage_mask(table, coverage)
    log_n, variance = parts.log_size(table, parts.information(table, covered), covered)
    np.testing.assert_allclose(np.exp(log_n), [19 * 22 / 10, 13 * 12 / 5])
    np.testing.assert_allclose(variance, [9 * 12 / (19 * 22 * 11), 8 * 7 / (13 * 12 * 6)])
    alone = covered & np.array([True, False, False])
    assert (parts.log_size(table, parts.information(table, alone), alone)[1]
            == parts.NO_SIZE_VARIANCE).all()


def test_reporting_columns_not_centred_where_three_lists_leave_n_uncertain():
    """Claim: with 3 lists, N's uncertainty (shared by a level's strata) keeps the reporting
    column effects non-centred; centred, they diverged in this world (3 divergences at
    reporting_region_scale ~0.008, 4 x 1000 draws). With 5 lists and the same rates, N is
    pinned down and the region effect is centred."""
    table, official, _ = h.simulate(8, 6, 3, rng=np.random.default_rng(1))
    plan = h.plan(table, h.Priors(), official=official)
    assert not plan.centred["reporting_region"] and not plan.centred["reporting_sector"]
    table, official, _ = h.simulate(8, 6, 5, rng=np.random.default_rng(1))
    assert h.plan(table, h.Priors(), official=official).centred["reporting_region"]


def _design(n_lists):
    """(full pattern, list) effect-coded indicators and (full pattern, pair) their products,
    written from the model's formula rather than taken from the module under test."""
    x = parts.full_patterns(n_lists) - 0.5
    return x, np.stack([x[:, i] * x[:, j] for i, j in
                        itertools.combinations(range(n_lists), 2)], axis=1)


def _terms(n_strata, n_lists, index, rng):
    """Numeric `hierarchical_rates.Terms` over one stratum column, and the same terms as a
    dense numpy (stratum, full pattern) array of log mu - level, written from the model's
    formula (not from the module's code)."""
    x, p = _design(n_lists)
    pairs, n_levels = p.shape[1], index.max() + 1
    b0, bc = rng.normal(-1, 0.5, n_lists), rng.normal(0, 0.4, (n_lists, n_levels))
    h0, hc, g = rng.normal(0.2, 0.1), rng.normal(0, 0.2, n_levels), rng.normal(0, 0.5, pairs)
    terms = rates.Terms(n_strata, n_lists, pt.as_tensor(b0), ((pt.as_tensor(bc),
                        pt.as_tensor(hc), index),), pt.as_tensor(h0), pt.as_tensor(g))
    return terms, (b0 + bc[:, index].T) @ x.T + (h0 + hc[index])[:, None] * p.sum(axis=1) + p @ g


def test_uncovered_list_aggregates_cells_over_its_indicator():
    table, coverage = _tiny()
    cells = parts.cells(table, parts.coverage_mask(table, coverage))
    assert list(cells.partial) == [1], "only stratum y lacks a list"
    # Stratum y (partial row 0): observable cells 010, 100, 110 on A/B; each sums C = 0, 1.
    rows = sorted(tuple(sorted(r[w > 0])) for r, w in zip(cells.part_index, cells.part_weight))
    assert rows == [(2, 3), (4, 5), (6, 7)], f"aggregation classes {rows}, expected " \
        "full patterns {010,011}, {100,101}, {110,111}"
    assert list(cells.missing_mask[0]) == [1, 1, 0, 0, 0, 0, 0, 0], \
        "stratum y's missing cell must be 000 and 001 (nobody on a list that operated)"
    assert cells.total.tolist() == [30, 0], "stratum x enters by its statistics, y by cells"
    assert cells.margin[0].tolist() == [(18 - 12) / 2, (14 - 16) / 2, (10 - 20) / 2], \
        "margin = sum y (x - 1/2): half of (on the list - not on it)"

    rng = np.random.default_rng(3)
    terms, dense = _terms(2, 3, np.array([0, 1]), rng)
    level = rng.normal(2.0, 0.5, 2)
    rate = rates.rates(terms, cells, rates.Patterns.of(3))
    loglik = rates.loglik(pt.as_tensor(level), terms, cells, rate).eval()
    missing = (pt.exp(level) * rate.missing).eval()
    mu = np.exp(level[:, None] + dense)
    expected = poisson.logpmf(table.counts.values[0], mu[0, 1:]).sum()
    collapsed = mu[1, 0::2] + mu[1, 1::2]          # sum over C for patterns AB = 00..11
    expected += poisson.logpmf([7, 8, 4], collapsed[1:]).sum()
    assert np.isclose(loglik, expected), f"log-likelihood {loglik} != {expected} from the " \
        "collapsed table: uncovered cells not marginalised"
    assert np.allclose(missing, [mu[0, 0], mu[1, 0] + mu[1, 1]]), \
        f"missing rates {missing}: stratum y must count people only C could have caught"


@pytest.mark.parametrize("columns", [1, 2, 3])
@pytest.mark.parametrize("deviation", [False, True])
def test_factorised_normaliser_is_the_sum_over_every_pattern(columns, deviation):
    """log Z[s] = log sum_q exp(log mu[s, q] - level[s]) over all 2^K patterns, computed by
    the column factorisation (or densely with per-stratum deviations), equals the plain sum,
    with one, two and three stratum columns (5 lists, 12 strata, random terms, seed 11)."""
    rng = np.random.default_rng(11)
    n_lists, levels = 5, [(12,), (4, 3), (2, 3, 2)][columns - 1]
    index = np.stack(np.unravel_index(np.arange(12), levels), axis=1)
    x, p = _design(n_lists)
    b0, g, h0 = rng.normal(-1, .5, n_lists), rng.normal(0, .5, p.shape[1]), 0.3
    b = [rng.normal(0, 0.4, (n_lists, n)) for n in levels]
    h = [rng.normal(0, 0.2, n) for n in levels]
    d = rng.normal(0, 0.3, (12, p.shape[1])) if deviation else None
    terms = rates.Terms(12, n_lists, pt.as_tensor(b0), tuple(
        (pt.as_tensor(b[c]), pt.as_tensor(h[c]), index[:, c]) for c in range(columns)),
        pt.as_tensor(h0), pt.as_tensor(g), None if d is None else pt.as_tensor(d))
    capture = b0 + sum(b[c][:, index[:, c]].T for c in range(columns))
    het = h0 + sum(h[c][index[:, c]] for c in range(columns))
    dense = capture @ x.T + het[:, None] * p.sum(axis=1) + p @ g + (0 if d is None else d @ p.T)
    got = rates.log_normaliser(terms, rates.Patterns.of(n_lists)).eval()
    assert np.allclose(got, np.log(np.exp(dense).sum(axis=1)), rtol=1e-12), \
        f"factorised log Z {got[:3]} != dense {np.log(np.exp(dense).sum(axis=1))[:3]}"


def test_recovers_stratum_sizes(fitted, world):
    tree, diagnostics = fitted
    _, _, truth = world
    n = tree["posterior"]["N"].transpose("chain", "draw", "stratum").values.reshape(-1, 6)
    lo, hi = np.quantile(n, [0.05, 0.95], axis=0)
    inside = (lo <= truth["N"].values) & (truth["N"].values <= hi)
    assert inside.sum() >= 5, f"true N {truth['N'].values} inside 90% intervals " \
        f"[{lo}, {hi}] for only {inside.sum()} of 6 strata"


@pytest.mark.slow
def test_small_world_samples_without_divergences(world, monkeypatch):
    """Claim: 4 x 1000 draws of the 3 x 2 world (seed 7) have no divergence and R-hat <= 1.01.
    Two degrees of freedom leave the abundance residual's scale on its prior: under a
    half-normal it ran from ~0.006 to ~0.4, where no parameterisation suits both ends
    (4 divergences here, 21 at target acceptance 0.95); under the boundary-avoiding Gamma(2)
    the scales of so few groups now get (`h._pooling_scale`), none, R-hat 1.0055. (The
    module's 4 x 500 fit is too short for a 1.01 bound: R-hat 1.009-1.014 on that scale.)"""
    monkeypatch.setitem(REGISTRY, "hierarchical", FAMILY)
    _, diagnostics = _fit_world(world, 1000)
    assert diagnostics["divergences"] == 0, f"{diagnostics['divergences']} divergences"
    assert diagnostics["max_rhat"] <= 1.01, f"max R-hat {diagnostics['max_rhat']}"


def test_target_accept_is_higher_where_a_pooled_effect_has_few_degrees_of_freedom(world):
    """Claim: under "auto" the 3 x 2 world (2 sectors, a residual with 2 degrees of freedom)
    samples at target acceptance 0.99, an 8 x 6 world (5, 7 and 35) at 0.95, and so does one
    stratum column with 8 levels (7, no residual)."""
    table, _, _ = world
    assert h.target_accept(table) == 0.99
    wide, _, _ = h.simulate(8, 6, 3, rng=np.random.default_rng(1))
    assert h.target_accept(wide) == 0.95
    one_column, _, _ = h.simulate(8, 1, 3, rng=np.random.default_rng(1))  # one sector
    assert h.target_accept(one_column) == 0.95


def test_pooling_scale_priors_avoid_zero_only_where_an_effect_has_few_degrees_of_freedom(
        world):
    """Claim: a pooling scale has a prior density vanishing at 0 (Gamma(2), Chung et al.
    2013) with the half-normal's prior mean where its effect has 1-3 degrees of freedom (the
    3 x 2 world: abundance residual 2, regions 2, sectors 1), and keeps the half-normal,
    whose density is largest at 0, where it has 4 or more (capture by sector there: 4 lists
    x 1; every effect of an 8 x 6 world) or none (a residual beside one column of 8 levels,
    one stratum each)."""
    priors = h.Priors()
    sds = {"abundance_residual_scale": priors.abundance_interaction_sd,
           "abundance_region_scale": priors.abundance_scale_sd,
           "abundance_sector_scale": priors.abundance_scale_sd,
           "capture_sector_scale": priors.capture_scale_sd}

    def prior_density(model, name):
        grid = np.linspace(1e-6, 10 * sds[name], 100001)
        return grid, np.exp(pm.logp(model[name], pt.as_tensor(grid)).eval())

    few = h.build(world[0], priors)
    for name in ("abundance_residual_scale", "abundance_region_scale",
                 "abundance_sector_scale"):
        grid, density = prior_density(few, name)
        assert density[0] < 1e-4 * density.max(), f"{name}: density at 0 not ~0"
        mean = np.trapezoid(grid * density, grid) / np.trapezoid(density, grid)
        assert mean == pytest.approx(sds[name] * np.sqrt(2 / np.pi), rel=1e-3), \
            f"{name}: prior mean {mean}, not the half-normal's"
    assert prior_density(few, "capture_sector_scale")[1].argmax() == 0, "capture by sector"
    wide = h.build(h.simulate(8, 6, 3, rng=np.random.default_rng(1))[0], priors)
    one_column = h.build(h.simulate(8, 1, 3, rng=np.random.default_rng(1))[0], priors)
    for model, names in ((wide, sds), (one_column, ["abundance_residual_scale"])):
        for name in names:
            if name in model.named_vars:
                assert prior_density(model, name)[1].argmax() == 0, \
                    f"{name}: the half-normal's density is largest at 0"


def test_zero_official_count_gets_a_rate_but_no_multiplier(fitted, world):
    tree, _ = fitted
    _, official, _ = world
    rate = tree["posterior"]["reporting_rate"].isel(stratum=5).values
    assert np.isfinite(rate).all() and (rate > 0).all() and (rate < 1).all(), \
        "a stratum with no official record must still get a reporting rate in (0, 1)"
    rows = summaries.estimate_rows(tree)
    assert rows[5]["official"] == 0 and rows[5]["ratio_median"] is None, \
        f"multiplier {rows[5]['ratio_median']} printed where nothing was recorded"
    assert rows[0]["ratio_median"] is not None, "multiplier missing where official > 0"
    by_sector = h.aggregate(tree, by="sector")
    assert by_sector["ratio"].dims == ("chain", "draw", "sector"), "ratio dims"
    total = tree["posterior"]["N"].sum("stratum")
    assert (by_sector["N"].sum("sector") == total).all(), \
        "per-sector N draws must add up to the total N in every draw"
    expected = official.values[[0, 2, 4]].sum()
    assert int(by_sector["official"].sel(sector="S01")) == expected, "official sum by sector"


def test_figures_have_labelled_axes(fitted):
    tree, _ = fitted
    figures = {"heatmap N": plotting.heatmap(tree, "N"),
               "heatmap ratio": plotting.heatmap(tree, "ratio"),
               "forest region": plotting.forest(tree, by="region"),
               "forest sector ratio": plotting.forest(tree, by="sector", quantity="ratio")}
    for name, fig in figures.items():
        ax = fig.axes[0]
        assert ax.get_xlabel() and ax.get_ylabel(), f"{name}: unlabelled axes"
    for name in ("heatmap N", "heatmap ratio"):
        colourbar = figures[name].axes[1]
        assert colourbar.get_ylabel(), f"{name}: colour bar without a label"
    assert figures["forest region"].legends, "forest without legend"


def test_simulate_counts_everyone_once():
    table, official, truth = h.simulate(2, 2, 3, rng=np.random.default_rng(1), uncovered=0.5)
    n, observed = truth["N"].values, table.observed.values
    assert (observed <= n).all(), f"observed {observed} exceeds true N {n}"
    assert (official.values <= n).all(), "official counts exceed true N"
    on_c = table.counts.values @ table.patterns[:, 2]
    assert (on_c[~truth["coverage"].values[:, 2]] == 0).all(), \
        "records on a list in strata where it did not operate"


def test_comparison_figures_have_labelled_axes():
    q = {"N_q025": 800.0, "N_q25": 900.0, "N_median": 1000.0, "N_q75": 1100.0, "N_q975": 1300.0}
    rows = [{"variant": v, "model": m, "converged": m == "bma", "skipped": ""} | q
            for v in ("all lists", "without A") for m in ("bma", "loglinear")]
    fig = plotting.sensitivity_figure(rows + [{"variant": "x", "model": "bma",
                                               "skipped": "too few lists"}], title="t")
    assert fig.axes[0].get_xlabel() and fig.axes[0].get_ylabel(), "sensitivity: axes labels"
    bench = [{"table": "uk5", "model": m, "converged": True} | q for m in ("bma", "loglinear")]
    fig = plotting.benchmark_figure(bench, {"uk5": {"estimate": "1000", "lo": "700",
                                                    "hi": "1500"}})
    assert fig.axes[-1].get_xlabel(), "benchmark figure: x axis unlabelled"


# ---- aggregate-only sources (margins) ------------------------------------------------------

def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_aggregate_source_enters_as_a_margin_with_rates_per_source(world, tmp_path):
    table, official, _ = world
    by_region = read_aggregate(_write(tmp_path / "ngo.csv", "region,count\nR01,30\nR02,0\n"),
                               table, "ngo")
    total = read_aggregate(_write(tmp_path / "ctdc.csv", "count\n500\n"), table, "ctdc")
    assert list(by_region.member) == [0, 0, 1, 1, -1, -1], \
        "strata of R03, which the source did not report, must belong to no group"
    model = h.build(table, h.Priors(), official=official, aggregates=(by_region, total))
    dims = model.named_vars_to_dims
    assert dims["aggregate_rate"] == ("source",), f"aggregate_rate dims {dims['aggregate_rate']}"
    assert dims["aggregate_group_rate"] == ("aggregate_group",), "group rate dims"
    assert list(model.coords["source"]) == ["ngo", "ctdc"], "source labels lost"
    assert list(model.coords["aggregate_group"]) == ["ngo:R01", "ngo:R02", "ctdc:all"]
    point = model.initial_point()
    logp = model.compile_logp()(point)
    assert np.isfinite(logp), f"log density {logp} not finite with aggregate sources"
    # The margin's mean is the rate times the summed E[N] of the group's strata.
    outs = model.replace_rvs_by_values([model["aggregate_group_rate"], model["missing_rate"]])
    rate, missing = pytensor.function(model.value_vars, outs, on_unused_input="ignore")(
        *[point[v.name] for v in model.value_vars])
    expected = table.observed.values + missing
    margin = model.compile_logp(vars=[model["aggregate"]])(point)
    gap = margin - poisson.logpmf(
        [30, 0, 500], rate * [expected[:2].sum(), expected[2:4].sum(), expected.sum()]).sum()
    assert abs(gap) < 1e-6, f"aggregate likelihood differs from the margin by {gap}"


@pytest.mark.parametrize("text, problem", [
    ("region,count\nR09,3\n", "line 2 column region: 'R09' is not a level of region"),
    ("region,count\nR01,-3\n", "line 2 column count: -3 is negative"),
    ("region,year,count\nR01,2020,3\n", "line 1: column 'year' is not a stratum column"),
    ("region,n\nR01,3\n", "line 1: column 'count' is missing"),
    ("region,count\nR01,3\nR01,4\n", "line 3: group R01 appears twice"),
])
def test_bad_aggregate_input_names_file_line_and_problem(world, tmp_path, text, problem):
    table, _, _ = world
    path = _write(tmp_path / "agg.csv", text)
    with pytest.raises(InputError, match=problem):
        read_aggregate(path, table, "agg")


def test_aggregate_sources_in_run_cards_and_flags(tmp_path, capsys):
    card = parse_card('[run]\nmodel = "hierarchical"\n[data]\ntable = "t.csv"\n'
                      'aggregates = ["x/ctdc.csv", "y/ngo.csv"]\n'
                      '[priors]\naggregate_rate = {ctdc = {lower = 0.02, upper = 0.1}}\n')
    assert card.aggregates == (("ctdc", Path("x/ctdc.csv")), ("ngo", Path("y/ngo.csv"))), \
        f"aggregates {card.aggregates}: sources must be named by their file stems"
    again = parse_card(card.to_toml())
    assert again.aggregates == card.aggregates and again.priors == card.priors, \
        "the card written into the posterior file must read back to the same sources"
    with pytest.raises(InputError, match="two sources are named 'ctdc'"):
        parse_card('[run]\nmodel = "h"\n[data]\ntable = "t.csv"\n'
                   'aggregates = ["a/ctdc.csv", "b/ctdc.csv"]\n')
    mean, sd = dict(h.Priors(aggregate_rate={"ctdc": {"lower": 0.02, "upper": 0.1}})
                    .aggregate_rate)["ctdc"]
    assert np.isclose(1 / (1 + np.exp(-(mean - 1.6449 * sd))), 0.02), "90% interval lost"
    table = tmp_path / "t.csv"
    table.write_text("region,A,B,C,count\nx,1,0,0,5\nx,0,1,0,4\nx,1,1,0,2\nx,0,0,1,3\n"
                     "x,1,0,1,1\n")
    out = tmp_path / "out"
    code = cli.main(["estimate", str(table), "--out", str(out), "--model", "hierarchical",
                     "--aggregate", str(_write(tmp_path / "a.csv", "region,count\nz,4\n")),
                     "--quiet"])
    assert code == 2 and not out.exists(), "bad aggregate file must exit 2 and write nothing"
    assert "a.csv line 2 column region" in capsys.readouterr().err, "error must name file/line"
    code = cli.main(["estimate", str(table), "--out", str(out), "--model", "loglinear",
                     "--aggregate", str(_write(tmp_path / "b.csv", "count\n4\n")), "--quiet"])
    assert code == 2 and not out.exists(), "aggregates with a per-stratum model is bad input"


@pytest.fixture(scope="module")
def with_total(world, monkeypatch_module, tmp_path_factory):
    """The `fitted` world again, with a national total of a source catching each person
    with probability 0.5, under a weak default and a strong correct prior on its rate."""
    table, official, truth = world
    monkeypatch_module.setitem(REGISTRY, "hierarchical", FAMILY)
    count = np.random.default_rng(5).binomial(int(truth["N"].sum()), 0.5)
    path = _write(tmp_path_factory.mktemp("agg") / "total.csv", f"count\n{count}\n")
    source = read_aggregate(path, table, "total")
    fits = {}
    for label, priors in (("weak", {}), ("strong", {"aggregate_rate": {
            "total": {"median": 0.5, "logit_sd": 0.02}}})):
        card = RunCard(name="t", model="hierarchical", seed=7, table=Path("world.csv"),
                       priors=priors, sampler={"draws": 500, "tune": 500, "chains": 4,
                                               "target_accept": 0.95, "sampler": "nutpie"})
        fits[label] = fit(card, FitInputs(table, official, truth["coverage"], (source,)),
                          progress=False)[0]
    return fits


def _total_interval(tree):
    total = tree["posterior"]["N"].sum("stratum").values.ravel()
    return np.quantile(total, [0.05, 0.5, 0.95])


def test_rate_prior_decides_what_an_aggregate_source_says_about_n(fitted, with_total, world):
    """With an unknown rate a margin identifies only its rate relative to N; a strongly
    informative correct prior on the rate turns it into information about N."""
    _, _, truth = world
    lo0, med0, hi0 = _total_interval(fitted[0])
    lo1, med1, hi1 = _total_interval(with_total["weak"])
    lo2, med2, hi2 = _total_interval(with_total["strong"])
    width0 = hi0 - lo0
    assert 0.8 <= (hi1 - lo1) / width0 <= 1.2 and abs(med1 - med0) <= 0.15 * width0, \
        f"weak rate prior moved total N: [{lo0:.0f}, {hi0:.0f}] -> [{lo1:.0f}, {hi1:.0f}]"
    # Measured 913 -> 549 (60%): the Poisson margin's variance r N exceeds the Binomial's
    # r (1 - r) N, so at r = 0.5 a source is worth about half the records it holds.
    assert (hi2 - lo2) <= 0.75 * width0, \
        f"strong correct rate prior did not narrow total N: width {width0:.0f} -> {hi2 - lo2:.0f}"
    n = int(truth["N"].sum())
    assert lo2 <= n <= hi2, f"true total {n} outside [{lo2:.0f}, {hi2:.0f}] with the strong prior"
    rate = with_total["weak"]["posterior"]["aggregate_rate"].values.ravel()
    assert abs(np.median(rate) - 0.5) < 0.1, \
        f"the source's rate relative to N should be identified near 0.5, got {np.median(rate)}"
