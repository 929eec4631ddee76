"""Scenario worlds: parsing, truth that agrees with the tables, files in the CSV contracts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from darkfigure import cli, simulate
from darkfigure.errors import InputError
from darkfigure.scenarios import parse_scenario, read_scenario
from darkfigure.stratadata import read_coverage, read_official
from darkfigure.tables import read_table

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml"))


def test_scenario_files_are_shipped_and_parse():
    names = {read_scenario(p).name for p in SCENARIOS}
    for needed in ("independent3", "heterogeneity5", "referral4", "avoidance4",
                   "sparse_strata", "missing_list", "lists10", "region_sector"):
        assert needed in names, f"scenario {needed} is not shipped in scenarios/"
    lists = {read_scenario(p).n_lists for p in SCENARIOS}
    assert {3, 5, 10} <= lists, f"scenarios cover {sorted(lists)} lists, not 3, 5 and 10"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_truth_agrees_with_the_table(path):
    world = simulate.generate(read_scenario(path), seed=7)
    truth = simulate.truth(world)
    observed = world.table.counts.values.sum(axis=1)
    for s, row in enumerate(truth["strata"]):
        assert row["observed"] == observed[s], \
            f"{row['stratum']}: truth says {row['observed']} observed, table has {observed[s]}"
        assert row["hidden"] + row["observed"] == row["N"], \
            f"{row['stratum']}: hidden {row['hidden']} + observed {row['observed']} != N {row['N']}"
        assert row["hidden"] >= 0, f"{row['stratum']}: more observed than exist"
    total = truth["total"]
    assert total["N"] == sum(r["N"] for r in truth["strata"]), "total N is not the sum of strata"
    assert total["observed"] == int(observed.sum()), "total observed disagrees with the table"
    assert json.loads(json.dumps(truth)) == truth, "truth must be plain JSON"


def test_uncovered_list_catches_nobody_where_it_did_not_operate():
    world = simulate.generate(read_scenario(SCENARIOS[0].parent / "missing_list.toml"), 3)
    on_list = world.table.counts.values @ world.table.patterns
    gone = ~world.coverage.values
    assert gone.any(), "missing_list has no uncovered stratum"
    assert (on_list[gone] == 0).all(), "records on a list in a stratum it did not cover"
    assert (on_list[~gone] > 0).all(), "a covered list caught nobody in a 600-person region"


def test_seeds_fix_the_world_and_the_structure():
    scenario = read_scenario(SCENARIOS[0].parent / "region_sector.toml")
    a, b, c = (simulate.generate(scenario, s) for s in (5, 5, 6))
    assert np.array_equal(a.table.counts.values, b.table.counts.values), \
        "the same seed gave different tables"
    assert not np.array_equal(a.table.counts.values, c.table.counts.values), \
        "different replicate seeds gave the same table"
    assert a.parameters == c.parameters, "the structure must not depend on the replicate seed"


def test_independent_lists_catch_at_their_nominal_rates():
    scenario = parse_scenario("""
[scenario]
name = "big"
seed = 1
[population]
size = 200000
[lists]
capture = [0.3, 0.2, 0.1]
""")
    world = simulate.generate(scenario, 0)
    rate = (world.table.counts.values @ world.table.patterns)[0] / world.n_true[0]
    assert np.allclose(rate, [0.3, 0.2, 0.1], atol=0.005), f"capture rates {rate}"
    # Independence: P(A and B) = P(A) P(B).
    both = world.table.counts.values[0] @ (world.table.patterns[:, 0] *
                                           world.table.patterns[:, 1]) / world.n_true[0]
    assert abs(both - 0.06) < 0.003, f"P(A and B) = {both:.4f}, independence says 0.06"


def test_referral_makes_lists_overlap_more():
    text = """
[scenario]
name = "dep"
[population]
size = 100000
[lists]
capture = [0.2, 0.2, 0.2]
[dependence]
"A:B" = %s
"""
    overlap = []
    for g in ("1.5", "-1.5"):
        world = simulate.generate(parse_scenario(text % g), 0)
        p = world.table.patterns
        overlap.append(world.table.counts.values[0] @ (p[:, 0] * p[:, 1]) / world.n_true[0])
    assert overlap[0] > 0.06 > overlap[1], f"P(A and B) with referral/avoidance: {overlap}"


@pytest.mark.parametrize("text, key", [
    ("[scenario]\nname='x'\n[lists]\ncapture=[0.2, 1.2, 0.1]", "capture"),
    ("[scenario]\nname='x'\n[dependence]\n'A:Z' = 1.0", "A:Z"),
    ("[scenario]\nname='x'\n[coverage]\nC = 0.5", "[coverage] C"),
    ("[lists]\nnames=['A','B']", "name"),
    ("[scenario]\nname='x'\n[bogus]\na=1", "bogus"),
])
def test_bad_scenarios_name_the_key(text, key):
    with pytest.raises(InputError) as err:
        parse_scenario(text, path="s.toml")
    assert key in str(err.value) and "s.toml" in str(err.value), \
        f"the message should name the file and {key!r}: {err.value}"


@pytest.mark.parametrize("shape", ["aggregated", "records"])
def test_cli_writes_files_that_read_back(tmp_path, shape):
    path = SCENARIOS[0].parent / "missing_list.toml"
    out = tmp_path / "world"
    code = cli.main(["simulate", str(path), "--out", str(out), "--seed", "2",
                                 "--shape", shape])
    assert code == 0, f"simulate exited {code}"
    world = simulate.generate(read_scenario(path), 2)
    table = read_table(out / "capture.csv", strata=["region"])
    assert table.lists == world.table.lists, f"lists {table.lists} read back"
    for label in world.table.stratum_labels:
        assert np.array_equal(table.counts.sel(stratum=label).values,
                              world.table.counts.sel(stratum=label).values), \
            f"{shape} CSV of stratum {label} does not read back to the same counts"
    official = read_official(out / "official.csv", table)
    assert official.sel(stratum=world.table.stratum_labels).values.tolist() == \
        world.official.values.tolist(), "official counts do not read back"
    coverage = read_coverage(out / "coverage.csv", table)
    assert np.array_equal(coverage.sel(stratum=world.table.stratum_labels).values,
                          world.coverage.values), "coverage does not read back"
    truth = json.loads((out / "truth.json").read_text())
    assert truth["total"]["N"] == int(world.n_true.sum()), "truth.json total N"


def test_cli_bad_scenario_exits_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario]\nname = 'x'\n[lists]\ncapture = [2.0, 0.1, 0.1]\n")
    code = cli.main(["simulate", str(bad), "--out", str(tmp_path / "o")])
    assert code == 2, f"bad scenario exited {code}, not 2"
    assert not (tmp_path / "o").exists(), "output written despite bad input"
