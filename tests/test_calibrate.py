"""Calibration studies: a tiny study end to end on Dask, resume, aggregation, SBC pieces."""

from __future__ import annotations

import json

import numpy as np
import pytest

from darkfigure import calibrate as cal
from darkfigure import calibration_report as report
from darkfigure import cli, sbc
from darkfigure.models import bma
from darkfigure.scenarios import parse_scenario

TINY = """
[scenario]
name = "tiny"
seed = 5
[population]
size = 300
region = ["north", "south"]
[lists]
capture = [0.4, 0.35, 0.3]
[official]
rate = 0.2
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A tiny study through the CLI on an in-process Dask cluster: 1 scenario x 2 fast
    models x 3 replicates, plus 3 SBC replicates per model."""
    from dask.distributed import LocalCluster

    root = tmp_path_factory.mktemp("study")
    scenario = root / "tiny.toml"
    scenario.write_text(TINY)
    out = root / "out"
    args = ["calibrate", "--scenarios", str(scenario), "--models", "bma,latent-class",
            "--replicates", "3", "--out", str(out), "--draws", "60", "--tune", "20",
            "--chains", "2", "--quiet"]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster:
        code = cli.main(args + ["--scheduler", cluster.scheduler_address])
    return out, args, code


def test_tiny_study_runs_end_to_end(study):
    out, _, code = study
    assert code == 0, f"calibrate exited {code}"
    records = cal.load_records(out)
    kinds = sorted((r["kind"], r["model"]) for r in records)
    assert len(records) == 12, f"expected 6 scenario + 6 SBC records, got {kinds}"
    for name in ("calibration.csv", "calibration.tex", "sbc.csv", "sbc.tex", "coverage.pdf",
                 "coverage.png", "sbc_ecdf.pdf", "sbc_ecdf.png"):
        assert (out / name).is_file(), f"report file {name} missing"
    assert "\\begin{tabular}" in (out / "calibration.tex").read_text(), "LaTeX table broken"
    rec = json.loads((out / "records/tiny/bma/rep-0000.json").read_text())
    strata = [u for u in rec["units"] if u["level"] == "stratum"]
    total = [u for u in rec["units"] if u["level"] == "total"]
    assert len(strata) == 2 and len(total) == 1, "one unit per stratum plus the total"
    assert total[0]["N"] == sum(u["N"] for u in strata), "total truth is the sum of strata"
    for unit in rec["units"]:
        qs = [unit["q"][str(q)] for q in cal.QUANTILES]
        assert qs == sorted(qs), f"quantiles not increasing: {qs}"
        assert unit["q"]["0.025"] >= unit["observed"], "an interval below the observed count"


def test_rows_cover_every_scenario_and_model(study):
    out, _, _ = study
    rows = report.coverage_rows(cal.load_records(out))
    cells = {(r["scenario"], r["model"], r["level"]) for r in rows}
    assert cells == {("tiny", m, lv) for m in ("bma", "latent-class")
                     for lv in ("stratum", "total")}, f"rows for {sorted(cells)}"
    for row in rows:
        assert 0 <= row["cover50"] <= row["cover90"] <= row["cover95"] <= 1, \
            f"nested intervals must have nested coverage: {row}"
        assert row["ratio_width95"] > 0, "tiny has official counts: ratio columns expected"


def test_resume_skips_finished_replicates(study, capsys):
    out, args, _ = study
    victim = out / "records/tiny/latent-class/rep-0001.json"
    victim.unlink()
    tasks, _ = cal.plan([parse_scenario(TINY)], ["bma", "latent-class"], 3,
                        {"draws": 60, "tune": 20, "chains": 2}, 3)
    assert [t.path.as_posix() for t in cal.pending(tasks, out)] == \
        ["records/tiny/latent-class/rep-0001.json"], "only the missing replicate is pending"
    counts = cal.run_study(tasks, out, workers=1, processes=False, report=lambda _: None)
    assert counts["skipped_existing"] == 11 and counts["ok"] == 1, f"resume counts {counts}"
    assert victim.is_file(), "the missing replicate was not rerun"


def test_other_fit_settings_are_refused(study):
    out, args, _ = study
    changed = [a if a != "60" else "61" for a in args]
    code = cli.main(changed)
    assert code == 2, "mixing fit settings into a study directory must be bad input (2)"


@pytest.mark.parametrize("model, fits", [("hierarchical", 1), ("bma", 2)])
def test_replicate_counts_each_fits_divergences_once(monkeypatch, model, fits):
    """Claim: a replicate's divergences are the sum over its fits, one per stratum for a
    family fitted stratum by stratum and one for a pooling family, whose single fit serves
    every stratum (it was counted once per stratum: 6 times on the 3 x 2 world)."""
    import xarray as xr

    from darkfigure import fit as fit_module

    scenario = parse_scenario(TINY)

    def fake_fit(card, inputs, progress=False):
        n = inputs.table.observed.values[None, None, :] + np.arange(8)[None, :, None]
        tree = xr.DataTree.from_dict({"posterior": xr.Dataset(
            {"N": (("chain", "draw", "stratum"), np.repeat(n, 2, axis=0))})})
        return tree, {"divergences": 3, "converged": False, "max_rhat": 1.02,
                      "min_ess_bulk_N": 500.0, "unestimable_strata": []}

    monkeypatch.setattr(fit_module, "fit", fake_fit)
    record = cal._run_scenario(cal.Task("tiny", model, 0, {}, scenario))
    assert len([u for u in record["units"] if u["level"] == "stratum"]) == 2
    assert record["diagnostics"]["divergences"] == 3 * fits, record["diagnostics"]


