"""The SYNTHETIC Russia example (darkfigure.russia, scripts/make_russia_lists.py).

Claims: the generator reproduces its calibration targets from published_figures.csv within
the stated tolerances (fixed seed); the committed files are exactly what the script writes;
they pass darkfigure's table validation and hash checks; everything is named SYNTHETIC.
"""

import csv
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest

from darkfigure import russia, russia_files
from darkfigure.errors import InputError
from darkfigure.provenance import sha256_file
from darkfigure.runcard import read_card
from darkfigure.stratadata import read_aggregate, read_coverage, read_official
from darkfigure.tables import read_table

ROOT = Path(__file__).parents[1]
SYNTH = ROOT / "data/raw/russia/synthetic"
FIGURES = ROOT / "data/raw/russia/published_figures.csv"
CARD = ROOT / "models/russia_SYNTHETIC_hierarchical.toml"
SEED = 20261123
#: relative tolerance per list-size target: Poisson noise of a calibrated expectation
#: (about 2 / sqrt(count)) plus slack for heterogeneity
RELATIVE = {"court": 0.10, "ngo": 0.10, "register": 0.06, "ctdc": 0.05}


@pytest.fixture(scope="module")
def world():
    return russia.generate(SEED)


@pytest.fixture(scope="module")
def regenerated(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("russia")
    return russia_files.write_all(world, out)


def test_targets_cite_rows_of_published_figures():
    ids = {row["id"]: float(row["value"]) for row in csv.DictReader(FIGURES.open())}
    for key, (_, cited, _) in russia.TARGETS.items():
        for figure in cited.split(" + "):
            assert figure in ids, f"target {key} cites {figure}, not in published_figures.csv"
    assert ids["tbp_cases_other_articles"] + ids["tbp_cases_art127_2"] == \
        russia.TARGETS["court"][0]
    assert sum(russia.OFFICIAL_BY_DISTRICT) == ids["tbp_cases_art127_2"]


def test_list_sizes_hit_their_targets(world):
    got = russia.check(world)
    for key, tolerance in RELATIVE.items():
        target = russia.TARGETS[key][0]
        assert abs(got[key] - target) <= tolerance * target, \
            f"{key}: {got[key]} vs {target} ({russia.TARGETS[key][1]}) beyond {tolerance:.0%}"


def test_court_and_official_reproduce_the_study(world):
    got = russia.check(world)
    share = got["court_sexual"] / got["court"]
    assert abs(share - 811 / 933) <= 0.03, f"sexual exploitation share of verdicts {share:.3f}"
    assert got["official"] == 53 and got["official_sexual"] == 2
    assert 15 <= got["court_per_official"] <= 20, \
        f"court / official = {got['court_per_official']:.1f}; the study says 17 (880/53 = 16.6)"
    by_district = np.bincount(world.district, weights=world.official, minlength=8)
    south, volga = got["official_south"], got["official_volga"]
    others = [by_district[d] for d, name in enumerate(russia.DISTRICTS)
              if name not in ("Southern", "North Caucasian", "Volga")]
    assert (south, volga) == (17, 15) and max(others) < volga, \
        f"south {south}, Volga {volga}, others {others}: the study ranks south > Volga > rest"
    by_sector = np.bincount(world.sector, weights=world.official, minlength=9)
    top = {russia.SECTORS[i] for i in np.argsort(by_sector)[-2:]}
    assert top == {"agriculture", "domestic work"}, f"most common Art. 127.2 sectors: {top}"


def test_regional_forms_of_exploitation_and_victims(world):
    n = russia.stratum_counts(world)
    share = n / n.sum(axis=1, keepdims=True)
    national = n.sum(axis=0) / n.sum()
    for district, sector in [("Southern", "agriculture"), ("Northwestern", "fishing"),
                             ("Siberian", "logging"),
                             ("North Caucasian", "manufacturing and brick works")]:
        d, s = russia.DISTRICTS.index(district), russia.SECTORS.index(sector)
        assert share[d, s] > 1.5 * national[s], f"{sector} not over-represented in {district}"
    sexual = world.sector == 0
    assert world.female[sexual].all(), "the study's Art. 240 survivors are all female"
    assert 7_000 <= n.sum() < 794_000, "N between the 7,000 lower bound and the GSI figures"
    assert not (world.official & (world.captured[:, 0] == 0)).any(), \
        "every registered Art. 127.2 case must be among the court records"


def test_committed_files_equal_a_fresh_run(regenerated):
    manifest = tomllib.loads((SYNTH / "MANIFEST.toml").read_text("utf-8"))["files"]
    assert set(manifest) == set(regenerated), "MANIFEST.toml and the script's files differ"
    for name, path in regenerated.items():
        assert manifest[name]["source"].endswith(f"--seed {SEED}")
        assert sha256_file(path) == manifest[name]["sha256"] == sha256_file(SYNTH / name), \
            f"{name}: committed file is not what scripts/make_russia_lists.py writes"
    on_disk = {p.name for p in SYNTH.iterdir()} - {"README.md", "MANIFEST.toml"}
    assert on_disk == set(manifest), f"unregistered files: {on_disk - set(manifest)}"


def test_files_pass_table_validation_and_match_truth():
    card, _ = read_card(CARD)
    table = read_table(ROOT / card.table, list(card.lists), list(card.strata))
    official = read_official(ROOT / card.official, table)
    coverage = read_coverage(ROOT / card.coverage, table)
    assert len(table.stratum_labels) == 8 * 9 and table.lists == russia.LISTS
    assert int(coverage.sel(list="ngo").sum()) == 9 * len(russia.NGO_DISTRICTS)
    ctdc = read_aggregate(SYNTH / "SYNTHETIC_ctdc_aggregate.csv", table, "ctdc")
    assert ctdc.columns == ("sector",) and len(ctdc.groups) == len(russia.SECTORS)
    truth = {f"{r['district']}|{r['sector']}": r for r in csv.DictReader(
        (SYNTH / "SYNTHETIC_truth.csv").open())}
    observed = table.observed
    for label in table.stratum_labels:
        assert int(observed.sel(stratum=label)) == int(truth[label]["observed"]), label
        assert int(official.sel(stratum=label)) == int(truth[label]["official"]), label
    assert sum(int(r["N"]) for r in truth.values()) == russia.Calibration().n_people


def test_a_changed_file_fails_the_hash_check(tmp_path):
    copy = tmp_path / "synthetic"
    shutil.copytree(SYNTH, copy)
    path = copy / "SYNTHETIC_russia_capture.csv"
    path.write_text(path.read_text().replace(",1\n", ",2\n", 1))
    with pytest.raises(InputError, match="sha256"):
        read_table(path, ["court", "ngo", "register"], ["district", "sector"])


def test_every_output_says_synthetic(regenerated):
    card, _ = read_card(CARD)
    names = [card.name, str(card.table), str(card.official), str(card.coverage)]
    names += [p.name for p in regenerated.values()]
    assert all("SYNTHETIC" in name for name in names), names
    for name in russia_files.FILES.values():
        rows = list(csv.DictReader((SYNTH / name).open(encoding="utf-8")))
        assert rows and all(r["SYNTHETIC"] == "synthetic" for r in rows), name
