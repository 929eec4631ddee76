"""`darkfigure link`: record lists -> privacy-filtered capture table -> N with linkage doubt.

Argument parsing only; the run is `darkfigure.linkage_run.link_lists`.

``darkfigure link court.csv ngo.csv shelter.csv --out DIR [--names court,ngo,shelter]
[--strata region,sector] [--linkages 20] [--min-cell 5] [--model loglinear] [--seed S]
[--backend duckdb|spark] [--threshold 0.5] [--all-pairs-max P] [--draws D] [--tune T]
[--chains C]`` writes

- ``DIR/capture_table.csv``: people per capture pattern and stratum at the best linkage
  (people are the connected pairs with match probability >= threshold), small cells suppressed;
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

from .cli_common import comma_names
from .linkage import ALL_PAIRS_MAX
from .linkage_run import LinkOptions, link_lists
from .runcard import SAMPLER_DEFAULTS


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
    cmd.add_argument("--all-pairs-max", type=int, default=ALL_PAIRS_MAX,
                     help="compare every pair of records while there are at most this many "
                     "pairs (default %(default)s, about 4,500 records); above, only the pairs "
                     "that the blocking rules propose; 0: always block")
    cmd.add_argument("--draws", type=int, default=SAMPLER_DEFAULTS["draws"])
    cmd.add_argument("--tune", type=int, default=SAMPLER_DEFAULTS["tune"])
    cmd.add_argument("--chains", type=int, default=SAMPLER_DEFAULTS["chains"])
    cmd.add_argument("--quiet", action="store_true", help="no progress output")
    cmd.set_defaults(func=cmd_link)


def cmd_link(args) -> int:
    """Hand the flags to `darkfigure.linkage_run.link_lists` (all logic lives there)."""
    opts = LinkOptions(
        lists=[Path(p) for p in args.lists], out=Path(args.out),
        names=comma_names(args.names) or None, strata=comma_names(args.strata), linkages=args.linkages,
        min_cell=args.min_cell, model=args.model, seed=args.seed, backend=args.backend,
        threshold=args.threshold, all_pairs_max=args.all_pairs_max, progress=not args.quiet,
        sampler=dict(SAMPLER_DEFAULTS) | {"draws": args.draws, "tune": args.tune,
                                          "chains": args.chains})
    return link_lists(opts)
