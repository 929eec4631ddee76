"""Does the estimate exist? Linear-programming checks for sparse capture tables.

In a Poisson log-linear model with design X over the observed cells, the maximum-likelihood
estimate fails to exist when some direction d moves no positive cell (X_c d = 0 where y_c > 0)
and lowers some empty cell (X_c d <= 0 where y_c = 0, with one strictly): the likelihood then
rises forever along d. A direction with X d = 0 makes a term unidentifiable. The missing cell
is exp(intercept) in 0/1 coding, so the estimate of N exists exactly when no such direction
moves the intercept (Chan, Silverman & Vincent 2021, JASA 116:1297; Fienberg & Rinaldo 2012,
Ann. Statist. 40:996). Both questions are linear programs, solved here with scipy's HiGHS.

A Bayesian posterior still exists (the priors are proper), but where the estimate does not,
N is set by the prior on the offending terms, not by the data: darkfigure says so.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
from scipy.optimize import linprog

from .tables import CaptureTable, all_patterns


def pairwise_design(n_lists: int, patterns: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """0/1-coded design of the model with all main effects and two-way terms."""
    pairs = list(itertools.combinations(range(n_lists), 2))
    columns = [np.ones(len(patterns))] + [patterns[:, k] for k in range(n_lists)] + \
        [patterns[:, a] * patterns[:, b] for a, b in pairs]
    return np.column_stack(columns).astype(float), pairs


def _extreme(X: np.ndarray, positive: np.ndarray, j: int, sign: float) -> float:
    """max sign * d_j subject to X_pos d = 0, X_zero d <= 0, |d| <= 1."""
    p = X.shape[1]
    objective = np.zeros(p)
    objective[j] = -sign
    zero = ~positive
    result = linprog(objective,
                     A_ub=X[zero] if zero.any() else None, b_ub=np.zeros(zero.sum()) if
                     zero.any() else None,
                     A_eq=X[positive] if positive.any() else None,
                     b_eq=np.zeros(positive.sum()) if positive.any() else None,
                     bounds=[(-1, 1)] * p, method="highs")
    return -result.fun if result.status == 0 else 0.0


def check_pairwise(table: CaptureTable, label: str | None = None, tol: float = 1e-9) -> dict:
    """Which terms of the all-two-way log-linear model have no finite estimate, and whether
    the estimate of N (the missing cell) exists, for one stratum (default: the only one)."""
    label = label or table.stratum_labels[0]
    positive = table.counts.sel(stratum=label).values > 0
    free, estimable, upward = _check(positive.tobytes(), tuple(table.lists), tol)
    return {"stratum": label, "terms_without_estimate": list(free),
            "N_estimable": estimable, "N_unbounded_above": upward}


@functools.lru_cache(maxsize=256)
def _check(positive: bytes, lists: tuple, tol: float) -> tuple[tuple[str, ...], bool, bool]:
    """`check_pairwise` from which cells are positive (a table's cells are always the
    patterns of `all_patterns`), kept: the answer depends on nothing else, and one fit asks
    it several times (sampling choices, diagnostics), at up to a second each for 10 lists."""
    positive = np.frombuffer(positive, bool)
    X, pairs = pairwise_design(len(lists), all_patterns(len(lists)))
    names = ["intercept"] + list(lists) + [f"{lists[a]}:{lists[b]}" for a, b in pairs]
    free = tuple(names[j] for j in range(X.shape[1])
                 if max(_extreme(X, positive, j, +1), _extreme(X, positive, j, -1)) > tol)
    upward = _extreme(X, positive, 0, +1) > tol
    downward = _extreme(X, positive, 0, -1) > tol
    return free, not (upward or downward), bool(upward)


def message(check: dict) -> str | None:
    """One line for diagnostics when the pairwise model's estimate of N does not exist."""
    if check["N_estimable"]:
        return None
    terms = ", ".join(t for t in check["terms_without_estimate"] if t != "intercept")
    side = "unbounded above" if check["N_unbounded_above"] else "not bounded away from the " \
        "observed count"
    return (f"the maximum-likelihood estimate of N under the two-way log-linear model does not "
            f"exist ({side}; terms without estimate: {terms}): the posterior of N rests on "
            "the prior for those terms, not on the data")
