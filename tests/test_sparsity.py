"""Existence of the estimate of N in sparse tables (Chan, Silverman & Vincent 2021)."""

import pytest

from conftest import BENCHMARKS
from darkfigure.sparsity import check_pairwise
from darkfigure.tables import read_table


@pytest.mark.parametrize("name,estimable", [
    ("korea3", False), ("artificial3", False), ("new_orleans8", True), ("uk6", True),
    ("australia4", True)])
def test_estimability_of_n_under_the_pairwise_model(name, estimable):
    check = check_pairwise(read_table(BENCHMARKS / f"{name}.csv"))
    assert check["N_estimable"] is estimable, \
        f"{name}: N estimable should be {estimable}, got {check}"


def test_never_overlapping_pair_has_no_estimate_but_n_still_does():
    """New Orleans: 18 pairs never overlap, so 18 two-way terms have no finite estimate,
    yet none of those directions moves the missing cell."""
    check = check_pairwise(read_table(BENCHMARKS / "new_orleans8.csv"))
    assert len(check["terms_without_estimate"]) == 18 and check["N_estimable"]


def test_a_table_with_every_cell_positive_has_every_estimate(write_csv):
    from conftest import SMALL

    check = check_pairwise(read_table(write_csv(SMALL)))
    assert check["terms_without_estimate"] == [] and check["N_estimable"]