def test_coverage_rows_count_correctly():
    def unit(n, lo, hi):
        q = {"0.025": lo, "0.05": lo, "0.25": lo, "0.5": (lo + hi) / 2, "0.75": hi,
             "0.95": hi, "0.975": hi}
        return {"level": "stratum", "N": n, "observed": 1, "official": 10, "fitted": True,
                "estimable": True, "converged": True, "mean": (lo + hi) / 2, "q": q}

    records = [{"kind": "scenario", "scenario": "s", "model": "m", "replicate": r,
                "units": [unit(100, 90 + r, 110 + r)]} for r in range(4)]
    records[3]["units"][0]["estimable"] = False
    row = report.coverage_rows(records)[0]
    assert row["unestimable"] == 1 and row["units"] == 4, f"counts {row}"
    assert row["cover95"] == 1.0, f"all three estimable intervals contain 100: {row}"
    assert row["bias"] == pytest.approx(1.0), f"means 100, 101, 102 give bias 1: {row}"
    assert row["ratio_bias"] == pytest.approx(0.1), f"bias 1 / official 10: {row}"


def test_ecdf_band_holds_uniform_samples_at_its_level():
    n, rng = 100, np.random.default_rng(11)
    z, lower, upper = sbc.ecdf_band(n, sims=1000, seed=3)
    inside = []
    for _ in range(300):
        ecdf = np.searchsorted(np.sort(rng.random(n)), z, side="right") / n
        inside.append(np.all((ecdf >= lower) & (ecdf <= upper)))
    assert 0.90 <= np.mean(inside) <= 0.99, f"simultaneous 95% band held {np.mean(inside):.3f}"


def test_hyper_dirichlet_of_the_empty_graph_makes_lists_independent():
    rng = np.random.default_rng(2)
    empty = bma.graphs(3)[0]
    assert not empty.edges, "graphs(3)[0] should be the independence graph"
    p = sbc.hyper_dirichlet(empty, 3, 0.5, rng).reshape(2, 2, 2)
    assert p.sum() == pytest.approx(1.0), "cell probabilities must sum to 1"
    margins = [p.sum(axis=tuple(j for j in range(3) if j != k)) for k in range(3)]
    assert np.allclose(p, np.einsum("i,j,k->ijk", *margins)), \
        "under the empty graph the cell probabilities must factorise into list margins"


def test_bma_sbc_ranks_are_uniform():
    """bma's posterior is exact, so its SBC ranks must look uniform (a check of sbc.py)."""
    rng = np.random.default_rng(20180406)
    u = []
    for _ in range(60):
        draw = sbc.draw_bma(bma, bma.Priors(), 3, rng)
        if draw.table.observed.values[0] > 0:
            u.append(draw.exact_u(rng))
    from scipy import stats

    p = stats.kstest(u, "uniform").pvalue
    assert p > 0.01, f"bma SBC ranks not uniform (KS p = {p:.4f})"


def test_hierarchical_sbc_world_is_consistent_and_weights_truncate_the_intercept():
    """Claim: a prior draw of the hierarchical family is a stratified world with official
    counts whose first stratum's N is its observed count plus a hidden one, and its weights
    keep exactly the posterior draws whose intercept lies in the truncation range, undoing the
    Normal(centre, sd) prior there."""
    import xarray as xr

    from darkfigure.models import hierarchical

    rng = np.random.default_rng(11)
    priors = hierarchical.Priors()
    draw = sbc.draw_hierarchical(hierarchical, priors, 3, rng)
    table = draw.table
    assert table.strata == ("region", "sector") and len(table.stratum_labels) == 4
    assert draw.N >= int(table.observed.values[0]), "N below the observed count"
    assert draw.official is not None and (draw.official.values >= 0).all()
    assert list(draw.official["stratum"].values) == list(table.stratum_labels)
    lo, hi = np.log(sbc.N_MIN / 8), np.log(sbc.N_MAX / 8)
    a = np.array([[lo - 0.1, lo + 0.1, hi - 0.1, hi + 0.1]])
    w = draw.log_weight(xr.Dataset({"abundance_intercept": (("chain", "draw"), a)}))
    assert np.isneginf(w[0, [0, 3]]).all() and np.isfinite(w[0, [1, 2]]).all(), \
        f"weights {w} do not truncate the intercept to [{lo:.2f}, {hi:.2f}]"
    centre = hierarchical.data_for(table, priors, official=draw.official)["mean_log_cell"]
    assert np.allclose(w[0, [1, 2]], 0.5 * ((a[0, [1, 2]] - centre) / priors.intercept_sd) ** 2), \
        "inside the range the weights must undo the Normal(centre, sd) intercept prior"
