"""The `darkfigure` command: subcommands that parse flags and call the library.

Exit codes: 0 converged; 3 ran but did not converge, or N has no estimate from the data
(outputs written and flagged); 2 bad input
(message names file, line and problem; nothing written); 1 `reproduce` found disagreement.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from . import cli_calibration, cli_linkage, cli_report, io, summaries, workflow
from .cli_common import comma_names
from .errors import DataWarning, InputError, ProvenanceWarning
from .heldout import MIN_OBSERVED
from .runcard import SAMPLER_DEFAULTS, RunCard, aggregate_sources, read_card

EXIT_OK, EXIT_DISAGREE, EXIT_BAD_INPUT, EXIT_NOT_CONVERGED = 0, 1, 2, 3


def _names(text: str | None) -> tuple[str, ...] | None:
    return tuple(comma_names(text)) if text else None


def _card_from_flags(args) -> RunCard:
    sampler = dict(SAMPLER_DEFAULTS) | {"draws": args.draws, "tune": args.tune,
                                        "chains": args.chains}
    return RunCard(name=Path(args.out).name, model=args.model, seed=args.seed,
                   table=Path(args.table), lists=_names(args.lists), strata=_names(args.strata),
                   official=Path(args.official) if args.official else None,
                   coverage=Path(args.coverage) if args.coverage else None,
                   aggregates=_aggregate_flags(getattr(args, "aggregate", None)),
                   sampler=sampler)


def _aggregate_flags(values: list[str] | None):
    """--aggregate F or --aggregate NAME=F, repeatable; a bare F is named by its file stem."""
    if not values:
        return ()
    named = [v.split("=", 1) if "=" in v else None for v in values]
    if all(n is None for n in named):
        return aggregate_sources(list(values), path="--aggregate")
    pairs = {}
    for value, pair in zip(values, named):
        name, path = pair if pair else (Path(value).stem, value)
        if name in pairs:
            raise InputError(f"--aggregate: two sources are named '{name}'")
        pairs[name] = path
    return aggregate_sources(pairs, path="--aggregate")


def _report(outcome: workflow.Outcome) -> int:
    print(summaries.terminal_table(outcome.rows, outcome.diagnostics))
    usable = outcome.diagnostics["converged"] and outcome.diagnostics["estimable"]
    return EXIT_OK if usable else EXIT_NOT_CONVERGED


def cmd_estimate(args) -> int:
    card = _card_from_flags(args)
    outcome = workflow.run(card, card.to_toml(), progress=not args.quiet)
    workflow.write_estimate_dir(Path(args.out), outcome)
    print(f"wrote {args.out}/posterior.nc, estimates.csv, diagnostics.json")
    return _report(outcome)


def cmd_fit(args) -> int:
    card, text = read_card(args.card)
    outcome = workflow.run(card, text, progress=not args.quiet)
    path = Path(args.results) / f"{card.name}.nc"
    io.write_posterior(outcome.tree, path, outcome.attrs)
    print(f"wrote {path}")
    return _report(outcome)


def cmd_compare(args) -> int:
    card = _card_from_flags(args)
    rows = workflow.compare_dir(Path(args.table), Path(args.out), card, _names(args.models),
                                omit=not args.no_omit, merge=not args.no_merge,
                                progress=not args.quiet)
    for row in rows:
        if row.get("skipped"):
            print(f"{row['variant']:<20} {row['model']:<13} skipped: {row['skipped']}")
            continue
        flag = "" if row["converged"] else "  NOT CONVERGED"
        print(f"{row['variant']:<20} {row['model']:<13} N {row['N_median']:>10,.0f} "
              f"[{row['N_q025']:,.0f}, {row['N_q975']:,.0f}]{flag}")
    print(f"wrote {args.out}/compare.csv, compare.png")
    return EXIT_OK if all(r.get("skipped") or r["converged"] for r in rows) \
        else EXIT_NOT_CONVERGED


def cmd_validate(args) -> int:
    card = _card_from_flags(args)
    rows, summary = workflow.validate_dir(Path(args.out), card, progress=not args.quiet,
                                          min_observed=args.min_observed)
    for row in rows:
        print(f"held out {row['list']:<8} truth {row['truth']:>6}  seen {row['observed']:>5}"
              f"  N {row['N_median']:>8,.0f} [{row['N_lo']:,.0f}, {row['N_hi']:,.0f}]  log rel."
              f" bias {row['log_relative_bias']:+.2f}  {'covered' if row['covered'] else 'MISSED'}"
              f"{'' if row['summarised'] else '  (too few seen: not summarised)'}")
    left_out = (f"{summary['n_excluded']} with fewer than {args.min_observed} members seen "
                f"by the other lists left out")
    if summary["n"]:
        print(f"{summary['n']} lists summarised ({left_out}): mean log relative bias "
              f"{summary['mean_log_relative_bias']:+.2f}, RMSE "
              f"{summary['rmse_log_relative_bias']:.2f}, 95% coverage {summary['coverage']:.2f}")
    else:
        print(f"no list summarised ({left_out}): lower --min-observed to summarise them")
    return EXIT_OK if all(r["converged"] for r in rows) else EXIT_NOT_CONVERGED


def cmd_reproduce(args) -> int:
    ok, report = workflow.reproduce(Path(args.posterior), progress=not args.quiet)
    for row in report:
        print(f"{'ok ' if row['agrees'] else 'BAD'}  {row['quantity']:<24} {row['how']}")
    print("reproduced" if ok else "NOT reproduced")
    return EXIT_OK if ok else EXIT_DISAGREE


def _table_flags(command: argparse.ArgumentParser, with_sides: bool = True) -> None:
    command.add_argument("table")
    command.add_argument("--out", required=True, help="output directory")
    command.add_argument("--lists", help="comma-separated list columns")
    command.add_argument("--strata", help="comma-separated stratum columns")
    command.add_argument("--official", help="CSV of official counts per stratum"
                         if with_sides else argparse.SUPPRESS)
    command.add_argument("--coverage", help="CSV of which lists operated in which strata"
                         if with_sides else argparse.SUPPRESS)
    if with_sides:
        command.add_argument("--aggregate", action="append", metavar="[NAME=]CSV",
                             help="aggregate-only source: counts by some stratum columns "
                             "(hierarchical model; repeatable)")
    command.add_argument("--model", default="loglinear")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--draws", type=int, default=SAMPLER_DEFAULTS["draws"])
    command.add_argument("--tune", type=int, default=SAMPLER_DEFAULTS["tune"])
    command.add_argument("--chains", type=int, default=SAMPLER_DEFAULTS["chains"])


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="darkfigure", description="Bayesian multiple-systems "
                                  "estimation of hidden populations")
    sub = top.add_subparsers(dest="command", required=True)
    est = sub.add_parser("estimate", help="estimate N from a capture table")
    _table_flags(est)
    est.set_defaults(func=cmd_estimate)
    com = sub.add_parser("compare", help="N under every applicable model, with lists omitted "
                         "and merged")
    _table_flags(com, with_sides=False)
    com.add_argument("--models", help="comma-separated models (default: every applicable)")
    com.add_argument("--no-omit", action="store_true", help="skip the list-omission refits")
    com.add_argument("--no-merge", action="store_true", help="skip the list-merging refits")
    com.set_defaults(func=cmd_compare)
    val = sub.add_parser("validate", help="held-out-list validation (Binette & Steorts 2021)")
    _table_flags(val, with_sides=False)
    val.add_argument("--min-observed", type=int, default=MIN_OBSERVED,
                     help="fewest members of a held-out list seen by the other lists for it "
                          f"to enter the summary (default {MIN_OBSERVED}, as Binette & "
                          "Steorts 2021)")
    val.set_defaults(func=cmd_validate)
    fit = sub.add_parser("fit", help="fit a run card into results/<name>.nc")
    fit.add_argument("card")
    fit.add_argument("--results", default="results")
    fit.set_defaults(func=cmd_fit)
    rep = sub.add_parser("reproduce", help="refit a posterior file from its stored run card")
    rep.add_argument("posterior")
    rep.set_defaults(func=cmd_reproduce)
    cli_linkage.register(sub)
    cli_calibration.register(sub)
    cli_report.register(sub)
    for command in (est, com, val, fit, rep):
        command.add_argument("--quiet", action="store_true", help="no progress output")
    return top


_default_showwarning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """darkfigure's own warnings print as one plain line; others keep Python's format."""
    label = {DataWarning: "warning", ProvenanceWarning: "provenance"}.get(category)
    if label:
        print(f"{label}: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        return args.func(args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
