"""The `simulate` and `calibrate` subcommands; `register(subparsers)` adds them to `cli`.

``darkfigure simulate SCENARIO.toml --out DIR [--seed S] [--shape aggregated|records]``
writes one world: ``capture.csv``, ``official.csv`` (when the scenario has official counts),
``coverage.csv`` and ``truth.json``. ``--seed S`` is the replicate seed: the world equals
replicate S of a calibration study of that scenario.

``darkfigure calibrate --scenarios scenarios/*.toml --models loglinear,bma,latent-class
--replicates R --out DIR [--scheduler ADDRESS] [--workers W] [--draws D --tune T --chains C]``
runs (or resumes) the study in DIR and writes its report: ``calibration.csv``/``.tex``,
``sbc.csv``/``.tex``, ``coverage.pdf``/``.png``, ``sbc_ecdf.pdf``/``.png``.

Exit codes: 0 ok; 2 bad input (`InputError`, nothing written); 3 the study ran but some
replicates failed (their ``.error.json`` records are kept and retried on resume).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import calibrate as cal
from . import calibration_report as report
from . import io, simulate
from .cli_common import comma_names
from .errors import InputError
from .scenarios import read_scenario

EXIT_OK, EXIT_FAILED_REPLICATES = 0, 3  # bad input (2) is `cli.main`'s


def cmd_simulate(args) -> int:
    if args.shape not in ("aggregated", "records"):
        raise InputError(f"--shape '{args.shape}': choose aggregated or records")
    scenario = read_scenario(args.scenario)
    world = simulate.generate(scenario, args.seed)
    out = Path(args.out)
    io.write_text(out / "capture.csv", simulate.table_csv(world, args.shape))
    official = simulate.official_csv(world)
    if official is not None:
        io.write_text(out / "official.csv", official)
    io.write_text(out / "coverage.csv", simulate.coverage_csv(world))
    truth = simulate.truth(world)
    io.write_json(out / "truth.json", truth)
    print(f"{scenario.name} (seed {args.seed}): N = {truth['total']['N']:,}, observed "
          f"{truth['total']['observed']:,}; wrote {out}/capture.csv, coverage.csv, truth.json"
          + (", official.csv" if official is not None else ""))
    return EXIT_OK


def _models(text: str | None) -> list[str]:
    from .models import capture_families

    known = capture_families()
    names = comma_names(text) if text else known
    unknown = [m for m in names if m not in known]
    if unknown:
        raise InputError(f"unknown model '{unknown[0]}' for capture tables; choose from "
                         f"{', '.join(known)}")
    return names


def write_report(out: Path, records: list[dict], notes: list[str]) -> None:
    """Tables and figures of the records in ``out`` (atomically, via io)."""
    rows = report.coverage_rows(records)
    io.write_text(out / "calibration.csv", cal_csv(rows, report.COVERAGE_COLUMNS))
    io.write_text(out / "calibration.tex", report.to_latex(
        rows, report.LATEX_COLUMNS, "Coverage, bias, RMSE and 95\\% interval width of N "
        "(and of N/official) by scenario and model", "tab:calibration"))
    sbc = report.sbc_rows(records)
    io.write_text(out / "sbc.csv", cal_csv(sbc, report.SBC_COLUMNS))
    io.write_text(out / "sbc.tex", report.to_latex(
        sbc, report.SBC_COLUMNS, "Simulation-based calibration of N under each model's truncated "
        "prior", "tab:sbc"))
    io.write_text(out / "notes.txt", "\n".join(notes) + "\n")
    for name, figure in (("coverage", report.coverage_figure(rows)),
                         ("sbc_ecdf", report.sbc_figure(records))):
        for fmt in ("pdf", "png"):
            io.write_figure(out / f"{name}.{fmt}", figure, dpi=200)


def cal_csv(rows: list[dict], columns: list[str]) -> str:
    from .summaries import rows_to_csv

    ordered = [{c: r.get(c) for c in columns} for r in rows]
    return rows_to_csv(ordered) if ordered else ",".join(columns) + "\n"


def cmd_calibrate(args) -> int:
    models = _models(args.models)
    scenarios = [read_scenario(p) for p in args.scenarios]
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise InputError(f"two scenario files share a name: {sorted(names)}")
    if args.replicates < 1:
        raise InputError(f"--replicates is {args.replicates}; it must be at least 1")
    override = {"draws": args.draws, "tune": args.tune, "chains": args.chains}
    sbc_replicates = args.replicates if args.sbc_replicates is None else args.sbc_replicates
    tasks, notes = cal.plan(scenarios, models, args.replicates, override, sbc_replicates,
                            args.sbc_lists)
    out = Path(args.out)
    counts = {"error": 0}
    if not args.report_only:
        cal.check_settings(out, {m: cal.settings_for(m, override) for m in models})
        say = (lambda _: None) if args.quiet else (lambda line: print(line, flush=True))
        counts = cal.run_study(tasks, out, scheduler=args.scheduler, workers=args.workers,
                               report=say)
    records = cal.load_records(out)
    write_report(out, records, notes)
    print(f"{len(records)} replicate records; wrote {out}/calibration.csv, calibration.tex, "
          "sbc.csv, sbc.tex, coverage.pdf, sbc_ecdf.pdf")
    for note in notes:
        print(f"note: {note}")
    if counts["error"]:
        print(f"{counts['error']} replicate(s) failed: see {out}/records/**/*.error.json; "
              "rerun the same command to retry them")
        return EXIT_FAILED_REPLICATES
    return EXIT_OK


def register(subparsers) -> None:
    """Add `simulate` and `calibrate` to the `darkfigure` parser's subcommands."""
    sim = subparsers.add_parser("simulate", help="write a scenario world with known truth")
    sim.add_argument("scenario", help="scenario TOML file")
    sim.add_argument("--out", required=True, help="output directory")
    sim.add_argument("--seed", type=int, default=0, help="replicate seed (default 0)")
    sim.add_argument("--shape", default="aggregated", help="aggregated (default) or records")
    sim.set_defaults(func=cmd_simulate)
    cal_ = subparsers.add_parser("calibrate", help="coverage and SBC study on Dask")
    cal_.add_argument("--scenarios", nargs="+", required=True, help="scenario TOML files")
    cal_.add_argument("--models", help="comma-separated models (default: every registered)")
    cal_.add_argument("--replicates", type=int, default=100)
    cal_.add_argument("--sbc-replicates", type=int, default=None,
                      help="SBC replicates per model (default: --replicates; 0: none)")
    cal_.add_argument("--sbc-lists", type=int, default=cal.SBC_LISTS)
    cal_.add_argument("--out", required=True, help="study directory (resumable)")
    cal_.add_argument("--scheduler", help="address of a Dask scheduler (default: a local "
                      "cluster of worker processes)")
    cal_.add_argument("--workers", type=int, default=2, help="local worker processes")
    for flag in ("draws", "tune", "chains"):
        cal_.add_argument(f"--{flag}", type=int, default=None,
                          help=f"{flag} for every model (default: per family, see "
                          "calibrate.FIT_SETTINGS)")
    cal_.add_argument("--report-only", action="store_true",
                      help="only rebuild the tables and figures from the records")
    cal_.add_argument("--quiet", action="store_true", help="no progress output")
    cal_.set_defaults(func=cmd_calibrate)
