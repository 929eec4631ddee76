"""`darkfigure link`: record lists -> privacy-filtered capture table -> N with linkage doubt.

``darkfigure link court.csv ngo.csv shelter.csv --out DIR [--names court,ngo,shelter]
[--strata region,sector] [--linkages 20] [--min-cell 5] [--model loglinear] [--seed S]
[--backend duckdb|spark] [--threshold 0.5] [--draws D] [--tune T] [--chains C]`` writes

- ``DIR/capture_table.csv``: people per capture pattern and stratum at the best linkage
  (pairs with match probability >= threshold, clustered by splink), small cells suppressed;
- ``DIR/linkage_summary.json``: records, people, duplicates resolved, match-probability
  summary, spread over linkages, the variance decomposition, privacy note;
- with ``--linkages > 1`` also ``posterior.nc`` (N pooled over the sampled linkages, with
  provenance), ``estimates.csv`` and ``diagnostics.json`` as `darkfigure estimate` writes them.

``--backend spark`` runs splink on Spark for lists that outgrow one machine (needs pyspark:
``pip install 'darkfigure[linkage-spark]'``). Exit codes as `darkfigure estimate`: 0, 3 when a
fit did not converge, 2 for bad input with nothing written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from . import io, privacy, summaries
from . import linkage as lk
from . import linkage_uncertainty as lu
from .errors import InputError
from .fit import stratum_seed
from .models import REGISTRY
from .provenance import provenance_attrs
from .runcard import SAMPLER_DEFAULTS, RunCard, _toml_value


def register(subparsers) -> None:
    """Add the ``link`` subcommand to darkfigure's subparsers."""
    cmd = subparsers.add_parser("link", help="link record-level lists into a capture table "
                                "and estimate N with linkage uncertainty (splink)")
    cmd.add_argument("lists", nargs="+", help="one CSV of records per list")
    cmd.add_argument("--out", required=True, help="output directory")
    cmd.add_argument("--names", help="comma-separated list names (default: file stems)")
    cmd.add_argument("--strata", help="comma-separated descriptive columns to stratify by")
    cmd.add_argument("--linkages", type=int, default=20, help="linkages drawn from the match "
                     "probabilities and fitted (1: link only, no fit)")
    cmd.add_argument("--min-cell", type=int, default=0, help="suppress published cells with "
                     "fewer people than this (see darkfigure.privacy)")
    cmd.add_argument("--model", default="loglinear")
    cmd.add_argument("--seed", type=int, default=0)
    cmd.add_argument("--backend", default="duckdb", choices=("duckdb", "spark"))
    cmd.add_argument("--threshold", type=float, default=0.5,
                     help="match probability at which the best linkage links a pair")
    cmd.add_argument("--draws", type=int, default=SAMPLER_DEFAULTS["draws"])
    cmd.add_argument("--tune", type=int, default=SAMPLER_DEFAULTS["tune"])
    cmd.add_argument("--chains", type=int, default=SAMPLER_DEFAULTS["chains"])
    cmd.add_argument("--quiet", action="store_true", help="no progress output")
    cmd.set_defaults(func=cmd_link)


def _names(text: str | None, paths: list[Path]) -> list[str]:
    names = [n.strip() for n in text.split(",")] if text else [p.stem for p in paths]
    if len(names) != len(paths):
        raise InputError(f"--names gives {len(names)} names for {len(paths)} lists")
    if len(set(names)) < len(names) or not all(n.isidentifier() for n in names):
        raise InputError(f"list names must be distinct words (letters, digits, _): {names}")
    return names


def link_card(args, names: list[str], strata: list[str]) -> str:
    """The settings of this run as TOML text (stored and hashed in posterior.nc)."""
    link = {"lists": [str(p) for p in args.lists], "names": names, "strata": strata,
            "linkages": args.linkages, "min_cell": args.min_cell, "threshold": args.threshold,
            "backend": args.backend}
    sections = {"run": {"name": Path(args.out).name, "model": args.model, "seed": args.seed},
                "link": link, "sampler": {"draws": args.draws, "tune": args.tune,
                                          "chains": args.chains}}
    return "\n".join(f"[{s}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in d.items())
                     for s, d in sections.items())


def _check(args) -> None:
    if args.linkages < 1 or args.min_cell < 0 or not 0 < args.threshold < 1:
        raise InputError("--linkages must be >= 1, --min-cell >= 0 and --threshold in (0, 1)")
    if args.model not in REGISTRY:
        raise InputError(f"unknown model '{args.model}'; choose one of {', '.join(REGISTRY)}")


