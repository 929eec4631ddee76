"""Performance harness: `make bench` -> benchmarks/results.json and a readable table.

For each model x benchmark table: compile seconds (a cold fit minus a warm one in the same
process, where the compiled model is cached), sampling seconds (the warm fit), min bulk ESS of
N, ESS per second, R-hat, divergences; scaling over the number of lists; the hierarchical model
over growing strata when that family is registered; conting's Bayesian log-linear MSE on the
same tables when R and conting are installed. Machine facts go into the JSON. Timings live
here, never in unit tests.

usage: python benchmarks/harness.py [OUT.json] [--quick]
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import darkfigure.fit as fit_module
from darkfigure.errors import DataWarning
from darkfigure.fit import FitInputs, fit
from darkfigure.io import write_json, write_text
from darkfigure.models import REGISTRY
from darkfigure.models import loglinear as loglinear_family
from darkfigure.provenance import library_versions
from darkfigure.runcard import SAMPLER_DEFAULTS, RunCard
from darkfigure.sensitivity import applicable
from darkfigure.tables import read_table

ROOT = Path(__file__).resolve().parents[1]
TABLES = ["uk6", "uk5", "netherlands6", "netherlands5", "new_orleans8", "new_orleans5",
          "western_us5", "australia4", "korea3", "artificial3"]
CONTING = """
suppressMessages(library(conting))
d <- read.csv("{table}")
lists <- setdiff(names(d), "count")
f <- as.formula(paste("count ~ (", paste(lists, collapse = " + "), ")^2"))
d[lists] <- lapply(d[lists], function(x) factor(x, levels = c(0, 1)))
full <- expand.grid(rep(list(factor(c(0, 1))), length(lists)))
names(full) <- lists
full <- merge(full, d, all.x = TRUE)
full$count[is.na(full$count)] <- 0
zero <- apply(full[lists] == "0", 1, all)
full$count[zero] <- NA
set.seed(1)
t0 <- proc.time()[["elapsed"]]
fit <- bict(f, data = full, n.sample = 20000, prior = "SBH")
tp <- total_pop(fit, n.burnin = 2000)
t1 <- proc.time()[["elapsed"]]
q <- quantile(tp$TOT, c(0.025, 0.5, 0.975))
cat(sprintf("%f %f %f %f\\n", t1 - t0, q[1], q[2], q[3]))
"""


def one(model: str, table, seed: int, sampler: dict) -> dict:
    card = RunCard(name="bench", model=model, seed=seed, table=Path("bench.csv"),
                   sampler=sampler)
    # Each table pays its own compile: a log-linear model compiled for an earlier table with
    # as many lists would otherwise serve this one, and its compile column would read 0.
    fit_module._COMPILED.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        fit(card, FitInputs(table), progress=False)  # cold: includes compiling
        cold = time.perf_counter() - start
        start = time.perf_counter()
        _, diagnostics = fit(card, FitInputs(table), progress=False)
        warm = time.perf_counter() - start
    ess = diagnostics["min_ess_bulk_N"]
    return {"compile_seconds": round(max(cold - warm, 0.0), 2),
            "sampling_seconds": round(warm, 2), "min_ess_bulk_N": ess,
            "ess_per_second": round(ess / warm, 1) if warm > 0 else None,
            "max_rhat": diagnostics["max_rhat"], "divergences": diagnostics["divergences"],
            "converged": diagnostics["converged"], "seconds_to_ess_1000":
            round(warm * 1000 / ess, 2) if ess > 0 else None}


def tables_run(quick: bool) -> list[dict]:
    rows = []
    sampler = dict(SAMPLER_DEFAULTS)
    for name in TABLES[:3] if quick else TABLES:
        table = read_table(ROOT / "data/raw/benchmarks" / f"{name}.csv")
        for model in REGISTRY:
            if applicable(model, table):
                continue
            result = one(model, table, 1, sampler)
            rows.append({"table": name, "model": model} | result)
            print(f"{name:<13} {model:<13} compile {result['compile_seconds']:>6} s  sample "
                  f"{result['sampling_seconds']:>6} s  ESS(N) {result['min_ess_bulk_N']:>7}  "
                  f"ESS/s {result['ess_per_second']}", flush=True)
    return rows


def lists_run(quick: bool) -> list[dict]:
    """Scaling with the number of lists on worlds simulated from the log-linear model."""
    rows = []
    for n_lists in (3, 5) if quick else (3, 5, 8, 10):
        rng = np.random.default_rng(n_lists)
        table, truth = loglinear_family.simulate(
            n_lists, np.log(2000), rng.uniform(-2.0, -1.0, n_lists),
            rng.normal(0, 0.2, n_lists * (n_lists - 1) // 2), rng)
        for model in ("loglinear", "latent-class"):
            result = one(model, table, 1, dict(SAMPLER_DEFAULTS))
            rows.append({"lists": n_lists, "model": model, "truth": truth,
                         "observed_patterns": int((table.counts.values > 0).sum())} | result)
            print(f"{n_lists:>2} lists {model:<13} sample {result['sampling_seconds']} s "
                  f"ESS/s {result['ess_per_second']}", flush=True)
    return rows


def hierarchical_run(quick: bool) -> list[dict]:
    if "hierarchical" not in REGISTRY:
        return []
    from bench_samplers import one as fit_world  # this folder is on sys.path when run

    rows = []
    for regions, sectors in ((8, 6),) if quick else ((8, 6), (30, 10), (89, 10)):
        row = fit_world((regions, sectors, 5), SAMPLER_DEFAULTS["sampler"])
        rows.append({"strata": f"{regions}x{sectors}", "lists": 5} | {
            k: row[k] for k in ("seconds_including_compile", "min_ess_bulk_N", "max_rhat",
                                "max_rhat_variable", "divergences")}
            | {"ess_per_second": round(row["ess_N_per_second"], 1)})
        print(f"hierarchical {regions}x{sectors}: {row['seconds_including_compile']} s",
              flush=True)
    return rows


def conting_run(quick: bool) -> list[dict]:
    """conting's RJMCMC on the same tables, if R and conting are installed."""
    if shutil.which("Rscript") is None:
        return [{"skipped": "Rscript not found (apt-get install r-base-core r-cran-conting)"}]
    rows = []
    for name in ("uk5", "western_us5") if quick else ("uk5", "netherlands5", "new_orleans5",
                                                      "western_us5", "uk6", "netherlands6"):
        script = CONTING.format(table=ROOT / "data/raw/benchmarks" / f"{name}.csv")
        done = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True,
                              timeout=1800)
        if done.returncode != 0:
            rows.append({"table": name, "error": done.stderr.strip()[-300:]})
            continue
        seconds, lo, median, hi = map(float, done.stdout.split()[-4:])
        rows.append({"table": name, "seconds": seconds, "N_median": median, "N_q025": lo,
                     "N_q975": hi})
        print(f"conting {name}: {seconds:.1f} s, N {median:.0f} [{lo:.0f}, {hi:.0f}]",
              flush=True)
    return rows


