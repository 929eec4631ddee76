"""Every number in the paper's text, as LaTeX macros in paper/generated/numbers.tex.
(Not named numbers.py: scripts/ is first on sys.path when a script runs, and a numbers.py
there would shadow the standard library module that numpy and decimal import.)

Sources: the posterior files (N per benchmark table and model, diagnostics, the Russia runs),
the sourced Russia figures (data/raw/russia/published_figures.csv), the R packages' results
(data/raw/benchmarks/r_packages.csv), the reduced calibration study's CSV tables, and the
settings of the full study in the Makefile. Macro names spell digits as words (LaTeX macro
names are letters only): results/uk5_latent_class.nc -> \\UkFiveLatentClassMedian.

usage: paper_numbers.py --out numbers.tex --calibration DIR --cal-replicates R --results RESULT.nc ...
"""

import argparse
import csv
import dataclasses
import json
import re
from pathlib import Path

import numpy as np

from paper_common import number, summarise
from darkfigure.io import write_text
from darkfigure.models import bma
from darkfigure.tables import CaptureTable, read_table

#: Macro -> id in published_figures.csv: the Russia facts the text cites.
RUSSIA_FACTS = {"RuArtCases": "tbp_cases_art127_2", "RuYears": "tbp_period_years",
                "RuOtherCases": "tbp_cases_other_articles", "RuScale": "tbp_scale_multiplier",
                "RuVerdicts": "tbp_verdicts_analysed", "RuSexual": "tbp_sexual_exploitation",
                "RuGsiPeople": "rbb_gsi2023_people", "RuGsiRank": "rbb_gsi2023_rank",
                "RuGsiPrevalence": "tbp_gsi_2021_prevalence",
                "RuConvTrafficking": "rbb_convictions_trafficking_mean",
                "RuConvForced": "rbb_convictions_forced_labour_mean",
                "RuIntlMin": "tbp_intl_orgs_min_victims", "RuCtdcIn": "tbp_ctdc_brought_in"}
WORDS = "Zero One Two Three Four Five Six Seven Eight Nine".split()


def name(*parts: str) -> str:
    """A macro name from free text: words capitalised, digits spelled, the rest dropped."""
    text = " ".join(parts).replace("-", " ").replace("_", " ")
    text = re.sub(r"\d", lambda m: f" {WORDS[int(m.group())]} ", text)
    return "".join(w.capitalize() for w in re.findall(r"[A-Za-z]+", text))


def read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


#: dga's row for these tables was computed on an older version of the table (anchors README:
#: New Orleans had one record on C and D only fewer, 185 records): the bma-dga gap is measured
#: on that version, rebuilt here, and the paper gives our exact figures on it.
OLDER_TABLES = {"new_orleans5": ("00110", -1)}   # table -> (pattern label, change)


def _changed(table: str, pattern: str, change: int) -> CaptureTable:
    """A benchmark table with one cell's count changed."""
    t = read_table(Path("data/raw/benchmarks") / f"{table}.csv")
    counts = t.counts.copy()
    counts.loc[{"pattern": pattern}] += change
    return dataclasses.replace(t, counts=counts)


def _exact_median(row: dict) -> float:
    tree = row["tree"]
    if "bma_models" in tree.children and "N_exact" in tree["bma_models"].dataset:
        return float(tree["bma_models"]["N_exact"].sel(quantile=0.5))
    return row["median"]


def benchmark_macros(rows: list[dict], m: dict) -> None:
    bench = [r for r in rows if "benchmarks" in str(r["tree"].attrs["run_card"])]
    m["NBenchRuns"] = str(len(bench))
    m["NBenchTables"] = str(len({r["table"] for r in bench}))
    m["NBenchConverged"] = str(sum(r["estimable"] and r["converged"] for r in bench))
    m["NBenchNotConverged"] = str(sum(r["estimable"] and not r["converged"] for r in bench))
    m["NBenchNotEstimable"] = str(sum(not r["estimable"] for r in bench))
    spreads = {}
    for r in bench:
        for key in ("median", "lo", "hi"):
            # No number where N has no estimate; the text then reads "not estimable".
            m[name(r["table"], r["model"], key)] = number(r[key]) \
                if r["estimable"] and key in r else "not estimable"
    for table in {r["table"] for r in bench}:
        medians = [r["median"] for r in bench if r["table"] == table and r["estimable"]]
        if len(medians) >= 2:
            spreads[table] = max(medians) / min(medians)
            m[name(table, "spread")] = number(spreads[table], 1)
    if spreads:
        worst = max(spreads, key=spreads.get)
        m["MaxSpread"], m["MaxSpreadTable"] = number(spreads[worst], 1), worst.replace("_", " ")
        m["MedianSpread"] = number(float(np.median(list(spreads.values()))), 2)
    dga = {r["dataset"]: float(r["N_median"]) for r in read_csv(
        Path("data/raw/benchmarks/r_packages.csv")) if r["method"] == "dga_BMA"}
    # The exact median where the file holds it (bma's closed form), not the draws' median,
    # whose Monte Carlo error would be counted as a gap between two exact computations.
    ours = {r["table"]: _exact_median(r) for r in bench if r["model"] == "bma" and r["estimable"]}
    for table, (pattern, change) in OLDER_TABLES.items():
        if table in ours and table in dga:  # compare on the table dga was run on
            older = bma.posterior(_changed(table, pattern, change)).quantiles([0.5, 0.025, 0.975])
            ours[table] = float(older[0])
            for key, value in zip(("Median", "Lo", "Hi"), older):
                m[name(table, "older bma", key)] = number(value)
    gaps = [abs(ours[t] / dga[t] - 1) for t in ours if t in dga]
    if gaps:
        m["BmaDgaMaxGapPct"], m["BmaDgaTables"] = number(100 * max(gaps), 2), str(len(gaps))


