# The paper's DAG: run cards -> posteriors -> figures and tables -> paper/paper.pdf.
#
#   snakemake --cores 2 --rerun-triggers mtime          (what `make all` runs)
#   snakemake -n --rerun-triggers mtime                 (what would run, and why)
#
# The folder models/ is the list of runs. A fit's declared inputs are its run card, the files
# the card reads, and the code the fit executes: the card's model family module with every
# package module it imports (found by reading the import statements, so a new helper module
# is picked up without editing this file) and the core modules of `darkfigure fit`. A changed
# family refits only the cards of that family; an unchanged one is left alone.
#
# `--rerun-triggers mtime`: Snakemake 8+ also reruns when a rule's code, parameters or software
# environment changed since its metadata was recorded; with a fresh clone (no .snakemake/
# metadata) or with results made by `darkfigure fit` by hand those triggers would refit
# everything. Modification times of the declared inputs say exactly what we mean by "changed".

import ast
import tomllib
from pathlib import Path

PKG = Path("src/darkfigure")
DF = ".venv/bin/darkfigure" if Path(".venv/bin/darkfigure").exists() else "darkfigure"
PY = ".venv/bin/python" if Path(".venv/bin/python").exists() else "python"
# The reduced calibration study of the paper (the full one is `make validate`).
CAL_SCENARIOS = ["independent3", "heterogeneity5", "referral4"]
CAL_MODELS = "loglinear,bma,latent-class"
CAL_REPLICATES = 20
CAL_DIR = "results/calibration_paper"


def imports(path: Path) -> set[Path]:
    """``path`` and the package modules it imports at module level, transitively (imports
    inside functions are for optional outputs such as figures, not for the fit)."""
    seen, todo = set(), [path]
    while todo:
        p = todo.pop()
        if p in seen or not p.exists():
            continue
        seen.add(p)
        for node in ast.parse(p.read_text(encoding="utf-8")).body:
            if not (isinstance(node, ast.ImportFrom) and node.level > 0):
                continue
            base = p.parent.joinpath(*[".."] * (node.level - 1)).resolve().relative_to(Path.cwd())
            target = base.joinpath(*node.module.split(".")) if node.module else base
            todo += [target.with_suffix(".py"), target / "__init__.py"]
            todo += [target / f"{alias.name}.py" for alias in node.names]
    return seen


CORE = imports(PKG / "workflow.py")