def machine() -> dict:
    return {"cores": os.cpu_count(), "platform": platform.platform(),
            "processor": platform.processor(), "libraries": library_versions()}


def r_anchors() -> dict:
    """(table, method) -> (seconds, ESS of N) measured for the R packages on this kind of
    machine (data/raw/benchmarks/r_packages.csv, from ../shared/anchors)."""
    import csv

    with open(ROOT / "data/raw/benchmarks/r_packages.csv", newline="") as handle:
        return {(r["dataset"], r["method"]): (float(r["seconds"]),
                                              float(r["ess_N"]) if r["ess_N"] else None)
                for r in csv.DictReader(handle) if r["seconds"]}


def to_ess(row: dict, target: float = 1000.0) -> float | str | None:
    """Seconds to ESS(N) = target at the warm rate, plus the compile seconds of this process
    (its first fit of the table minus its second; numba's disk cache, warm here, serves the
    latent-class kernels, while nutpie compiles a log-linear model anew in every process);
    for a fit that failed its convergence checks, "flagged" and its R-hat instead: scaling
    the ESS of chains in different modes gives a number that means nothing."""
    if not row["converged"]:
        return f"flagged (R-hat {row['max_rhat']})"
    if not row["min_ess_bulk_N"]:
        return None
    return round(row["compile_seconds"] + row["sampling_seconds"] * target
                 / row["min_ess_bulk_N"], 2)


