"""Plain-language reports: numbers as in estimates.csv, banners and warnings where due.

Tiny fits use the `bma` family (exact draws, no compilation), so a stratified fit with
official counts and coverage takes seconds; too few draws make it fail the convergence check.
"""

import csv
import json

import pytest

from darkfigure import cli, report

TABLE = """region,sector,A,B,C,count
north,farm,1,0,0,30
north,farm,0,1,0,25
north,farm,0,0,1,20
north,farm,1,1,0,10
north,farm,1,0,1,8
north,farm,0,1,1,6
north,farm,1,1,1,3
north,sex,1,0,0,12
north,sex,0,1,0,15
north,sex,0,0,1,9
north,sex,1,1,0,4
north,sex,1,0,1,3
north,sex,0,1,1,2
north,sex,1,1,1,1
south,farm,1,0,0,22
south,farm,0,1,0,14
south,farm,1,1,0,5
south,sex,1,0,0,40
south,sex,0,1,0,35
south,sex,0,0,1,31
south,sex,1,1,0,9
south,sex,1,0,1,8
south,sex,0,1,1,7
south,sex,1,1,1,2
"""
OFFICIAL = "region,sector,official\nnorth,farm,12\nnorth,sex,5\nsouth,farm,0\nsouth,sex,7\n"
COVERAGE = "region,sector,list,covered\nsouth,farm,C,0\n"


def estimate(base, name, draws):
    base.mkdir(parents=True, exist_ok=True)
    (base / name).write_text(TABLE)
    (base / "official.csv").write_text(OFFICIAL)
    (base / "coverage.csv").write_text(COVERAGE)
    out = base / "out"
    code = cli.main(["estimate", str(base / name), "--out", str(out), "--model", "bma",
                     "--strata", "region,sector", "--official", str(base / "official.csv"),
                     "--coverage", str(base / "coverage.csv"), "--draws", str(draws),
                     "--chains", "2", "--seed", "5", "--quiet"])
    assert code in (0, 3)
    with open(out / "estimates.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return out, rows, json.loads((out / "diagnostics.json").read_text())


@pytest.fixture(scope="module")
def converged(tmp_path_factory):
    out, rows, diag = estimate(tmp_path_factory.mktemp("rep") / "fit", "table.csv", 2000)
    assert diag["converged"], diag
    reports = out.parent / "reports"
    assert cli.main(["report", str(out / "posterior.nc"), "--out", str(reports)]) == 0
    return rows, (reports / "posterior.md").read_text(), (reports / "posterior.html").read_text()


def test_numbers_match_estimates_csv(converged):
    rows, md, _ = converged
    for row in rows:
        if row["region"] == "ALL":
            continue
        line = next(x for x in md.splitlines()
                    if x.startswith(f"| {row['region']} | {row['sector']} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        expect = [report.number(float(row["N_median"])),
                  f"{report.number(float(row['N_q025']))} to "
                  f"{report.number(float(row['N_q975']))}"]
        assert cells[3:5] == expect, f"{line} vs estimates.csv {row}"
        if row["ratio_median"]:
            assert cells[6] == report.ratio(float(row["ratio_median"])), line


def test_strata_are_listed_biggest_first_with_the_multiplier(converged):
    rows, md, _ = converged
    table = [x for x in md.split("### By region and sector")[1].splitlines()
             if x.startswith("| north") or x.startswith("| south")]
    medians = [float(x.split("|")[4].replace(",", "")) for x in table]
    assert medians == sorted(medians, reverse=True), table
    assert "N per official" in md
    assert "### By region" in md and "### By sector" in md


def test_total_and_uncovered_list_and_plain_assumption(converged):
    rows, md, html = converged
    total = rows[-1]
    assert f"Estimated victims in total: {report.number(float(total['N_median']))}" in md
    assert "List C did not operate in stratum south|farm" in md
    assert "averages over every simple pattern" in md, "bma's plain-language assumption"
    assert "SYNTHETIC" not in md, "real inputs carry no synthetic banner"
    assert "did not converge" not in md
    assert html.startswith("<!DOCTYPE html>") and "<table>" in html


def test_synthetic_inputs_put_the_banner_first(tmp_path):
    out, _, _ = estimate(tmp_path / "fit", "SYNTHETIC_table.csv", 100)
    built = report.build(out / "posterior.nc")
    first = built.markdown.splitlines()[0]
    assert first.startswith("# SYNTHETIC DATA — NOT REAL ESTIMATES"), first
    assert "<title>SYNTHETIC DATA — NOT REAL ESTIMATES" in built.html


def test_unconverged_fit_is_flagged_at_the_top(tmp_path):
    out, _, diag = estimate(tmp_path / "fit", "table.csv", 20)
    assert not diag["converged"], "20 draws per chain cannot reach the ESS threshold"
    md = report.build(out / "posterior.nc").markdown
    top = "\n".join(md.splitlines()[:4])
    assert "Warning: the computation did not converge" in top, top


def test_bad_file_exits_2_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "fake.nc").write_text("not netcdf")
    out = tmp_path / "reports"
    assert cli.main(["report", str(tmp_path / "fake.nc"), "--out", str(out)]) == 2
    assert "fake.nc" in capsys.readouterr().err
    assert not out.exists()


def test_multiplier_report_gives_each_comparison(tmp_path, monkeypatch):
    from conftest import ROOT

    monkeypatch.chdir(ROOT)
    card = (ROOT / "models/russia_multiplier.toml").read_text()
    (tmp_path / "russia_multiplier.toml").write_text(card.replace("draws = 5000",
                                                                  "draws = 500"))
    assert cli.main(["fit", str(tmp_path / "russia_multiplier.toml"), "--results",
                     str(tmp_path), "--quiet"]) == 0
    md = report.build(tmp_path / "russia_multiplier.nc").markdown
    for name in ("other_articles_per_art127_2", "all_court_recorded_per_art127_2"):
        assert f"| `{name}` |" in md
    assert "**lower bound**" in md and "| `tbp_cases_art127_2` | 53 |" in md


def test_repeated_never_overlap_notes_are_condensed_by_pair():
    from darkfigure.report_caveats import condensed_notes

    notes = [f"stratum s{i}: 1 list pair(s) never overlap (A-B): their dependence is not "
             "estimable from the data and rests on the prior" for i in range(10)]
    out = condensed_notes(notes + ["another note"], n_strata=12)
    assert len(out) == 2, out
    assert "A-B in 10 of 12 strata" in out[0] and out[1] == "another note"
    few = condensed_notes(notes[:2], n_strata=12)
    assert few == notes[:2], "a few notes are kept verbatim"
