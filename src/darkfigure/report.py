"""Plain-language reports of posterior files: Markdown and HTML a non-statistician can read.

One report per posterior file (`darkfigure report results/RUN.nc --out reports/` writes
``reports/RUN.md`` and ``reports/RUN.html``): what was estimated (from the run card and data
stored in the file), the headline numbers with 95% intervals, per stratum and per region or
sector biggest first, the multiplier N / official where official counts exist (or each
comparison of a ``multiplier`` fit), the assumption in plain words, and the caveats the file
records (convergence, strata without an estimate, lists that never overlap or did not
operate, changed inputs). Numbers come from `darkfigure.summaries`, never recomputed here, so
a report agrees with estimates.csv. Inputs whose path says SYNTHETIC put a banner in the title
and the first line.
"""

from __future__ import annotations

import json
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path

import xarray as xr

from . import io, summaries
from . import report_text as text
from .errors import InputError, ProvenanceWarning
from .models import REGISTRY
from .report_caveats import caveats
from .report_multiplier import body as _multiplier_body
from .report_text import interval, number, ratio
from .runcard import RunCard, parse_card

#: Most strata listed one by one; the rest are summarised (reports stay short).
MAX_STRATA_ROWS = 40


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    markdown: str
    converged: bool = True

    @property
    def html(self) -> str:
        return to_html(self.markdown, self.title)


def build(path: str | Path) -> Report:
    """The report of one posterior file (read with provenance checks; changed inputs become
    caveats rather than errors)."""
    path = Path(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ProvenanceWarning)
        tree = io.read_posterior(path)
    changed = [str(w.message) for w in caught if issubclass(w.category, ProvenanceWarning)]
    card = _stored_card(tree, path)
    diagnostics = json.loads(tree.attrs.get("diagnostics", "{}"))
    inputs = list(json.loads(tree.attrs.get("input_sha256", "{}")))
    synthetic = any("SYNTHETIC" in str(p) for p in [path.name, card.name, *inputs])
    family = REGISTRY.get(card.model)
    if family is not None and family.reads_figures:
        body = _multiplier_body
        heading = f"How far official statistics fall short: {card.name}"
    else:
        body = _capture_body
        heading = f"Estimated number of victims: {card.name}"
    title = f"{text.SYNTHETIC_BANNER}: {heading}" if synthetic else heading
    lines = [f"# {title}", ""]
    if synthetic:
        lines += [f"**{text.SYNTHETIC_BANNER}.** {text.SYNTHETIC_NOTE}", ""]
    lines += _convergence_warning(diagnostics)
    lines += body(tree, card, diagnostics)
    lines += _assumption(card)
    lines += caveats(diagnostics, changed, tree)
    lines += _provenance(path, tree, inputs)
    return Report(path.stem, title, "\n".join(lines).rstrip() + "\n",
                  bool(diagnostics.get("converged", False)))


def _stored_card(tree: xr.DataTree, path: Path) -> RunCard:
    """The run card stored in the file; for cards of other commands (e.g. `link`, whose
    card has a [link] section instead of [data]) just the run's name, model and seed."""
    stored = tree.attrs.get("run_card", "")
    try:
        return parse_card(stored, path=f"{path} (stored run card)", default_name=path.stem)
    except InputError:
        try:
            run = tomllib.loads(stored).get("run", {})
        except tomllib.TOMLDecodeError:
            run = {}
        return RunCard(name=run.get("name", path.stem), model=run.get("model", "unknown"),
                       seed=run.get("seed", 0), table=None)


def write(report: Report, out: str | Path) -> list[Path]:
    """``out/NAME.md`` and ``out/NAME.html``, each written atomically."""
    out = Path(out)
    paths = [out / f"{report.name}.md", out / f"{report.name}.html"]
    html = report.html  # rendered before anything is written
    io.write_text(paths[0], report.markdown)
    io.write_text(paths[1], html)
    return paths


def to_html(markdown_text: str, title: str) -> str:
    """A standalone HTML page (Python-Markdown with tables; a little CSS for reading)."""
    import html as html_lib

    import markdown

    body = markdown.markdown(markdown_text, extensions=["tables"], output_format="html")
    style = ("body{font-family:Georgia,serif;max-width:52em;margin:2em auto;padding:0 1em;"
             "line-height:1.45;color:#1b1b1b}table{border-collapse:collapse;margin:1em 0}"
             "th,td{border-bottom:1px solid #ccc;padding:.25em .7em;text-align:right}"
             "th:first-child,td:first-child{text-align:left}code{font-size:.9em}")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html_lib.escape(title)}</title>\n<style>{style}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")


def _convergence_warning(diagnostics: dict) -> list[str]:
    if diagnostics.get("converged", False):
        return []
    limits = diagnostics.get("thresholds", {})
    return [f"> **Warning: the computation did not converge.** Its checks failed (largest "
            f"R-hat {diagnostics.get('max_rhat')}, should be at most {limits.get('max_rhat')}; "
            f"smallest effective sample size {diagnostics.get('min_ess_bulk_N')}, should be "
            f"at least {limits.get('min_ess_bulk_N')}; {diagnostics.get('divergences', 0)} "
            "divergent transitions, should be 0). The numbers below may be wrong: refit with "
            "more draws or tuning before using them.", ""]