def markdown(results: dict) -> str:
    lines = ["| table | model | compile s | sampling s | ESS(N) | ESS/s | s to ESS 1000 | "
             "R-hat | div |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results["tables"]:
        lines.append(f"| {r['table']} | {r['model']} | {r['compile_seconds']} | "
                     f"{r['sampling_seconds']} | {r['min_ess_bulk_N']} | {r['ess_per_second']} | "
                     f"{r['seconds_to_ess_1000']} | {r['max_rhat']} | {r['divergences']} |")
    anchors = r_anchors()
    lines += ["", "Against the R packages (their seconds from data/raw/benchmarks/"
              "r_packages.csv; ours: compile + warm sampling scaled to ESS(N) = 1000):", "",
              "| table | latent-class s to ESS 1000 | LCMCR s to ESS 1000 | ratio | "
              "loglinear s to ESS 1000 | bma s | dga s |", "|---|---|---|---|---|---|---|"]
    by = {(r["table"], r["model"]): r for r in results["tables"]}
    for name in dict.fromkeys(r["table"] for r in results["tables"]):
        ours = by.get((name, "latent-class"))
        ours_s = to_ess(ours) if ours else None
        lcmcr = anchors.get((name, "LCMCR_K10"))
        lcmcr_s = round(lcmcr[0] * 1000 / lcmcr[1], 2) if lcmcr and lcmcr[1] else None
        ratio = round(ours_s / lcmcr_s, 2) \
            if isinstance(ours_s, float) and lcmcr_s else None
        log = by.get((name, "loglinear"))
        bma, dga = by.get((name, "bma")), anchors.get((name, "dga_BMA"))
        bma_s = round(bma["sampling_seconds"] + bma["compile_seconds"], 2) if bma else None
        lines.append(f"| {name} | {ours_s} | {lcmcr_s} | {ratio} | "
                     f"{to_ess(log) if log else None} | "
                     f"{bma_s} | "
                     f"{dga[0] if dga else None} |")
    if results.get("conting") and "skipped" not in results["conting"][0]:
        lines += ["", "| table | conting s (20,000 RJMCMC iterations) | conting N | "
                  "loglinear s (compile + 4 x 1000 draws) | conting / loglinear |",
                  "|---|---|---|---|---|"]
        for r in results["conting"]:
            if "error" in r:
                lines.append(f"| {r['table']} | failed: {r['error'][:80]} | | | |")
                continue
            log = by.get((r["table"], "loglinear"))
            ours = round(log["compile_seconds"] + log["sampling_seconds"], 2) if log else None
            lines.append(f"| {r['table']} | {r['seconds']:.1f} | {r['N_median']:,.0f} "
                         f"[{r['N_q025']:,.0f}, {r['N_q975']:,.0f}] | {ours} | "
                         f"{round(r['seconds'] / ours, 2) if ours else None} |")
    lines += ["", "| scaling | model | sampling s | ESS(N) | ESS/s | R-hat | div |",
              "|---|---|---|---|---|---|---|"]
    for r in results["lists"]:
        lines.append(f"| {r['lists']} lists ({r['observed_patterns']} observed patterns) | "
                     f"{r['model']} | {r['sampling_seconds']} | {r['min_ess_bulk_N']} | "
                     f"{r['ess_per_second']} | {r['max_rhat']} | {r['divergences']} |")
    for r in results["hierarchical"]:
        lines.append(f"| {r['strata']} strata x {r['lists']} lists | hierarchical (incl. "
                     f"compile) | {r['seconds_including_compile']} | {r['min_ess_bulk_N']} | "
                     f"{r['ess_per_second']} | {r['max_rhat']} | {r['divergences']} |")
    return "\n".join(lines) + "\n"


def main(out: Path, quick: bool) -> None:
    warnings.simplefilter("ignore", DataWarning)
    results = {"machine": machine(), "tables": tables_run(quick), "lists": lists_run(quick),
               "hierarchical": hierarchical_run(quick), "conting": conting_run(quick)}
    write_json(out, results)
    write_text(out.with_suffix(".md"), markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(Path(arguments[0]) if arguments else ROOT / "benchmarks" / "results.json",
         "--quick" in sys.argv)