def russia_macros(rows: list[dict], m: dict) -> None:
    flags = {"HaveHier": False, "HaveMult": False}
    # The first Russia run of each family by name (the one the Snakefile draws) is the paper's.
    for r in sorted(rows, key=lambda r: r["run"]):
        tree = r["tree"]
        if r["model"] == "hierarchical" and r["run"].startswith("russia") \
                and not flags["HaveHier"]:
            flags["HaveHier"] = True
            n = tree["posterior"]["N"].sum("stratum").values.ravel()
            official = float(tree["constant_data"]["official"].sum())
            # summarise() already holds the quantiles of this total N.
            for key, q in (("Lo", 0.025), ("Median", 0.5), ("Hi", 0.975)):
                m[f"HierN{key}"] = number(r[key.lower()])
                m[f"HierRatio{key}"] = number(np.quantile(n / official, q), 1)
            m["HierObserved"], m["HierOfficial"] = number(r["observed"]), number(official)
            m["HierStrata"] = str(tree["posterior"].sizes["stratum"])
            # A synthetic world knows its truth (SYNTHETIC_truth.csv beside the table).
            inputs = list(json.loads(tree.attrs["input_sha256"]))
            truth = read_csv(Path(inputs[0]).parent / "SYNTHETIC_truth.csv") if inputs else []
            true_n = sum(int(t["N"]) for t in truth)
            m["HierTruth"] = number(true_n) if truth else "unknown"
            # How far the median sits from the truth, in percent of the truth, with its side.
            gap = 100 * (r["median"] / true_n - 1) if truth else float("nan")
            side = "below" if gap < 0 else "above"
            m["HierTruthGap"] = f"{abs(gap):.0f}\\,\\% {side}" if truth else "unknown"
            m["HierTruthCovered"] = "covers" if r["lo"] <= true_n <= r["hi"] else "misses"
            m["HierConverged"] = "converged" if r["converged"] else "did not converge"
        if r["model"] == "multiplier" and not flags["HaveMult"]:
            flags["HaveMult"] = True
            mult = tree["posterior"]["multiplier"]
            for c in mult["comparison"].values:
                draws = mult.sel(comparison=c).values.ravel()
                for key, q in (("Lo", 0.025), ("Median", 0.5), ("Hi", 0.975)):
                    m[name("mult", str(c), key)] = number(np.quantile(draws, q), 1)
    for flag, on in flags.items():
        m[f"__flag_{flag}"] = on


def calibration_macros(directory: Path, replicates: int, m: dict) -> None:
    m["CalReplicates"] = str(replicates)
    rows = [r for r in read_csv(directory / "calibration.csv") if r["level"] == "stratum"]
    m["CalScenarios"] = str(len({r["scenario"] for r in rows}))
    for r in rows:
        for level in ("50", "90", "95"):
            m[name(r["scenario"], r["model"], "cover", level)] = number(
                100 * float(r[f"cover{level}"]))
    sbc = read_csv(directory / "sbc.csv")
    m["SbcInBand"] = str(sum(r["in_band"] == "True" for r in sbc))
    m["SbcModels"] = str(len(sbc))
    for r in sbc:
        m[name("sbc", r["model"], "ks")] = number(float(r["ks_p"]), 2)
    makefile = Path("Makefile").read_text(encoding="utf-8")
    full = re.search(r"--replicates (\d+)", makefile.split("validate:")[1])
    m["CalFullReplicates"] = full.group(1) if full else "--"
    if full and replicates:
        # Monte Carlo standard error of a coverage shrinks as 1/sqrt(replicates).
        m["CalFullMcseFactor"] = number((int(full.group(1)) / replicates) ** 0.5, 1)
    m["CalFullScenarios"] = str(len(list(Path("scenarios").glob("*.toml"))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--calibration", type=Path, default=Path("results/calibration_paper"))
    parser.add_argument("--cal-replicates", type=int, default=0)
    parser.add_argument("--results", nargs="*", default=[])
    args = parser.parse_args()
    macros: dict = {}
    facts = {r["id"]: r for r in read_csv(Path("data/raw/russia/published_figures.csv"))}
    for macro, key in RUSSIA_FACTS.items():
        macros[macro] = number(float(facts[key]["value"]))
    macros["RuConvPeriod"] = facts["rbb_convictions_trafficking_mean"]["period"]
    rows = [summarise(p) for p in args.results]
    macros["NRuns"] = str(len(rows))
    benchmark_macros(rows, macros)
    russia_macros(rows, macros)
    calibration_macros(args.calibration, args.cal_replicates, macros)
    lines = ["% Generated by scripts/paper_numbers.py; do not edit."]
    for key, value in macros.items():
        if key.startswith("__flag_"):
            flag = key.removeprefix("__flag_")
            lines += [f"\\newif\\if{flag}", f"\\{flag}{'true' if value else 'false'}"]
        else:
            lines.append(f"\\newcommand{{\\{key}}}{{{value}}}")
    write_text(args.out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
