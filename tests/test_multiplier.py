"""The multiplier family: court-recorded cases per official case from published counts."""

import csv
import json

import numpy as np
import pytest

from darkfigure import cli, figures
from darkfigure.errors import InputError
from darkfigure.io import read_posterior
from darkfigure.models import multiplier
from darkfigure.provenance import sha256_file
from darkfigure.runcard import parse_card, read_card
from darkfigure.workflow import fit_figures

from conftest import ROOT

FIGURES = ROOT / "data/raw/russia/published_figures.csv"
CARD = ROOT / "models/russia_multiplier.toml"
HEADER = "id,value,unit,period,geography,definition,document,quote\n"


def small_figures(path, official=53, court=880, years=15):
    path.write_text(HEADER + "\n".join([
        f"official,{official},criminal cases,15 years,Russia,registered cases,doc.txt,q",
        f"court,{court},criminal cases,15 years,Russia,cases in verdicts,doc.txt,q",
        f"period,{years},years,15 years,Russia,length of the period,doc.txt,q",
        "share,9,percent,15 years,Russia,a share,doc.txt,q",
        "mean,2,convictions per year,2018 to mid-2022,Russia,annual mean,doc.txt,q",
    ]) + "\n")
    return path


def card_text(path, draws=1000, seed=7, numerator='["court"]', extra=""):
    return f"""[run]
name = "m"
model = "multiplier"
seed = {seed}
[data]
figures = "{path}"
[exposure]
official = "period"
court = "period"
mean = 4.5
[comparisons.court_per_official]
numerator = {numerator}
denominator = ["official"]
{extra}
[sampler]
draws = {draws}
chains = 2
"""


def fit_text(text):
    return fit_figures(parse_card(text))


def test_median_is_the_ratio_of_the_counts(tmp_path):
    tree, diag = fit_text(card_text(small_figures(tmp_path / "f.csv"), draws=4000))
    draws = tree["posterior"]["multiplier"].sel(comparison="court_per_official").values
    median = float(np.median(draws))
    assert median == pytest.approx(880 / 53, rel=0.02), f"median {median:.2f} vs 880/53"
    assert diag["converged"], diag


def test_draws_match_the_closed_form_quantiles(tmp_path):
    tree, _ = fit_text(card_text(small_figures(tmp_path / "f.csv"), draws=20000))
    draws = tree["posterior"]["multiplier"].sel(comparison="court_per_official").values
    exact = tree["comparisons"]["exact_quantile"].sel(comparison="court_per_official").values
    got = np.quantile(draws, multiplier.EXACT_QUANTILES)
    assert np.allclose(got, exact, rtol=0.02), f"Monte Carlo {got} vs closed form {exact}"


def test_interval_widens_with_fewer_counts(tmp_path):
    widths = []
    for official, court in ((53, 880), (5, 88)):
        tree, _ = fit_text(card_text(small_figures(tmp_path / f"f{official}.csv", official,
                                                   court), draws=4000))
        lo, hi = np.quantile(tree["posterior"]["multiplier"].values, [0.025, 0.975])
        widths.append(hi / lo)
    assert widths[1] > 2 * widths[0], f"relative 95% widths {widths}: 10x fewer counts " \
        "must give a much wider interval"


def test_same_seed_same_draws_other_seed_other_draws(tmp_path):
    path = small_figures(tmp_path / "f.csv")
    a = fit_text(card_text(path, draws=200, seed=3))[0]["posterior"]["multiplier"].values
    b = fit_text(card_text(path, draws=200, seed=3))[0]["posterior"]["multiplier"].values
    c = fit_text(card_text(path, draws=200, seed=4))[0]["posterior"]["multiplier"].values
    assert np.array_equal(a, b), "same seed must give identical draws"
    assert not np.array_equal(a, c), "another seed must give other draws"


def test_numerator_holding_the_denominator_adds_one(tmp_path):
    """(880 + 53) / 53 uses the same draw of the 53's rate on both sides: exactly 1 more."""
    text = card_text(small_figures(tmp_path / "f.csv"), draws=500,
                     numerator='["court", "official"]')
    tree, _ = fit_text(text)
    both = tree["posterior"]["multiplier"].values[..., 0]
    rates = tree["posterior"]["rate"]
    alone = (rates.sel(figure="court") / rates.sel(figure="official")).values
    assert np.allclose(both, 1 + alone)


