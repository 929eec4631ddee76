"""The body of a plain-language report for a ``multiplier`` fit (see `darkfigure.report`):
the published figures compared, then each comparison's multiplier with its 95% interval,
beside the plain ratio of the counts and the source's own ratio where it gives one."""

from __future__ import annotations

import xarray as xr

from . import report_text as text
from . import summaries
from .report_text import interval, ratio
from .runcard import RunCard


def body(tree: xr.DataTree, card: RunCard, diagnostics: dict) -> list[str]:
    figures = tree["constant_data"].to_dataset()
    comps = tree["comparisons"].to_dataset()
    lines = ["## What was estimated", "", text.WHAT_MULTIPLIER_MEANS, "",
             f"Published figures used (from `{card.figures}`):", "",
             "| figure | value | unit | period | what it counts |",
             "|---|---:|---|---|---|"]
    for i, fid in enumerate(figures["figure"].values):
        lines.append(f"| `{fid}` | {figures['value'].values[i]:,.6g} | "
                     f"{figures['unit'].values[i]} | {figures['period'].values[i]} | "
                     f"{_cell(figures['definition'].values[i])} |")
    rows = summaries.multiplier_rows(tree)
    lines += ["", "## The numbers", "", text.INTERVAL_MEANS, "",
              "| comparison | ratio of the counts | multiplier | 95% interval | source says |",
              "|---|---:|---:|---:|---:|"]
    for row in sorted(rows, key=lambda r: -r["multiplier_median"]):
        lines.append(f"| `{row['comparison']}` | {ratio(row['count_ratio'])} "
                     f"| **{ratio(row['multiplier_median'])}** | "
                     f"{interval(row, 'multiplier', ratio)} | {ratio(row['published'])} |")
    lines.append("")
    for row in rows:
        i = list(comps["comparison"].values).index(row["comparison"])
        description = str(comps["description"].values[i]) or "(no description in the card)"
        lines += [f"**`{row['comparison']}`**: about "
                  f"{ratio(row['multiplier_median'])} (95% interval "
                  f"{interval(row, 'multiplier', ratio)}) of `{row['numerator']}` for every "
                  f"one of `{row['denominator']}`. {description}", ""]
    return lines


def _cell(value) -> str:
    """Text safe inside a Markdown table cell."""
    return str(value).replace("|", "/").replace("\n", " ")
