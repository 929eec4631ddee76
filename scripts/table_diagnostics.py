"""Table (appendix): the convergence diagnostics of every posterior the paper uses: max R-hat,
bulk ESS of N, divergences, seconds and whether the fit passed its thresholds. Reads
posterior files only.

usage: table_diagnostics.py OUT.tex RESULT.nc ...
"""

import sys
from pathlib import Path

from paper_common import number, summarise, tex_escape
from darkfigure.io import write_text


def main(out: Path, paths: list[str]) -> None:
    lines = ["\\begin{tabular}{llrrrrl}", "\\toprule",
             "Run & Model & max $\\hat R$ & ESS$_N$ & Div. & Seconds & Verdict \\\\",
             "\\midrule"]
    for path in paths:
        row = summarise(path)
        d = row["diagnostics"]
        verdict = ("not estimable" if not row["estimable"]
                   else "converged" if row["converged"] else "\\textbf{not converged}")
        rhat, ess = d.get("max_rhat"), d.get("min_ess_bulk_N")
        lines.append(" & ".join([
            tex_escape(row["run"]), tex_escape(row["model"]),
            number(rhat, 3) if rhat is not None else "--",
            number(ess) if ess is not None else "--",
            str(d.get("divergences", "--")), number(d.get("seconds", float("nan")), 1),
            verdict]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    write_text(out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
