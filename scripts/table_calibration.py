"""Table: coverage of the central 50/90/95% intervals of N, relative bias and mean width of
the 95% interval per scenario and model, from a calibration study's calibration.csv (the
per-replicate records summarised by `darkfigure calibrate`). Narrower than the study's own
LaTeX table, so it fits a page; the CSV keeps every column.

usage: table_calibration.py CALIBRATION.csv OUT.tex
"""

import csv
import sys
from pathlib import Path

from paper_common import number, tex_escape
from darkfigure.io import write_text

COLUMNS = [("cover50", "50\\%", 0, 100), ("cover90", "90\\%", 0, 100),
           ("cover95", "95\\%", 0, 100), ("rel_bias", "rel.\\ bias", 2, 1),
           ("width95", "95\\% width", 0, 1)]


def main(source: Path, out: Path) -> None:
    with source.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["level"] == "stratum"]
    if not rows:
        sys.exit(f"{source}: no per-stratum rows; run the calibration study first")
    head = " & ".join(label for _, label, _, _ in COLUMNS)
    lines = ["\\begin{tabular}{llr" + "r" * len(COLUMNS) + "}", "\\toprule",
             " & & & \\multicolumn{3}{c}{coverage of $N$ (\\%)} & & \\\\",
             "\\cmidrule(lr){4-6}", f"Scenario & Model & Reps & {head} \\\\", "\\midrule"]
    previous = None
    for r in rows:
        scenario = tex_escape(r["scenario"]) if r["scenario"] != previous else ""
        if previous is not None and r["scenario"] != previous:
            lines.append("\\addlinespace")
        previous = r["scenario"]
        cells = [number(float(r[key]) * scale, digits) if r.get(key) else "--"
                 for key, _, digits, scale in COLUMNS]
        lines.append(" & ".join([scenario, tex_escape(r["model"]), r["replicates"], *cells])
                     + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    write_text(out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
