"""Held-out-list validation for the paper: the summary beside Binette & Steorts' published
figures, the log relative bias of every model on every summarised list, and what the two
worst lists alone do to the RMSE (from `heldout_validation.py`'s heldout.csv and
heldout_summary.csv).

Writes one LaTeX file of macros, input in the preamble: ``\\HeldoutSummaryTable`` and
``\\HeldoutListTable`` (tabular bodies) and the numbers the text quotes.

usage: table_heldout.py HELDOUT_DIR OUT.tex
"""

import csv
import sys
from pathlib import Path

import numpy as np

from heldout_validation import PROTOCOLS
from paper_common import number, tex_escape
from darkfigure.io import write_text

PUBLISHED = next(iter(PROTOCOLS))
#: The RMSE and coverage the issue sets as the target (Binette & Steorts' best figures).
TARGET_RMSE, TARGET_COVERAGE = 0.55, 0.90


def read(path: Path) -> list[dict]:
    if not path.exists():
        sys.exit(f"{path}: missing; run scripts/heldout_validation.py first")
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def signed(value: float) -> str:
    return f"${value:+.2f}$"


def macro(name: str, value: str) -> str:
    return f"\\newcommand{{\\{name}}}{{{value}}}\n"


def summary_table(summary: list[dict]) -> str:
    lines = ["\\begin{tabular}{lrrrrr}", "\\toprule",
             "Model & Lists & Mean log rel.\\ bias & RMSE & 95\\% coverage & Unconverged \\\\",
             "\\midrule"]
    ours = [r for r in summary if r["protocol"] == PUBLISHED and r["n"]]
    theirs = [r for r in summary if r["protocol"] == PUBLISHED and not r["n"]]
    for group in (ours, theirs):
        for r in group:
            lines.append(" & ".join([
                tex_escape(r["model"]), r["n"] or "--",
                signed(float(r["mean_log_relative_bias"])),
                number(float(r["rmse_log_relative_bias"]), 2),
                number(float(r["coverage"]), 2), r["unconverged"] or "--"]) + " \\\\")
        if group is ours:
            lines.append("\\midrule")
    return "\n".join(lines + ["\\bottomrule", "\\end{tabular}"])


def main(folder: Path, out: Path) -> None:
    rows = read(folder / "heldout.csv")
    summary = read(folder / "heldout_summary.csv")
    for r in rows:
        r["summarised"] = r["summarised"] == "True"
        r["covered"] = r["covered"] == "True"
    kept = [r for r in rows if PROTOCOLS[PUBLISHED](r)]
    models = list(dict.fromkeys(r["model"] for r in kept))
    lists = list(dict.fromkeys((r["table"], r["list"]) for r in kept))
    bias = {(r["model"], r["table"], r["list"]): float(r["log_relative_bias"]) for r in kept}
    covered = {(r["model"], r["table"], r["list"]): r["covered"] for r in kept}
    first = {(r["table"], r["list"]): r for r in kept}

    head = " & ".join(tex_escape(m) for m in models)
    lines = ["\\begin{tabular}{llrr" + "r" * len(models) + "}", "\\toprule",
             f"Table & List & Members & Seen & {head} \\\\", "\\midrule"]
    for table, name in lists:
        r = first[(table, name)]
        cells = [signed(bias[(m, table, name)]) + ("" if covered[(m, table, name)] else "*")
                 for m in models]
        lines.append(" & ".join([tex_escape(table), tex_escape(name), number(float(r["truth"])),
                                 number(float(r["observed"])), *cells]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]

    # The two lists every model misses most (largest mean squared log error over models), and
    # the RMSE each model would have if it were exact on every other list: a floor that no
    # improvement elsewhere can lower.
    mse = {key: np.mean([bias[(m, *key)] ** 2 for m in models]) for key in lists}
    worst = sorted(lists, key=lambda key: -mse[key])[:2]
    floors = [np.sqrt(sum(bias[(m, *key)] ** 2 for key in worst) / len(lists)) for m in models]
    meets = [r["model"] for r in summary if r["protocol"] == PUBLISHED and r["n"]
             and float(r["rmse_log_relative_bias"]) < TARGET_RMSE
             and float(r["coverage"]) >= TARGET_COVERAGE]
    names = " and ".join(f"\\texttt{{{tex_escape(t)}}} {tex_escape(n)}" for t, n in worst)
    worst_bias = [bias[(m, *key)] for m in models for key in worst]
    seen = [100 * float(first[key]["observed"]) / float(first[key]["truth"]) for key in worst]
    text = (macro("HeldoutSummaryTable", summary_table(summary))
            + macro("HeldoutListTable", "\n".join(lines))
            + macro("HeldoutLists", str(len(lists)))
            + macro("HeldoutWorstLists", names)
            + macro("HeldoutWorstFactorLo", number(float(np.exp(-max(worst_bias))), 1))
            + macro("HeldoutWorstFactorHi", number(float(np.exp(-min(worst_bias))), 1))
            + macro("HeldoutWorstSeenLo", number(min(seen)))
            + macro("HeldoutWorstSeenHi", number(max(seen)))
            + macro("HeldoutFloorLo", number(float(min(floors)), 2))
            + macro("HeldoutFloorHi", number(float(max(floors)), 2))
            + macro("HeldoutTargetRmse", number(TARGET_RMSE, 2))
            + macro("HeldoutTargetCoverage", number(TARGET_COVERAGE, 2))
            + macro("HeldoutMeetsTarget", ", ".join(meets) if meets else "none of our models"))
    write_text(out, text)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
