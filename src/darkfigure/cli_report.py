"""The `report` subcommand; `register(subparsers)` adds it to `cli`.

``darkfigure report results/RUN.nc [MORE.nc ...] --out reports/`` writes ``reports/RUN.md``
and ``reports/RUN.html`` per posterior file: the plain-language report of `darkfigure.report`.
Every file is read and its report built before anything is written, so one bad file (exit 2,
message naming it) leaves the output folder untouched. Unconverged fits still get a report,
which says so at the top; the command then notes it on stderr but exits 0, since the report
itself is complete.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import report
from .errors import InputError

EXIT_OK = 0


def cmd_report(args) -> int:
    stems = [Path(p).stem for p in args.posteriors]
    repeated = sorted({s for s in stems if stems.count(s) > 1})
    if repeated:
        raise InputError(f"two posterior files share the name {repeated[0]}.nc; their reports "
                         f"would overwrite each other in {args.out}")
    built = [report.build(path) for path in args.posteriors]
    for item in built:
        paths = report.write(item, args.out)
        print(f"wrote {paths[0]}, {paths[1]}")
        if not item.converged:
            print(f"note: {item.name} did not converge; its report says so at the top",
                  file=sys.stderr)
    return EXIT_OK


def register(subparsers) -> None:
    """Add `report` to the `darkfigure` parser's subcommands."""
    rep = subparsers.add_parser("report", help="plain-language Markdown and HTML reports of "
                                "posterior files")
    rep.add_argument("posteriors", nargs="+", metavar="POSTERIOR.nc",
                     help="posterior files written by fit or estimate")
    rep.add_argument("--out", required=True, help="output folder for NAME.md and NAME.html")
    rep.set_defaults(func=cmd_report)
