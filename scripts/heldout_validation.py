"""Held-out-list validation over the five modern-slavery tables for every model, beside the
published results of Binette & Steorts (2021) in data/raw/benchmarks/README.md.

Their protocol (MSETools, analyses/internal_consistency/internal_consistency.Rmd): the 5-list
UK, Netherlands and New Orleans tables, Western U.S. and Australia; a held-out list counts only
when >= 30 of its members are seen by the other lists, and the Netherlands list K is dropped
from the summary. Summaries are written for that protocol, for >= 30 seen with K kept, and
for all 24 lists, so the effect of each choice is visible.

usage: heldout_validation.py OUT_DIR [MODEL,...]   (writes heldout.csv and heldout_summary.csv;
       default: every model below)
"""

import sys
import warnings
from pathlib import Path

from darkfigure.errors import DataWarning
from darkfigure.heldout import summarise, validate
from darkfigure.io import write_text
from darkfigure.runcard import SAMPLER_DEFAULTS, RunCard
from darkfigure.summaries import rows_to_csv
from darkfigure.tables import read_table

TABLES = ["uk5", "netherlands5", "new_orleans5", "western_us5", "australia4"]
# label -> (family, prior overrides); the independence log-linear model is the one model the
# published table shares with us exactly, so it checks that the protocol is the same.
MODELS = {"loglinear": ("loglinear", {}), "bma": ("bma", {}),
          "latent-class": ("latent-class", {}),
          "loglinear-independence": ("loglinear", {"interactions": False})}
PUBLISHED = [  # Binette & Steorts (2021), over the same five tables
    {"model": "dga (published)", "mean_log_relative_bias": -0.34, "rmse_log_relative_bias": 0.60,
     "coverage": 0.80},
    {"model": "independence log-linear (published)", "mean_log_relative_bias": -0.29,
     "rmse_log_relative_bias": 0.55, "coverage": 0.88},
    {"model": "LCMCR (published)", "mean_log_relative_bias": -0.52,
     "rmse_log_relative_bias": 0.72, "coverage": 0.60},
    {"model": "SparseMSE (published)", "mean_log_relative_bias": -0.17,
     "rmse_log_relative_bias": 0.63, "coverage": 0.90},
]
# Summaries: name -> which rows count. "published" is Binette & Steorts' exact selection.
PROTOCOLS = {
    "published (>= 30 seen, without Netherlands K)":
        lambda r: r["summarised"] and not (r["table"] == "netherlands5" and r["list"] == "K"),
    ">= 30 seen": lambda r: r["summarised"],
    "all lists": lambda r: True,
}


def main(out: Path, only: list[str] | None = None) -> None:
    rows, summary = [], []
    for model, (family, priors) in MODELS.items():
        if only and model not in only:
            continue
        per_model = []
        for seed, name in enumerate(TABLES):
            card = RunCard(name=name, model=family, seed=2021 + seed,
                           table=Path(f"data/raw/benchmarks/{name}.csv"),
                           sampler=dict(SAMPLER_DEFAULTS), priors=priors)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DataWarning)
                got = validate(read_table(card.table), card)
            for row in got:
                print(f"{model:<13} {name:<13} held out {row['list']:<6} truth {row['truth']:>5}"
                      f" median {row['N_median']:>8.0f} [{row['N_lo']:.0f}, {row['N_hi']:.0f}]"
                      f" {'covered' if row['covered'] else 'missed'}", flush=True)
            per_model += [{"model": model, "table": name} | r for r in got]
        rows += per_model
        for protocol, counts in PROTOCOLS.items():
            chosen = [r | {"summarised": counts(r)} for r in per_model]
            summary.append({"model": model, "protocol": protocol} | summarise(chosen)
                           | {"unconverged": sum(not r["converged"] for r in chosen
                                                 if r["summarised"])})
    summary += [p | {"protocol": next(iter(PROTOCOLS))} for p in PUBLISHED]
    write_text(out / "heldout.csv", rows_to_csv(rows))
    write_text(out / "heldout_summary.csv", rows_to_csv(summary))
    for s in summary:
        print(f"{s['model']:<38} {s['protocol']:<46} n {s.get('n', ''):>3}  mean "
              f"{s['mean_log_relative_bias']:+.2f}  RMSE {s['rmse_log_relative_bias']:.2f}  "
              f"coverage {s['coverage']:.2f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2].split(",") if len(sys.argv) > 2 else None)