def _capture_body(tree: xr.DataTree, card: RunCard, diagnostics: dict) -> list[str]:
    unestimable = diagnostics.get("unestimable_strata", [])
    rows = summaries.estimate_rows(tree, unestimable)
    strata = summaries.stratum_columns(tree)
    lists = [str(v) for v in tree["observed_data"]["list"].values]
    total = rows[-1]
    has_official = "official" in total
    lines = ["## What was estimated", "", text.WHAT_N_MEANS, "",
             f"- Model: `{card.model}`"
             + (" (one joint model over all strata)" if _pools(card)
                else " (each stratum estimated on its own)" if strata else ""),
             f"- Lists ({len(lists)}): {', '.join(lists)}"
             + (f", from `{card.table}`" if card.table else ""),
             f"- People on at least one list: {number(total['observed'])}"]
    if strata:
        n_strata = tree["observed_data"].sizes["stratum"]
        lines.append(f"- Broken down by {' and '.join(strata)}: {n_strata} strata")
    if card.official:
        lines.append(f"- Official counts for comparison: `{card.official}`")
    lines += ["", "## The numbers", "", text.INTERVAL_MEANS, ""]
    if total["N_median"] is None:
        lines.append("**The total cannot be estimated from these data**: some strata have no "
                     "estimate (see the caveats), and a total without them would be "
                     "misleading.")
    else:
        hidden = {k: total[k] - total["observed"] for k in ("N_median", "N_q025", "N_q975")}
        lines.append(f"**Estimated victims in total: {number(total['N_median'])}** (95% "
                     f"interval {interval(total, 'N')}). Of these, "
                     f"{number(total['observed'])} are on at least one list, so about "
                     f"{number(hidden['N_median'])} ({number(hidden['N_q025'])} to "
                     f"{number(hidden['N_q975'])}) are on none.")
        if has_official and total.get("ratio_median") is not None:
            lines += ["", f"**For every victim in the official statistics "
                      f"({number(total['official'])} in all) there are about "
                      f"{ratio(total['ratio_median'])} victims** (95% interval "
                      f"{interval(total, 'ratio', ratio)}): the multiplier N / official."]
    lines.append("")
    if strata:
        lines += _group_tables(tree, strata, unestimable)
        lines += _table(f"By {' and '.join(strata)}", rows[:-1], strata, has_official)
    return lines


def _pools(card: RunCard) -> bool:
    family = REGISTRY.get(card.model)
    return family is not None and family.pools_strata


def _group_tables(tree: xr.DataTree, strata: list[str], unestimable: list[str]) -> list[str]:
    """Per value of each stratum column (region, sector) when there are several columns:
    sums of N over the group's strata in each joint draw."""
    if len(strata) < 2:
        return []
    from .models.hierarchical_parts import aggregate

    counts = tree["observed_data"]["count"]
    lines = []
    for column in strata:
        groups = aggregate(tree, by=column)
        blocked = {str(counts[column].values[i]) for i, s in
                   enumerate(counts["stratum"].values) if str(s) in unestimable}
        rows = []
        for label in groups[column].values:
            label = str(label)
            members = counts[column].values == label
            row = {column: label, "observed": int(counts.values[members].sum())}
            if label not in blocked:
                row.update(summaries.describe(groups["N"].sel({column: label}).values, "N"))
            if "ratio" in groups:
                row["official"] = int(groups["official"].sel({column: label}))
                if label not in blocked and row["official"] > 0:
                    row.update(summaries.describe(
                        groups["ratio"].sel({column: label}).values, "ratio"))
            rows.append(row)
        lines += _table(f"By {column}", rows, [column], "ratio" in groups)
    return lines


def _table(heading: str, rows: list[dict], keys: list[str], has_official: bool) -> list[str]:
    """A Markdown table, biggest estimate first, strata without an estimate last."""
    rows = sorted(rows, key=lambda r: -(r.get("N_median") or -1))
    head = [*keys, "on a list", "estimated N", "95% interval"]
    head += ["official", "N per official", "its 95% interval"] if has_official else []
    lines = [f"### {heading}", "", "| " + " | ".join(head) + " |",
             "|" + "|".join(["---"] * len(keys) + ["---:"] * (len(head) - len(keys))) + "|"]
    for row in rows[:MAX_STRATA_ROWS]:
        cells = [str(row[k]) for k in keys] + [number(row["observed"])]
        cells += [number(row.get("N_median")) if row.get("N_median") is not None
                  else "not estimable", interval(row, "N")]
        if has_official:
            cells += [number(row.get("official")), ratio(row.get("ratio_median")),
                      interval(row, "ratio", ratio)]
        lines.append("| " + " | ".join(cells) + " |")
    if len(rows) > MAX_STRATA_ROWS:
        rest = rows[MAX_STRATA_ROWS:]
        lines += ["", f"({len(rest)} smaller or non-estimable strata, with "
                  f"{number(sum(r['observed'] for r in rest))} people on a list, not shown.)"]
    return lines + [""]


def _assumption(card: RunCard) -> list[str]:
    family = REGISTRY.get(card.model)
    plain = text.PLAIN_ASSUMPTION.get(card.model, "")
    lines = ["## The assumption behind the numbers", "", plain, ""]
    if family is not None:
        lines += [f"In technical terms: {family.assumption}.", ""]
    return lines


def _provenance(path: Path, tree: xr.DataTree, inputs: list[str]) -> list[str]:
    attrs = tree.attrs
    dirty = " (with uncommitted changes)" if attrs.get("git_dirty") == "true" else ""
    return ["## Where this comes from", "",
            f"- Posterior file `{path}`, darkfigure {attrs.get('darkfigure_version')}, "
            f"commit `{attrs.get('git_commit', 'unknown')[:12]}`{dirty}, seed "
            f"{attrs.get('seed')}",
            f"- Inputs: {', '.join(f'`{p}`' for p in inputs)}",
            f"- Check or redo it: `darkfigure reproduce {path}`", ""]
