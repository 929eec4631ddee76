"""compare (models side by side, lists omitted and merged) and held-out-list validation."""

import csv
import json

import pytest

from conftest import SMALL
from darkfigure import cli
from darkfigure.heldout import heldout_table, summarise
from darkfigure.tables import read_table

FOUR = """A,B,C,D,count
1,0,0,0,30
0,1,0,0,25
0,0,1,0,20
0,0,0,1,15
1,1,0,0,10
1,0,1,0,8
0,1,1,0,6
1,0,0,1,5
0,1,0,1,4
0,0,1,1,3
1,1,1,0,3
1,1,0,1,2
1,0,1,1,2
0,1,1,1,1
1,1,1,1,1
"""


def test_heldout_table_keeps_the_members_of_one_list_seen_by_the_others(write_csv):
    table = read_table(write_csv(SMALL))
    sub, truth = heldout_table(table, "A")
    assert truth == 30 + 10 + 8 + 3, "list A has 51 members"
    assert sub.lists == ("B", "C")
    assert int(sub.observed.sum()) == 10 + 8 + 3, "A's members also on B or C: 21 observed"
    assert int(sub.counts.sel(pattern="11").item()) == 3, "A, B and C together: 3"


def test_summary_of_heldout_rows():
    rows = [{"log_relative_bias": 0.1, "covered": True},
            {"log_relative_bias": -0.3, "covered": False}]
    s = summarise(rows)
    assert s["coverage"] == 0.5 and s["mean_log_relative_bias"] == pytest.approx(-0.1)
    assert s["rmse_log_relative_bias"] == pytest.approx((0.05) ** 0.5)


def test_summary_leaves_out_lists_with_few_members_seen():
    """Binette & Steorts summarise only held-out lists with >= 30 members seen elsewhere."""
    rows = [{"log_relative_bias": 0.1, "covered": True, "summarised": True},
            {"log_relative_bias": -3.0, "covered": False, "summarised": False}]
    s = summarise(rows)
    assert (s["n"], s["n_excluded"], s["coverage"]) == (1, 1, 1.0)
    assert s["mean_log_relative_bias"] == pytest.approx(0.1)
    empty = summarise(rows[1:])
    assert empty["n"] == 0 and empty["coverage"] is None, "no number from no lists"


def test_validate_cli_reports_every_list(tmp_path):
    table = tmp_path / "four.csv"
    table.write_text(FOUR)
    out = tmp_path / "val"
    code = cli.main(["validate", str(table), "--out", str(out), "--model", "bma", "--quiet"])
    assert code == 0, "bma's exact draws always converge"
    with open(out / "validate.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["list"] for r in rows] == ["A", "B", "C", "D"]
    # Members of each list seen by the others: A 31, B 27, C 24, D 18 (from FOUR).
    assert [int(r["observed"]) for r in rows] == [31, 27, 24, 18]
    assert [r["summarised"] for r in rows] == ["True", "False", "False", "False"]
    summary = json.loads((out / "validate_summary.json").read_text())
    assert (summary["n"], summary["n_excluded"], summary["min_observed"]) == (1, 3, 30)
    assert 0 <= summary["coverage"] <= 1
    cli.main(["validate", str(table), "--out", str(out), "--model", "bma", "--quiet",
              "--min-observed", "0"])
    assert json.loads((out / "validate_summary.json").read_text())["n"] == 4


def test_compare_cli_fits_models_and_list_variants(tmp_path):
    table = tmp_path / "four.csv"
    table.write_text(FOUR)
    out = tmp_path / "cmp"
    code = cli.main(["compare", str(table), "--out", str(out), "--models", "bma,latent-class",
                     "--no-merge", "--draws", "200", "--tune", "50", "--chains", "2",
                     "--quiet"])
    assert code in (0, 3)
    with open(out / "compare.csv") as handle:
        rows = list(csv.DictReader(handle))
    variants = {r["variant"] for r in rows}
    assert variants == {"all lists", "without A", "without B", "without C", "without D"}
    assert {r["model"] for r in rows} == {"bma", "latent-class"}
    assert all(r["assumption"] for r in rows), "every row states its model's assumption"
    assert (out / "compare.png").stat().st_size > 10_000, "the figure is written"
