"""The `darkfigure` command: subcommands that parse flags and call the library.

Exit codes: 0 converged; 3 ran but did not converge (outputs written and flagged); 2 bad input
(message names file, line and problem; nothing written); 1 `reproduce` found disagreement.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from . import io, summaries, workflow
from .errors import DataWarning, InputError, ProvenanceWarning
from .runcard import SAMPLER_DEFAULTS, RunCard, read_card

EXIT_OK, EXIT_DISAGREE, EXIT_BAD_INPUT, EXIT_NOT_CONVERGED = 0, 1, 2, 3


def _names(text: str | None) -> tuple[str, ...] | None:
    return tuple(n.strip() for n in text.split(",") if n.strip()) if text else None


def _card_from_flags(args) -> RunCard:
    sampler = dict(SAMPLER_DEFAULTS) | {"draws": args.draws, "tune": args.tune,
                                        "chains": args.chains}
    return RunCard(name=Path(args.out).name, model=args.model, seed=args.seed,
                   table=Path(args.table), lists=_names(args.lists), strata=_names(args.strata),
                   official=Path(args.official) if args.official else None,
                   coverage=Path(args.coverage) if args.coverage else None, sampler=sampler)


def _report(outcome: workflow.Outcome) -> int:
    print(summaries.terminal_table(outcome.rows, outcome.diagnostics))
    return EXIT_OK if outcome.diagnostics["converged"] else EXIT_NOT_CONVERGED


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


def cmd_reproduce(args) -> int:
    ok, report = workflow.reproduce(Path(args.posterior), progress=not args.quiet)
    for row in report:
        print(f"{'ok ' if row['agrees'] else 'BAD'}  {row['quantity']:<24} {row['how']}")
    print("reproduced" if ok else "NOT reproduced")
    return EXIT_OK if ok else EXIT_DISAGREE


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="darkfigure", description="Bayesian multiple-systems "
                                  "estimation of hidden populations")
    sub = top.add_subparsers(dest="command", required=True)
    est = sub.add_parser("estimate", help="estimate N from a capture table")
    est.add_argument("table")
    est.add_argument("--out", required=True, help="output directory")
    est.add_argument("--lists", help="comma-separated list columns")
    est.add_argument("--strata", help="comma-separated stratum columns")
    est.add_argument("--official", help="CSV of official counts per stratum")
    est.add_argument("--coverage", help="CSV of which lists operated in which strata")
    est.add_argument("--model", default="loglinear")
    est.add_argument("--seed", type=int, default=0)
    est.add_argument("--draws", type=int, default=SAMPLER_DEFAULTS["draws"])
    est.add_argument("--tune", type=int, default=SAMPLER_DEFAULTS["tune"])
    est.add_argument("--chains", type=int, default=SAMPLER_DEFAULTS["chains"])
    est.set_defaults(func=cmd_estimate)
    fit = sub.add_parser("fit", help="fit a run card into results/<name>.nc")
    fit.add_argument("card")
    fit.add_argument("--results", default="results")
    fit.set_defaults(func=cmd_fit)
    rep = sub.add_parser("reproduce", help="refit a posterior file from its stored run card")
    rep.add_argument("posterior")
    rep.set_defaults(func=cmd_reproduce)
    for command in (est, fit, rep):
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