def test_credible_intervals_cover_the_true_ratio(tmp_path):
    """Calibration: over 400 simulated count pairs, the closed-form 95% interval of the
    posterior (whose draws the test above checks) holds the true rate ratio 90-99% of
    the time (Jeffreys' prior has near-nominal frequentist coverage)."""
    path = small_figures(tmp_path / "f.csv")
    truth = {"court": 880 / 15, "official": 53 / 15}
    hits = 0
    for rep in range(400):
        counts = multiplier.simulate(truth, {"court": 15, "official": 15}, seed=rep)
        path = small_figures(tmp_path / "f.csv", counts["official"], counts["court"])
        data = figures.load(path, {"court": "period", "official": "period"},
                            {"c": {"numerator": ["court"], "denominator": ["official"]}})
        lo, hi = multiplier.exact_quantiles(data, multiplier.Priors(), "c", (0.025, 0.975))
        hits += lo <= truth["court"] / truth["official"] <= hi
    assert 0.90 <= hits / 400 <= 0.99, f"coverage {hits / 400:.3f} of nominal 0.95"


def test_unknown_figure_id_names_the_file(tmp_path):
    path = small_figures(tmp_path / "f.csv")
    with pytest.raises(InputError) as err:
        fit_text(card_text(path, numerator='["cuort"]'))
    assert str(path) in str(err.value) and "cuort" in str(err.value)


def test_non_counts_and_missing_periods_are_bad_input(tmp_path):
    path = small_figures(tmp_path / "f.csv")
    with pytest.raises(InputError, match=r"f\.csv line 5 column unit: figure 'share'"):
        fit_text(card_text(path, numerator='["share"]').replace('mean = 4.5', 'share = 1'))
    with pytest.raises(InputError, match="gives no period for 'court'"):
        fit_text(card_text(path).replace('court = "period"\n', ''))
    with pytest.raises(InputError, match="table and figures"):
        parse_card(card_text(path).replace("[data]\n", '[data]\ntable = "t.csv"\n'))


def test_annual_means_enter_as_events_and_are_noted(tmp_path):
    path = small_figures(tmp_path / "f.csv")
    data = figures.load(path, {"court": "period", "mean": 4.5},
                        {"c": {"numerator": ["court"], "denominator": ["mean"]}})
    assert data.counts["mean"] == 9.0
    assert any("different periods" in n for n in data.notes), data.notes
    assert any("annual mean" in n for n in data.notes), data.notes


def test_card_round_trips_through_toml(tmp_path):
    card = parse_card(card_text(small_figures(tmp_path / "f.csv"),
                                extra='description = "plain words"'))
    again = parse_card(card.to_toml())
    assert again == card


def test_fit_writes_the_posterior_file_and_reproduces(tmp_path, monkeypatch):
    card, _ = read_card(CARD)
    text = CARD.read_text().replace("draws = 5000", "draws = 300")
    small = tmp_path / "russia_multiplier.toml"
    small.write_text(text)
    monkeypatch.chdir(ROOT)
    code = cli.main(["fit", str(small), "--results", str(tmp_path), "--quiet"])
    assert code == 0
    tree = read_posterior(tmp_path / "russia_multiplier.nc")
    post = tree["posterior"]["multiplier"]
    assert post.dims == ("chain", "draw", "comparison")
    assert list(post["comparison"].values) == list(card.comparisons)
    recorded = json.loads(tree.attrs["input_sha256"])
    assert recorded == {"data/raw/russia/published_figures.csv": sha256_file(FIGURES)}
    with open(FIGURES, newline="") as handle:
        published = {r["id"]: float(r["value"]) for r in csv.DictReader(handle)}
    ratio = published["tbp_cases_other_articles"] / published["tbp_cases_art127_2"]
    median = float(post.sel(comparison="other_articles_per_art127_2").median())
    assert median == pytest.approx(ratio, rel=0.05)
    assert cli.main(["reproduce", str(tmp_path / "russia_multiplier.nc"), "--quiet"]) == 0
