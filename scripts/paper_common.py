"""What the paper's table and number scripts share: one summary per posterior file and the
LaTeX spelling of numbers. Reads posterior files only; never refits.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from darkfigure.io import read_posterior
from darkfigure.runcard import parse_card


def summarise(path: str | Path) -> dict:
    """Card, diagnostics and quantiles of the total N (summed over strata per draw, so the
    total comes from the joint draws) of one posterior file."""
    tree = read_posterior(path)
    card = parse_card(tree.attrs["run_card"])
    diag = json.loads(tree.attrs["diagnostics"])
    row = {"run": Path(path).stem, "model": card.model,
           "table": card.table.stem if card.table else Path(path).stem,
           "converged": bool(diag["converged"]), "estimable": diag.get("estimable", True),
           "diagnostics": diag, "tree": tree}
    if "N" in tree["posterior"].dataset:
        n = tree["posterior"]["N"]
        total = n.sum([d for d in n.dims if d not in ("chain", "draw")]).values.ravel()
        row |= dict(zip(("lo", "median", "hi"), np.quantile(total, [0.025, 0.5, 0.975])))
        row["observed"] = int(tree["observed_data"]["count"].sum())
    return row


def number(value: float, digits: int = 0) -> str:
    """A number as LaTeX text: thousands separated by a thin comma, fixed decimals."""
    if value is None or not np.isfinite(value):
        return "--"
    return f"{value:,.{digits}f}".replace(",", "{,}")


def interval(row: dict) -> str:
    """'median [lo, hi]' of N, or why there is none."""
    if not row.get("estimable", True):
        return "not estimable"
    if "median" not in row:
        return "--"
    flag = "" if row["converged"] else "$^\\dagger$"
    return f"{number(row['median'])} [{number(row['lo'])}, {number(row['hi'])}]{flag}"


def tex_escape(text: str) -> str:
    for char in "&%$#_{}":
        text = text.replace(char, "\\" + char)
    return text
