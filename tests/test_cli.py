"""The command line: estimate's files and exit codes, fit from a run card, reproduce."""

import csv
import json

import numpy as np
import pytest

from conftest import SMALL, STRATIFIED
from darkfigure import cli
from darkfigure.io import read_posterior

QUICK = ["--draws", "300", "--tune", "300", "--chains", "2", "--quiet", "--seed", "3"]
COLUMNS = ["observed", "N_mean", "N_q025", "N_q05", "N_median", "N_q95", "N_q975"]


def rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def stratified_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    table, official = base / "t.csv", base / "official.csv"
    table.write_text(STRATIFIED)
    official.write_text("region,official\nnorth,12\nsouth,0\n")
    out = base / "out"
    code = cli.main(["estimate", str(table), "--out", str(out), "--official", str(official)]
                    + QUICK)
    return code, out


def test_estimate_writes_the_three_files_with_design_columns(stratified_run):
    code, out = stratified_run
    assert code in (0, 3), f"exit {code}"
    got = rows(out / "estimates.csv")
    ratio = ["ratio_mean", "ratio_q025", "ratio_q05", "ratio_median", "ratio_q95", "ratio_q975"]
    assert list(got[0]) == ["region"] + COLUMNS + ["official"] + ratio
    assert [r["region"] for r in got] == ["north", "south", "ALL"]
    diag = json.loads((out / "diagnostics.json").read_text())
    assert {"converged", "max_rhat", "min_ess_bulk_N", "divergences", "seconds"} <= set(diag)
    assert code == (0 if diag["converged"] else 3), "exit code must follow convergence"


def test_total_row_comes_from_the_joint_draws(stratified_run):
    _, out = stratified_run
    total = rows(out / "estimates.csv")[-1]
    draws = read_posterior(out / "posterior.nc")["posterior"]["N"].values.sum(axis=-1)
    assert float(total["N_median"]) == pytest.approx(np.median(draws), abs=0.6)
    assert float(total["N_q975"]) == pytest.approx(np.quantile(draws, 0.975), abs=0.6)
    assert int(total["observed"]) == 102 + 46


def test_ratio_is_empty_where_nothing_was_recorded(stratified_run):
    _, out = stratified_run
    north, south, _ = rows(out / "estimates.csv")
    assert float(north["ratio_median"]) == pytest.approx(float(north["N_median"]) / 12, rel=0.01)
    assert south["official"] == "0" and south["ratio_median"] == "", "no multiplier over 0"


def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("A,B,C,count\n1,0,0,3\n0,1,0,-3\n")
    out = tmp_path / "out"
    assert cli.main(["estimate", str(bad), "--out", str(out)] + QUICK) == 2
    assert "bad.csv line 3 column count: -3 is negative" in capsys.readouterr().err
    assert not out.exists(), "bad input must leave nothing behind"


def test_unknown_model_is_bad_input(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text(SMALL)
    code = cli.main(["estimate", str(table), "--out", str(tmp_path / "o"), "--model", "nope"])
    assert code == 2 and "unknown model 'nope'" in capsys.readouterr().err


def test_unconverged_fit_exits_3_with_outputs_flagged(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text(SMALL)
    out = tmp_path / "out"
    code = cli.main(["estimate", str(table), "--out", str(out), "--draws", "20", "--tune",
                     "20", "--chains", "2", "--quiet"])
    assert code == 3, "20 draws cannot reach ESS 200: must be flagged"
    assert json.loads((out / "diagnostics.json").read_text())["converged"] is False
    assert (out / "posterior.nc").exists() and (out / "estimates.csv").exists()


def test_fit_from_a_run_card_and_reproduce_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.csv").write_text(SMALL)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "small.toml").write_text(
        '[run]\nmodel = "loglinear"\nseed = 4\n[data]\ntable = "t.csv"\n'
        '[sampler]\ndraws = 300\ntune = 300\nchains = 2\n')
    assert cli.main(["fit", "models/small.toml", "--quiet"]) in (0, 3)
    assert (tmp_path / "results" / "small.nc").exists()
    capsys.readouterr()
    assert cli.main(["reproduce", "results/small.nc", "--quiet"]) == 0
    assert "identical draws" in capsys.readouterr().out


def test_no_number_is_printed_where_n_has_no_estimate(tmp_path):
    """Korea's table: the two-way model's MLE of N does not exist (Silverman et al.)."""
    from conftest import BENCHMARKS

    out = tmp_path / "korea"
    code = cli.main(["estimate", str(BENCHMARKS / "korea3.csv"), "--out", str(out)] + QUICK)
    assert code == 3, "an inestimable N must not exit 0"
    (row,) = rows(out / "estimates.csv")
    assert row["N_median"] == "" and row["N_q975"] == "", f"printed {row}"
    diag = json.loads((out / "diagnostics.json").read_text())
    assert diag["estimable"] is False and "does not exist" in " ".join(diag["notes"])
