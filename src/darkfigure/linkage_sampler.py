"""Coherent linkages: partitions of the records drawn from pairwise match probabilities.

A linkage is a partition of the records into people, so its links must be transitive. Drawing
every candidate pair as a link independently (and closing the links transitively) is not a
draw of a partition with those probabilities: a weak pair can join two confident clusters, so
such draws over-merge. Here the pairwise Fellegi-Sunter probabilities p_ij define a
distribution over partitions directly,

    P(partition) ∝ prod over pairs (i, j) in one cluster of p_ij / (1 - p_ij),

which is exactly the law of independent Bernoulli(p_ij) links *conditioned on the links
forming an equivalence relation* (every pair in a cluster linked, no pair across clusters).
This is the pairwise-comparison partition model of Sadinle (2014, *Detecting duplicates in a
homicide registry using a Bayesian partitioning approach*, Ann. Appl. Stat. 8:2404), with
splink's calibrated probabilities in place of his comparison-data likelihood. Pairs that
splink did not score (not blocked together, or below its minimum probability) count as
p = ``floor``. A record may join a cluster only through at least one scored pair.

It is sampled by Gibbs moves of one record at a time (remove it, then put it into a
neighbouring cluster or on its own with probability proportional to the product of odds),
compiled with numba; chains start from the best linkage, run ``burn`` sweeps and keep one
partition every ``thin`` sweeps. The same seed gives the same draws.

What the draws cannot express: a true pair that splink did not score is linked in no draw,
so such a person stays split and N leans high. Lists of up to `darkfigure.linkage.ALL_PAIRS_MAX`
pairs have every pair scored, so only pairs below splink's minimum probability are left out.
Larger lists are blocked, and on SYNTHETIC lists of 100,000 records each the rules miss about
7% of true pairs, five in six of them with no surname on one side; at 10,000 records per
list the probabilities those missed pairs would have got sum to under 0.5% of the true pairs.
One common probability for every pair never compared (a missed-pair rate) would not mend
this: with no comparison behind it, the record's true partner would weigh no more than the
thousands of others, so draws would link at random (and carry region and sector between
people), and the rate itself is known only where the truth is, on synthetic lists.
`benchmarks/linkage_coverage.py` measures the effect on N against the true links.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components


@numba.njit(cache=True)
def _sweeps(indptr, indices, weights, labels, floor, order, n_sweeps, seed):
    """``n_sweeps`` Gibbs sweeps over the records in ``order``; ``labels`` updated in place."""
    np.random.seed(seed)
    n = labels.shape[0]
    size = np.zeros(n, np.int64)
    for i in range(n):
        size[labels[i]] += 1
    free = np.empty(n, np.int64)  # cluster ids not in use, so that a record can leave alone
    n_free = 0
    for c in range(n - 1, -1, -1):
        if size[c] == 0:
            free[n_free] = c
            n_free += 1
    sum_w = np.zeros(n)
    count = np.zeros(n, np.int64)
    touched = np.empty(n, np.int64)
    score = np.empty(n + 1)
    for _ in range(n_sweeps):
        for i in order:
            old = labels[i]
            size[old] -= 1
            k = 0
            for e in range(indptr[i], indptr[i + 1]):
                c = labels[indices[e]]
                if count[c] == 0:
                    touched[k] = c
                    k += 1
                count[c] += 1
                sum_w[c] += weights[e]
            # log score of each neighbouring cluster relative to staying alone (0)
            top = 0.0
            for t in range(k):
                c = touched[t]
                score[t] = sum_w[c] + floor * (size[c] - count[c])
                top = max(top, score[t])
            total = np.exp(-top)
            for t in range(k):
                score[t] = np.exp(score[t] - top)
                total += score[t]
            u = np.random.random() * total
            new = -1
            for t in range(k):
                u -= score[t]
                if u < 0:
                    new = touched[t]
                    break
            if new == -1:  # alone: keep the old id if it is now empty, else take a free one
                if size[old] == 0:
                    new = old
                else:
                    n_free -= 1
                    new = free[n_free]
            elif size[old] == 0:
                free[n_free] = old
                n_free += 1
            labels[i] = new
            size[new] += 1
            for t in range(k):
                sum_w[touched[t]] = 0.0
                count[touched[t]] = 0
    return labels


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p) - np.log1p(-p)


def sample_partitions(left: np.ndarray, right: np.ndarray, probability: np.ndarray,
                      n_records: int, n_linkages: int, seed: int, start: np.ndarray | None = None,
                      floor: float = 1e-3, burn: int = 20, thin: int = 5) -> list[np.ndarray]:
    """``n_linkages`` partitions (one cluster id per record) drawn from the pairwise model.

    ``start`` is the chain's initial clustering (default: every record alone); probabilities
    of exactly 0 or 1 act as forbidden or certain links."""
    if n_linkages == 0:
        return []
    keep = probability > 0
    left, right, p = left[keep], right[keep], probability[keep]
    graph = csr_matrix(coo_matrix((_logit(p), (left, right)), shape=(n_records, n_records)))
    graph = (graph + graph.T).tocsr()
    labels = (np.arange(n_records) if start is None else
              np.unique(start, return_inverse=True)[1]).astype(np.int64)
    # only records with a scored pair can move; visiting them in a fixed shuffled order
    movable = np.flatnonzero(np.diff(graph.indptr) > 0)
    order = np.random.default_rng(np.random.SeedSequence([seed, 11])).permutation(movable)
    args = (graph.indptr.astype(np.int64), graph.indices.astype(np.int64),
            graph.data.astype(float))
    log_floor = float(_logit(np.array(floor)))
    out, sub = [], np.random.SeedSequence([seed, 12]).generate_state(n_linkages + 1)
    labels = _sweeps(*args, labels, log_floor, order, burn, int(sub[0]))
    for k in range(n_linkages):
        labels = _sweeps(*args, labels, log_floor, order, thin, int(sub[k + 1]))
        out.append(labels.copy())
    return out


def threshold_partition(left: np.ndarray, right: np.ndarray, probability: np.ndarray,
                        n_records: int, threshold: float) -> np.ndarray:
    """Connected components of the pairs at or above ``threshold``: the best linkage, as
    splink's clustering at that threshold gives it."""
    keep = probability >= threshold
    graph = coo_matrix((np.ones(keep.sum(), np.int8), (left[keep], right[keep])),
                       shape=(n_records, n_records))
    return connected_components(graph, directed=False)[1]
