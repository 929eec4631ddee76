"""Table: N per benchmark table under each of our models, beside the R packages run on the
same table (data/raw/benchmarks/r_packages.csv: LCMCR, dga, SparseMSE) and the published
estimate (data/raw/benchmarks/published.csv). Median and 95% interval; a dagger marks a fit
that did not converge. Reads posterior files only.

usage: table_benchmarks.py OUT.tex RESULT.nc ...
"""

import csv
import sys
from pathlib import Path

from paper_common import interval, number, summarise, tex_escape
from darkfigure.io import write_text

BENCH = Path("data/raw/benchmarks")
R_METHODS = {"LCMCR_K10": "R: LCMCR (K=10)", "dga_BMA": "R: dga (BMA)",
             "SparseMSE_stepwise_BCa": "R: SparseMSE stepwise"}


def reference_rows() -> dict[str, list[tuple[str, str]]]:
    """(label, 'median [lo, hi]') per table from the R packages and the literature."""
    rows: dict[str, list] = {}
    with (BENCH / "r_packages.csv").open(encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            if r["method"] in R_METHODS:
                rows.setdefault(r["dataset"], []).append(
                    (R_METHODS[r["method"]], f"{number(float(r['N_median']))} "
                     f"[{number(float(r['lo95']))}, {number(float(r['hi95']))}]"))
    with (BENCH / "published.csv").open(encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            if r["estimate"] or r["lo"]:
                value = number(float(r["estimate"])) if r["estimate"] else "--"
                bounds = f" [{number(float(r['lo']))}, {number(float(r['hi']))}]" \
                    if r["lo"] and r["hi"] else ""
                method = r["method"].split("(")[0].split(" with ")[0].strip()
                rows.setdefault(r["dataset"], []).append(
                    (f"published: {tex_escape(method[:38])}", value + bounds))
    return rows


def main(out: Path, paths: list[str]) -> None:
    ours: dict[str, list] = {}
    for path in paths:
        row = summarise(path)
        ours.setdefault(row["table"], []).append((f"darkfigure: {row['model']}", interval(row)))
    refs = reference_rows()
    lines = ["\\begin{tabular}{llr}", "\\toprule",
             "Table & Method & $N$: median [95\\% interval] \\\\", "\\midrule"]
    for t, table in enumerate(sorted(ours)):
        entries = sorted(ours[table]) + refs.get(table, [])
        for i, (label, value) in enumerate(entries):
            name = tex_escape(table.replace("_", " ")) if i == 0 else ""
            lines.append(f"{name} & {label} & {value} \\\\")
        lines.append("\\midrule" if t < len(ours) - 1 else "\\bottomrule")
    lines.append("\\end{tabular}")
    write_text(out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
