"""The paper pipeline's scripts on tiny posteriors: every figure script writes its figure,
every table script a LaTeX tabular, paper_numbers.py valid macros, and `darkfigure reproduce`
on a tiny fit exits 0 (and 1 once an input changed). Exact-sampler families (bma, multiplier)
keep the fits to a second or two."""

import re
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SMALL
from darkfigure import cli
from darkfigure.models import REGISTRY

SCRIPTS = ROOT / "scripts"
QUICK = ["--model", "bma", "--draws", "200", "--chains", "2", "--quiet", "--seed", "5"]


def stratified_table() -> str:
    """SMALL's patterns in 2 regions x 2 sectors, counts varied per stratum."""
    rows = [line.split(",") for line in SMALL.strip().splitlines()[1:]]
    lines = ["region,sector,A,B,C,count"]
    for k, (region, sector) in enumerate([("north", "farm"), ("north", "mine"),
                                          ("south", "farm"), ("south", "mine")]):
        lines += [f"{region},{sector},{a},{b},{c},{int(n) + 3 * k}" for a, b, c, n in rows]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def posteriors(tmp_path_factory):
    """Two tiny bma posteriors (one table, one region x sector table with official counts)
    and, when the family is registered, a tiny multiplier posterior."""
    base = tmp_path_factory.mktemp("paper")
    (base / "small.csv").write_text(SMALL)
    (base / "grid.csv").write_text(stratified_table())
    (base / "official.csv").write_text(
        "region,sector,official\nnorth,farm,10\nnorth,mine,0\nsouth,farm,4\nsouth,mine,7\n")
    paths = {}
    for name, extra in (("small", []), ("grid", ["--strata", "region,sector", "--official",
                                                 str(base / "official.csv")])):
        code = cli.main(["estimate", str(base / f"{name}.csv"), "--out", str(base / name)]
                        + extra + QUICK)
        assert code in (0, 3), f"tiny {name} fit exited {code}"
        paths[name] = base / name / "posterior.nc"
    if "multiplier" in REGISTRY:
        figures = ROOT / "data/raw/russia/published_figures.csv"
        card = base / "mult.toml"
        card.write_text(f'[run]\nname = "mult"\nmodel = "multiplier"\nseed = 1\n[data]\n'
                        f'figures = "{figures}"\n[exposure]\ntbp_cases_other_articles = 15\n'
                        'tbp_cases_art127_2 = 15\n[comparisons.other_per_art]\n'
                        'numerator = ["tbp_cases_other_articles"]\n'
                        'denominator = ["tbp_cases_art127_2"]\npublished = "tbp_scale_multiplier"\n'
                        '[sampler]\ndraws = 200\nchains = 2\n')
        code = cli.main(["fit", str(card), "--quiet", "--results", str(base)])
        assert code in (0, 3), f"tiny multiplier fit exited {code}"
        paths["mult"] = base / "mult.nc"
    return base, paths


