"""Linkage uncertainty carried into N: many plausible linkages, each fitted, pooled equally.

One "best" linkage treats its guesses as facts and the interval of N ignores them. Instead,
each linkage is a draw of a partition of the records into people from splink's pairwise match
probabilities (`darkfigure.linkage_sampler`). Each linked capture table is fitted
with `darkfigure.fit`, and the posterior draws of N are pooled with equal weight: a mixture
over linkages, so the pooled posterior is p(N | data) = E_linkage[p(N | linkage, data)]. This
is the multiple-imputation view of linkage error (Sadinle 2017, JASA 112:600, sec. 5;
Tancredi & Liseo 2011, Ann. Appl. Stat. 5:1553, who make the linkage a parameter of the
capture-recapture model; here it is drawn from the Fellegi-Sunter posterior instead of
jointly, which keeps the MSE models unchanged). The law of total variance splits Var(N) into
within-linkage and between-linkage parts; the latter is what linkage doubt adds.
Draws are coherent: links are transitive within a draw, and the pairwise probabilities weigh
whole clusters, so a weak pair cannot chain two confident clusters into one person.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from .fit import FitInputs, fit, stratum_seed
from .linkage_sampler import sample_partitions, threshold_partition  # noqa: F401 (re-export)
from .models import get_family
from .runcard import RunCard
from .tables import CaptureTable

UNKNOWN = "unknown"  # stratum value of a person none of whose records gives one


def pairwise_scores(clusters: np.ndarray, truth: np.ndarray) -> dict:
    """Pairwise precision and recall of a clustering against the true identities."""

    def pairs(*keys):
        _, counts = np.unique(np.stack(keys, axis=1), axis=0, return_counts=True)
        return int((counts * (counts - 1) // 2).sum())

    both, linked, true = pairs(clusters, truth), pairs(clusters), pairs(truth)
    precision = both / linked if linked else 1.0
    recall = both / true if true else 1.0
    return {"precision": precision, "recall": recall, "linked_pairs": linked,
            "true_pairs": true, "f1": 2 * precision * recall / (precision + recall or 1)}


def _cluster_mode(clusters: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """The most frequent non-missing value among each cluster's records (ties: first in
    sort order), or UNKNOWN: records of one person may disagree on region or sector."""
    known = np.array([v is not None for v in values])
    codes, uniq = np.full(len(values), -1), np.array([UNKNOWN], dtype=object)
    if known.any():
        uniq, codes_known = np.unique(values[known].astype(str), return_inverse=True)
        codes[known] = codes_known
    out = np.full(n, UNKNOWN, dtype=object)
    if known.any():
        key = clusters[known] * len(uniq) + codes[known]
        keys, counts = np.unique(key, return_counts=True)
        order = np.lexsort((keys % len(uniq), -counts, keys // len(uniq)))
        first = np.unique(keys[order] // len(uniq), return_index=True)[1]
        chosen = keys[order][first]
        out[chosen // len(uniq)] = uniq[chosen % len(uniq)]
    return out


def _people(clusters: np.ndarray, list_of_record: np.ndarray, k: int,
            strata: dict[str, np.ndarray]) -> tuple[np.ndarray, list[tuple]]:
    """Per person (cluster): the capture-pattern bit mask and the stratum key."""
    clusters = np.unique(clusters, return_inverse=True)[1]
    n = int(clusters.max()) + 1
    mask = np.zeros(n, dtype=np.int64)
    np.bitwise_or.at(mask, clusters, 1 << (k - 1 - list_of_record))  # first list = top bit
    per_person = [_cluster_mode(clusters, v, n) for v in strata.values()]
    return mask, list(zip(*per_person)) if strata else [()] * n


def capture_tables(partitions: list[np.ndarray], list_of_record: np.ndarray,
                   lists: list[str], strata: dict[str, np.ndarray]) -> list[CaptureTable]:
    """People (clusters) of each partition counted by capture pattern and stratum; all
    tables share the same strata rows (every stratum any of them has; absent ones count 0)."""
    people = [_people(c, list_of_record, len(lists), strata) for c in partitions]
    labels = sorted(set().union(*(keys for _, keys in people)))
    row = {key: i for i, key in enumerate(labels)}
    columns = {c: [key[i] for key in labels] for i, c in enumerate(strata)}
    tables = []
    for mask, keys in people:
        counts = np.zeros((len(labels), 2 ** len(lists) - 1), dtype=np.int64)
        np.add.at(counts, (np.array([row[key] for key in keys]), mask - 1), 1)
        tables.append(CaptureTable.from_array(counts, lists, columns or None))
    return tables


def fit_table(card: RunCard, table: CaptureTable, seed: int,
              progress: bool) -> tuple[xr.DataArray, dict]:
    """N draws (chain, draw, stratum) of one linked table; strata nobody fell into in this
    linkage have N = 0 there (their people were counted in other strata).

    Families that fit strata separately are called one stratum at a time and only N is
    kept: the same fits as one call, without merging per-stratum parameter groups whose
    shapes differ between strata."""
    seen = [s for s, o in zip(table.stratum_labels, table.observed.values) if o > 0]
    card = dataclasses.replace(card, seed=seed)
    groups = [seen] if get_family(card.model).pools_strata else [[s] for s in seen]
    parts, diagnostics = [], []
    for i, labels in enumerate(groups):
        sub = CaptureTable(table.counts.sel(stratum=labels), table.lists, table.strata)
        tree, diag = fit(dataclasses.replace(card, seed=stratum_seed(seed, i)),
                         FitInputs(sub), progress)
        n = tree["posterior"]["N"].transpose("chain", "draw", "stratum")
        parts.append(n.drop_vars([c for c in n.coords if c not in ("chain", "draw",
                                                                    "stratum")]))
        diagnostics.append(diag)
    n = xr.concat(parts, dim="stratum").reindex(stratum=table.stratum_labels, fill_value=0)
    return n, pooled_diagnostics(diagnostics)


def pool(draws: list[xr.DataArray], best: xr.DataArray) -> tuple[xr.DataArray, dict]:
    """Equal-weight mixture of the linkages' N draws, and how much linkage adds to it.

    The decomposition is of the total N (summed over strata within each draw):
    Var = E_l Var(N | l) + Var_l E(N | l) with every variance over draws (ddof 0), so the
    two parts add up exactly to the pooled variance.
    """
    pooled = xr.concat([d.assign_coords(chain=np.arange(d.sizes["chain"]) + i * d.sizes["chain"])
                        for i, d in enumerate(draws)], dim="chain")
    per_chain = draws[0].sizes["chain"]
    pooled = pooled.assign_coords(linkage=("chain", np.repeat(np.arange(len(draws)), per_chain)))
    totals = [d.sum("stratum").values.ravel().astype(float) for d in draws]
    within = float(np.mean([t.var() for t in totals]))
    between = float(np.var([t.mean() for t in totals]))
    flat, top = np.concatenate(totals), best.sum("stratum").values.ravel()
    lo, hi = np.quantile(flat, [0.025, 0.975])
    blo, bhi = np.quantile(top, [0.025, 0.975])
    report = {
        "linkages": len(draws),
        "N_total_median_pooled": float(np.median(flat)),
        "N_total_q025_pooled": float(lo), "N_total_q975_pooled": float(hi),
        "N_total_median_best_linkage": float(np.median(top)),
        "N_total_q025_best_linkage": float(blo), "N_total_q975_best_linkage": float(bhi),
        "width95_pooled": float(hi - lo), "width95_best_linkage": float(bhi - blo),
        "width_ratio_pooled_to_best": float((hi - lo) / (bhi - blo)) if bhi > blo else None,
        "variance_within_linkage": within, "variance_between_linkages": between,
        "share_of_variance_from_linkage": between / (within + between)
        if within + between > 0 else 0.0,
        "N_total_median_by_linkage": [float(np.median(t)) for t in totals],
    }
    return pooled, report


def pooled_diagnostics(parts: list[dict]) -> dict:
    """One diagnostics record for the pooled fit: converged only if every linkage's fit is."""
    notes = list(dict.fromkeys(n for d in parts for n in d["notes"]))
    unestimable = sorted({s for d in parts for s in d.get("unestimable_strata", [])})
    return {"converged": all(d["converged"] for d in parts), "estimable": not unestimable,
            "unestimable_strata": unestimable,
            "max_rhat": max(d["max_rhat"] for d in parts),
            "min_ess_bulk_N": min(d["min_ess_bulk_N"] for d in parts),
            "divergences": sum(d["divergences"] for d in parts),
            "seconds": round(sum(d["seconds"] for d in parts), 2),
            "fits": sum(d.get("fits", 1) for d in parts),
            "fits_converged": sum(d.get("fits_converged", int(d["converged"])) for d in parts),
            "notes": notes}
