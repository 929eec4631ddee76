"""Convergence diagnostics and data notes attached to every fit."""

import numpy as np
import xarray as xr

from darkfigure import diagnostics
from darkfigure.tables import CaptureTable


def _tree(n_strata: int, covered: np.ndarray | None) -> xr.DataTree:
    rng = np.random.default_rng(0)
    n = xr.DataArray(rng.poisson(100, (4, 200, n_strata)), dims=("chain", "draw", "stratum"),
                     coords={"stratum": ["north", "south"][:n_strata]})
    groups = {"posterior": xr.Dataset({"N": n})}
    if covered is not None:
        groups["constant_data"] = xr.Dataset({"covered": xr.DataArray(
            covered, dims=("stratum", "list"),
            coords={"stratum": ["north", "south"], "list": ["A", "B", "C"]})})
    return xr.DataTree.from_dict(groups)


def test_pairs_with_a_list_that_did_not_operate_are_not_called_sparse():
    """A-C never overlap in both strata, but C did not operate in the south: only the north
    gets the never-overlapping note (in the south it is missing data, not sparsity)."""
    # Patterns in binary order, first list most significant: C, B, BC, A, AC, AB, ABC.
    counts = [[5, 7, 3, 9, 0, 4, 0], [0, 7, 0, 9, 0, 4, 0]]
    table = CaptureTable.from_array(counts, ["A", "B", "C"],
                                    strata={"region": ["north", "south"]})
    covered = np.array([[1, 1, 1], [1, 1, 0]], dtype=np.int8)
    notes = diagnostics.diagnose(_tree(2, covered), table, 1.0)["notes"]
    assert any(n.startswith("stratum north") and "A-C" in n for n in notes), notes
    assert not any(n.startswith("stratum south") and "never overlap" in n for n in notes), notes
    uncovered = diagnostics.diagnose(_tree(2, None), table, 1.0)["notes"]
    assert any(n.startswith("stratum south") and "never overlap" in n for n in uncovered), \
        "without a coverage file the south's empty pairs are reported"