def cmd_link(args) -> int:
    _check(args)
    paths = [Path(p) for p in args.lists]
    names = _names(args.names, paths)
    strata = [s.strip() for s in args.strata.split(",") if s.strip()] if args.strata else []
    lists = [lk.read_record_list(p, n) for p, n in zip(paths, names)]
    lk.check_lists(lists, strata)  # all input checked: from here on nothing is bad input
    progress = not args.quiet
    scored = lk.score(lists, seed=args.seed, threshold=args.threshold, backend=args.backend,
                      progress=progress)
    of_record = np.concatenate([np.full(r.n, i) for i, r in enumerate(lists)])
    values = {c: np.array(sum((r.features[c] if c in r.fields else [None] * r.n
                               for r in lists), []), dtype=object) for c in strata}
    draws = lu.sample_linkages(scored.pair_left, scored.pair_right, scored.probability,
                               len(of_record), args.linkages if args.linkages > 1 else 0,
                               args.seed)
    best = lu.capture_table(scored.best, of_record, names, values)
    keys = sorted(set(lu.stratum_keys(best)).union(*(
        lu.stratum_keys(lu.capture_table(d, of_record, names, values)) for d in draws)))
    best = lu.capture_table(scored.best, of_record, names, values, keys)
    tables = [lu.capture_table(d, of_record, names, values, keys) for d in draws]
    summary = _summary(lists, scored, best, tables, of_record)
    table_text, summary["privacy"] = privacy.capture_table_csv(best, args.min_cell)
    out, code = Path(args.out), 0
    if args.linkages > 1:
        card_text = link_card(args, names, strata)
        sampler = dict(SAMPLER_DEFAULTS) | {"draws": args.draws, "tune": args.tune,
                                            "chains": args.chains}
        card = RunCard(name=out.name, model=args.model, seed=args.seed,
                       table=out / "capture_table.csv", sampler=sampler)
        fits = [lu.fit_table(card, t, stratum_seed(args.seed, i, stream=2), progress)
                for i, t in enumerate([best] + tables)]
        pooled, summary["uncertainty"] = lu.pool([n for n, _ in fits[1:]], fits[0][0])
        diagnostics = lu.pooled_diagnostics([d for _, d in fits[1:]])
        tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"N": pooled}),
                                      "observed_data": privacy.observed_data(best)})
        rows = summaries.estimate_rows(tree, diagnostics["unestimable_strata"])
        tree["observed_data"] = xr.DataTree(privacy.observed_data(best, args.min_cell))
        attrs = provenance_attrs(card_text, paths, args.seed, diagnostics)
        io.write_posterior(tree, out / "posterior.nc", attrs)
        io.write_text(out / "estimates.csv", summaries.rows_to_csv(
            privacy.blank_small_observed(rows, args.min_cell)))
        io.write_json(out / "diagnostics.json", diagnostics)
        code = 0 if diagnostics["converged"] and diagnostics["estimable"] else 3
        if progress:
            print(summaries.terminal_table(rows, diagnostics))
    io.write_text(out / "capture_table.csv", table_text)
    io.write_json(out / "linkage_summary.json", summary)
    if progress:
        u = summary.get("uncertainty")
        print(f"linked {summary['records']} records into {summary['people_best']} people; "
              + (f"share of Var(N) from linkage {u['share_of_variance_from_linkage']:.2f}, "
                 f"95% width pooled/best {u['width_ratio_pooled_to_best']:.2f}" if u else ""))
    print(f"wrote {out}/capture_table.csv, linkage_summary.json"
          + (", posterior.nc, estimates.csv, diagnostics.json" if args.linkages > 1 else ""))
    return code


def _summary(lists, scored, best, tables, of_record) -> dict:
    """Counts and probability summaries only: nothing in here identifies a record."""
    p = scored.probability
    people = [int(t.observed.sum()) for t in tables]
    per_list = {}
    for i, rec in enumerate(lists):
        mine = scored.best[of_record == i]
        per_list[rec.name] = {"records": rec.n, "people": int(len(np.unique(mine))),
                              "fields": list(rec.fields)}
    quantiles = np.quantile(p, [0.05, 0.25, 0.5, 0.75, 0.95]).tolist() if len(p) else []
    return {
        "method": "splink Fellegi-Sunter (u by random sampling, m by EM), link_and_dedupe; "
                  "linkages drawn pairwise from match probabilities, connected components",
        "lists": per_list, "records": int(len(of_record)),
        "people_best": int(best.observed.sum()), "threshold": scored.threshold,
        "candidate_pairs": int(len(p)),
        "match_probability": {"quantiles_05_25_50_75_95": quantiles,
                              "pairs_at_or_above_threshold": int((p >= scored.threshold).sum()),
                              "expected_matching_pairs": float(p.sum())} | scored.info,
        "people_by_linkage": {"min": min(people), "median": float(np.median(people)),
                              "max": max(people)} if people else None,
    }