@pytest.fixture
def scripts(monkeypatch):
    """Import scripts/ as modules, run from the repository root (they read data/raw)."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    monkeypatch.chdir(ROOT)
    return lambda name: __import__(name)


def test_figure_scripts_write_nonempty_figures(posteriors, scripts, tmp_path):
    base, paths = posteriors
    scripts("fig_diagnostics").main(paths["small"], tmp_path / "trace.pdf")
    for quantity in ("N", "ratio"):
        scripts("fig_russia_heatmap").main(paths["grid"], quantity, tmp_path / f"h_{quantity}.pdf")
    scripts("benchmark_figure").main(base, tmp_path / "bench.pdf", ["small/posterior"])
    for name in ("trace", "h_N", "h_ratio", "bench"):
        data = (tmp_path / f"{name}.pdf").read_bytes()
        assert data.startswith(b"%PDF") and len(data) > 2000, f"{name}.pdf is not a figure"


@pytest.mark.skipif("multiplier" not in REGISTRY, reason="multiplier family not registered")
def test_multiplier_forest_and_its_diagnostics(posteriors, scripts, tmp_path):
    _, paths = posteriors
    scripts("fig_multiplier").main(paths["mult"], tmp_path / "mult.pdf")
    scripts("fig_diagnostics").main(paths["mult"], tmp_path / "mult_trace.pdf")
    for name in ("mult", "mult_trace"):
        assert (tmp_path / f"{name}.pdf").read_bytes().startswith(b"%PDF"), name


def test_table_scripts_write_tabulars_with_one_row_per_fit(posteriors, scripts, tmp_path):
    _, paths = posteriors
    fits = [str(paths["small"]), str(paths["grid"])]
    scripts("table_diagnostics").main(tmp_path / "diag.tex", fits)
    scripts("table_benchmarks").main(tmp_path / "bench.tex", fits[:1])
    diag = (tmp_path / "diag.tex").read_text()
    assert diag.count("\\\\") == 1 + len(fits), diag
    bench = (tmp_path / "bench.tex").read_text()
    assert bench.startswith("\\begin{tabular}") and "darkfigure: bma" in bench, bench
    cal = tmp_path / "calibration.csv"
    cal.write_text("scenario,model,level,replicates,cover50,cover90,cover95,rel_bias,width95\n"
                   "s1,bma,stratum,20,0.5,0.9,0.95,-0.01,270\ns1,bma,total,20,1,1,1,0,1\n")
    scripts("table_calibration").main(cal, tmp_path / "cal.tex")
    row = [line for line in (tmp_path / "cal.tex").read_text().splitlines() if "bma" in line]
    assert row == ["s1 & bma & 20 & 50 & 90 & 95 & -0.01 & 270 \\\\"], row


def test_heldout_table_names_the_two_worst_lists_and_the_rmse_they_force(scripts, tmp_path):
    """Claim: the floor is sqrt((e1^2 + e2^2) / n) over the two lists with the largest mean
    squared log error, per model; lists outside the published protocol (fewer than 30 seen,
    Netherlands K) are left out; a missed interval is starred."""
    head = ("model,table,list,truth,observed,summarised,N_median,N_lo,N_hi,"
            "log_relative_bias,covered,converged\n")
    rows = [("a", "uk5", "X", -1.0, False), ("a", "uk5", "Y", 0.5, True),
            ("a", "uk5", "Z", 0.1, True), ("a", "uk5", "W", -0.2, True),
            ("b", "uk5", "X", -0.8, False), ("b", "uk5", "Y", 0.7, True),
            ("b", "uk5", "Z", 0.0, True), ("b", "uk5", "W", -0.1, True)]
    text = head + "".join(f"{m},{t},{k},100,40,True,1,1,1,{e},{c},True\n"
                          for m, t, k, e, c in rows)
    text += "a,uk5,Q,100,10,False,1,1,1,-3.0,False,True\n"          # < 30 seen: left out
    text += "a,netherlands5,K,100,40,True,1,1,1,-3.0,False,True\n"  # Netherlands K: left out
    (tmp_path / "heldout.csv").write_text(text)
    protocol = "published (>= 30 seen, without Netherlands K)"
    (tmp_path / "heldout_summary.csv").write_text(
        "model,protocol,n,n_excluded,mean_log_relative_bias,rmse_log_relative_bias,coverage,"
        f"unconverged\na,{protocol},4,2,-0.15,0.57,0.75,0\nb,{protocol},4,0,-0.05,0.53,0.75,0\n"
        f"dga (published),{protocol},,,-0.34,0.60,0.80,\n")
    out = tmp_path / "heldout.tex"
    scripts("table_heldout").main(tmp_path, out)
    tex = out.read_text()
    floor_a, floor_b = (1.0 + 0.25) ** 0.5 / 2, (0.64 + 0.49) ** 0.5 / 2
    assert f"\\newcommand{{\\HeldoutFloorLo}}{{{min(floor_a, floor_b):.2f}}}" in tex, tex
    assert f"\\newcommand{{\\HeldoutFloorHi}}{{{max(floor_a, floor_b):.2f}}}" in tex, tex
    assert "\\newcommand{\\HeldoutLists}{4}" in tex
    assert "\\texttt{uk5} X and \\texttt{uk5} Y" in tex
    assert "uk5 & X & 100 & 40 & $-1.00$* & $-0.80$* \\\\" in tex, tex
    assert "& Q &" not in tex and "& K &" not in tex
    assert "\\newcommand{\\HeldoutMeetsTarget}{none of our models}" in tex  # b's coverage


def test_numbers_are_valid_unique_latex_macros(posteriors, scripts, tmp_path, monkeypatch):
    _, paths = posteriors
    out = tmp_path / "numbers.tex"
    monkeypatch.setattr(sys, "argv", ["paper_numbers.py", "--out", str(out), "--calibration",
                                      str(tmp_path / "none"), "--cal-replicates", "20",
                                      "--results", str(paths["small"]), str(paths["grid"])])
    scripts("paper_numbers").main()
    lines = out.read_text().splitlines()[1:]
    macro = re.compile(r"^\\newcommand\{\\([A-Za-z]+)\}\{[^{}]*(\{,\}[^{}]*)*\}$")
    flag = re.compile(r"^\\(newif\\if[A-Za-z]+|[A-Za-z]+(true|false))$")
    bad = [line for line in lines if not (macro.match(line) or flag.match(line))]
    assert not bad, f"not a LaTeX macro definition: {bad}"
    names = [macro.match(line).group(1) for line in lines if macro.match(line)]
    assert len(names) == len(set(names)), "a macro is defined twice"
    assert "\\newcommand{\\RuArtCases}{53}" in lines, "53 Art. 127.2 cases not from the CSV"
    assert "\\newcommand{\\NRuns}{2}" in lines
    assert scripts("paper_numbers").name("uk5", "latent-class", "median") == "UkFiveLatentClassMedian"


def test_reproduce_a_tiny_fit_exits_0_and_1_after_its_input_changed(posteriors, capsys):
    base, paths = posteriors
    assert cli.main(["reproduce", str(paths["small"]), "--quiet"]) == 0, capsys.readouterr().out
    assert "identical draws" in capsys.readouterr().out
    (base / "small.csv").write_text(SMALL.replace("30", "31"))
    try:
        assert cli.main(["reproduce", str(paths["small"]), "--quiet"]) == 1
        assert "inputs changed" in capsys.readouterr().out
    finally:
        (base / "small.csv").write_text(SMALL)


def test_reproduce_demands_identical_draws_when_code_and_libraries_are_the_same(
        posteriors, monkeypatch, tmp_path, capsys):
    """Same commit, clean tree, same libraries: draws within Monte Carlo error but not
    identical mean a non-deterministic fit, so reproduce fails (exit 1)."""
    from darkfigure import io, workflow

    _, paths = posteriors
    tree = io.read_posterior(paths["small"])
    clean = dict(tree.attrs) | {"git_commit": "abc", "git_dirty": "false"}
    clean.pop("posterior_sha256")
    copy = tmp_path / "clean.nc"
    io.write_posterior(tree, copy, clean)
    real_run = workflow.run

    def nudged_run(card, text, progress=True):
        outcome = real_run(card, text, progress)
        outcome.tree["posterior"]["N"] = outcome.tree["posterior"]["N"] + 1
        outcome.attrs.update(git_commit="abc", git_dirty="false")
        return outcome

    monkeypatch.setattr(workflow, "run", nudged_run)
    assert cli.main(["reproduce", str(copy), "--quiet"]) == 1
    assert "non-deterministic" in capsys.readouterr().out