def script_constant(path: str, name: str):
    """A literal assigned at module level in a script (read, not imported)."""
    for node in ast.parse(Path(path).read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    raise ValueError(f"{path}: no module-level {name}")


def card(run: str) -> dict:
    text = Path(f"models/{run}.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    name = data.get("run", {}).get("name", run)
    if name != run:
        raise ValueError(f"models/{run}.toml: [run] name is '{name}'; it must equal the file "
                         f"stem '{run}' (the pipeline expects results/{run}.nc)")
    return data


CARDS = {run: card(run) for run in sorted(glob_wildcards("models/{run}.toml").run)}
RUNS = list(CARDS)
BENCHMARKS = [r for r, c in CARDS.items() if "benchmarks" in c["data"].get("table", "")]
# The paper draws the first Russia run of each family (by name); every one gets diagnostics.
HIERARCHICAL = [r for r, c in CARDS.items() if c["run"]["model"] == "hierarchical"
                and r.startswith("russia")]
MULTIPLIER = [r for r, c in CARDS.items() if c["run"]["model"] == "multiplier"]
# Trace and rank plots in the appendix: one benchmark table under every family, and Russia.
DIAGNOSED = [r for r in RUNS if r.startswith("uk5_")] + HIERARCHICAL + MULTIPLIER
REPORT_CODE = sorted(str(p) for p in PKG.glob("report*.py"))


def fit_inputs(wildcards) -> list[str]:
    c = CARDS[wildcards.run]
    family = PKG / "models" / (c["run"]["model"].replace("-", "_") + ".py")
    data = [c["data"][k] for k in ("table", "official", "coverage", "figures")
            if c["data"].get(k)]
    return [f"models/{wildcards.run}.toml", *data, *sorted(map(str, CORE | imports(family)))]


def results(runs):
    return [f"results/{r}.nc" for r in runs]


def appendix_figure(path: str) -> str:
    """A LaTeX figure of one diagnostics plot (figures/diagnostics_RUN.pdf)."""
    run = Path(path).stem.removeprefix("diagnostics_").replace("_", "\\_")
    return ("\\begin{figure}[htbp]\\centering\n"
            f"\\includegraphics[width=\\textwidth]{{{Path(path).name}}}\n"
            f"\\caption{{Trace and rank plots of \\texttt{{{run}}}.}}\n\\end{{figure}}\n")


RUSSIA_FIGURES = ([f"figures/russia_heatmap_{q}.pdf" for q in ("N", "ratio")]
                  if HIERARCHICAL else []) + (["figures/russia_multiplier.pdf"]
                                              if MULTIPLIER else [])
FIGURES = (["figures/benchmarks_N.pdf", "figures/coverage.pdf", "figures/sbc_ecdf.pdf"]
           + RUSSIA_FIGURES + [f"figures/diagnostics_{r}.pdf" for r in DIAGNOSED])
TABLES = ["paper/generated/benchmarks.tex", "paper/generated/calibration.tex",
          "paper/generated/numbers.tex", "paper/generated/heldout.tex",
          "paper/generated/diagnostics.tex", "paper/generated/appendix_figures.tex"]

# The fit core and the three single-table families, which the calibration study and the
# held-out-list validation both fit.
FAMILY_CODE = CORE | {p for m in ("loglinear", "bma", "latent_class")
                      for p in imports(PKG / "models" / f"{m}.py")}
CAL_CODE = sorted(map(str, imports(PKG / "cli_calibration.py") | imports(PKG / "sbc.py")
                       | FAMILY_CODE))
CAL_OUTPUTS = [f"{CAL_DIR}/{f}" for f in ("calibration.csv", "calibration.tex", "sbc.csv",
                                          "sbc.tex", "coverage.pdf", "sbc_ecdf.pdf")]
# Held-out-list validation (Binette & Steorts 2021) on the five modern-slavery tables.
HELDOUT_TABLES = script_constant("scripts/heldout_validation.py", "TABLES")
HELDOUT_CODE = sorted(map(str, imports(PKG / "heldout.py") | FAMILY_CODE))
REPORT = "{DF} report {input[0]} --out reports/ > {output}"
CALIBRATE = ("{DF} calibrate --scenarios {input[0]} {input[1]} {input[2]} --models {CAL_MODELS}"
             " --replicates {CAL_REPLICATES} --out {CAL_DIR} --quiet")
# Records of an interrupted study are kept to resume it, but only if the same scenarios and code
# made them: a fingerprint of the inputs sits beside them, and a mismatch starts afresh.
CALIBRATE_FRESH = ("fp=$(cat {input} | sha256sum | cut -d' ' -f1); "
                   "if [ \"$(cat {CAL_DIR}/records/FINGERPRINT 2>/dev/null)\" != \"$fp\" ]; "
                   "then rm -rf {CAL_DIR}/records; fi; mkdir -p {CAL_DIR}/records && "
                   "echo $fp > {CAL_DIR}/records/FINGERPRINT; " + CALIBRATE)
NUMBERS = ("{PY} scripts/paper_numbers.py --out {output} --calibration {CAL_DIR} "
           "--cal-replicates {CAL_REPLICATES} --results " + " ".join(results(RUNS)))


rule all:
    input: "paper/paper.pdf", expand("reports/{run}.log", run=RUNS)

rule fit_all:
    input: results(RUNS)

rule figures:
    input: FIGURES, TABLES

rule fit:
    # exit 3: ran but not converged (or N not estimable); the file says so and the paper
    # flags it, so the pipeline goes on.
    input: fit_inputs
    output: "results/{run}.nc"
    shell: "{DF} fit models/{wildcards.run}.toml --quiet || test $? -eq 3"

rule run_report:
    # Plain-language report per run (reports/RUN.md and .html; the log keeps what it printed).
    input: "results/{run}.nc", REPORT_CODE
    output: "reports/{run}.log"
    shell: REPORT

rule benchmark_figure:
    input: results(BENCHMARKS), "scripts/benchmark_figure.py", "data/raw/benchmarks/published.csv"
    output: "figures/benchmarks_N.pdf"
    shell: "PYTHONPATH=scripts {PY} scripts/benchmark_figure.py results {output} {BENCHMARKS}"

rule benchmark_table:
    input: results(BENCHMARKS), "scripts/table_benchmarks.py",
           "data/raw/benchmarks/published.csv", "data/raw/benchmarks/r_packages.csv"
    output: "paper/generated/benchmarks.tex"
    shell: "{PY} scripts/table_benchmarks.py {output} " + " ".join(results(BENCHMARKS))

rule diagnostics_figure:
    input: "results/{run}.nc", "scripts/fig_diagnostics.py"
    output: "figures/diagnostics_{run}.pdf"
    shell: "{PY} scripts/fig_diagnostics.py {input[0]} {output}"

rule diagnostics_table:
    input: results(RUNS), "scripts/table_diagnostics.py"
    output: "paper/generated/diagnostics.tex"
    shell: "{PY} scripts/table_diagnostics.py {output} " + " ".join(results(RUNS))

rule appendix_figures:
    input: [f"figures/diagnostics_{r}.pdf" for r in DIAGNOSED]
    output: "paper/generated/appendix_figures.tex"
    run:
        Path(output[0]).parent.mkdir(parents=True, exist_ok=True)
        Path(output[0]).write_text("".join(appendix_figure(f) for f in input), encoding="utf-8")

rule russia_heatmap:
    input: results(HIERARCHICAL[:1]), "scripts/fig_russia_heatmap.py"
    output: "figures/russia_heatmap_{quantity}.pdf"
    shell: "{PY} scripts/fig_russia_heatmap.py {input[0]} {wildcards.quantity} {output}"

rule russia_multiplier:
    input: results(MULTIPLIER[:1]), "scripts/fig_multiplier.py"
    output: "figures/russia_multiplier.pdf"
    shell: "{PY} scripts/fig_multiplier.py {input[0]} {output}"

rule calibration:
    # Reduced study; resumes an interrupted run, restarts when its code changed (above).
    input: expand("scenarios/{s}.toml", s=CAL_SCENARIOS), CAL_CODE
    output: CAL_OUTPUTS
    shell: CALIBRATE_FRESH

rule calibration_copy:
    input: f"{CAL_DIR}/{{name}}"
    output: "figures/{name,(coverage|sbc_ecdf)\\.pdf}"
    shell: "cp {input} {output}"

rule calibration_table:
    input: f"{CAL_DIR}/calibration.csv", "scripts/table_calibration.py"
    output: "paper/generated/calibration.tex"
    shell: "{PY} scripts/table_calibration.py {input[0]} {output}"

rule heldout:
    input: "scripts/heldout_validation.py", HELDOUT_CODE,
           expand("data/raw/benchmarks/{t}.csv", t=HELDOUT_TABLES)
    output: "results/heldout/heldout.csv", "results/heldout/heldout_summary.csv"
    log: "results/heldout/heldout.log"
    shell: "PYTHONPATH=scripts {PY} scripts/heldout_validation.py results/heldout > {log} 2>&1"

rule heldout_table:
    input: "results/heldout/heldout.csv", "results/heldout/heldout_summary.csv",
           "scripts/table_heldout.py", "scripts/heldout_validation.py"
    output: "paper/generated/heldout.tex"
    shell: "PYTHONPATH=scripts {PY} scripts/table_heldout.py results/heldout {output}"

rule numbers:
    input: results(RUNS), "scripts/paper_numbers.py", "data/raw/russia/published_figures.csv",
           "data/raw/benchmarks/published.csv", f"{CAL_DIR}/calibration.csv", f"{CAL_DIR}/sbc.csv"
    output: "paper/generated/numbers.tex"
    shell: NUMBERS

rule paper:
    input: "paper/paper.tex", "paper/refs.bib", FIGURES, TABLES
    output: "paper/paper.pdf"
    shell: "cd paper && latexmk -pdf -interaction=nonstopmode -halt-on-error -quiet paper.tex"
