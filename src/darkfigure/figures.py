"""Published figures as model input: counts, their periods, and the comparisons between them.

``published_figures.csv`` (data/raw/russia/README.md) holds one sourced figure per row: id,
value, unit, period, geography, definition, document, quote. A run card of the ``multiplier``
family names which figures it compares and over how many years each count was collected:

```toml
[data]
figures = "data/raw/russia/published_figures.csv"
[exposure]                 # years each count covers: a number, or the id of a figure in years
tbp_cases_art127_2 = "tbp_period_years"
rbb_convictions_forced_labour_mean = 4.5
[comparisons.other_articles_per_art127_2]
numerator = ["tbp_cases_other_articles"]      # summed: disjoint counts of the same kind
denominator = ["tbp_cases_art127_2"]
published = "tbp_scale_multiplier"            # optional: the source's own ratio, shown beside
description = "..."                           # optional: what the ratio means, in plain words
```

Only counts can be compared: a figure measured in years, money, shares or ranks is bad input,
and so is a vague plural ("dozens", ids ending ``_vague``), which bounds a count from below
only as an order of magnitude. An annual mean ("convictions per year") enters as the events
it summarises, mean x years: the Poisson likelihood is then exact when the mean was not rounded.
Everything the comparison silently assumes (equal periods, equal units, bounds) becomes a note
that travels with the estimate into its diagnostics and report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .csvread import read_csv
from .errors import InputError
from .provenance import check_manifest

COLUMNS = ("id", "value", "unit", "period", "geography", "definition", "document", "quote")
#: Units that measure time, money, shares or ranks: not counts of cases or people.
NOT_COUNTS = {"ratio", "percent", "proportion", "rank", "tier", "year", "years", "months",
              "days", "years of age", "years of imprisonment", "US dollars", "rubles",
              "per 1,000 population", "hours per day", "days per week"}
ANNUAL = " per year"


@dataclass(frozen=True)
class Figure:
    id: str
    value: float
    unit: str
    period: str
    geography: str
    definition: str
    document: str
    line: int


@dataclass(frozen=True)
class Comparison:
    name: str
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]
    description: str = ""
    published: str | None = None
    published_value: float | None = None


@dataclass(frozen=True)
class FigureData:
    """What the multiplier family fits: per figure a (pseudo-)count and its years, and the
    comparisons between sums of figures; ``notes`` say what each comparison assumes."""

    path: Path
    figures: dict[str, Figure]
    counts: dict[str, float]
    years: dict[str, float]
    comparisons: tuple[Comparison, ...]
    notes: tuple[str, ...]

    @property
    def ids(self) -> list[str]:
        """The figures the comparisons use, in order of first use."""
        return list(self.counts)


def read_figures(path: str | Path) -> dict[str, Figure]:
    """Every row of a published-figures CSV, by id; errors name the file, line and column."""
    check_manifest(path)
    rows = read_csv(path)
    missing = [c for c in COLUMNS if c not in rows.header]
    if missing:
        raise InputError(f"missing column(s) {missing}; a published-figures file has "
                         f"{', '.join(COLUMNS)}", path=rows.path, line=1)
    figures: dict[str, Figure] = {}
    for line, row in rows.rows:
        if row["id"] in figures:
            raise InputError(f"id '{row['id']}' appears twice (first on line "
                             f"{figures[row['id']].line})", path=rows.path, line=line,
                             column="id")
        try:
            value = float(row["value"])
        except ValueError:
            raise InputError(f"'{row['value']}' is not a number", path=rows.path, line=line,
                             column="value") from None
        figures[row["id"]] = Figure(row["id"], value, row["unit"], row["period"],
                                    row["geography"], row["definition"], row["document"], line)
    return figures


def load(path: str | Path, exposure: dict, comparisons: dict, *,
         card: str | Path = "<card>") -> FigureData:
    """The figures a card's ``[comparisons]`` name, checked to be counts with known years."""
    path = Path(path)
    figures = read_figures(path)
    if not comparisons:
        raise InputError("the multiplier model needs at least one [comparisons.NAME] table "
                         "with numerator and denominator figure ids", path=card)
    parsed = [_comparison(name, spec, figures, path, card) for name, spec in comparisons.items()]
    counts, years, notes = {}, {}, []
    for comp in parsed:
        for fid in comp.numerator + comp.denominator:
            if fid in counts:
                continue
            years[fid] = _years(fid, exposure, figures, path, card)
            counts[fid], note = _count(figures[fid], years[fid], path)
            notes += [note] if note else []
    for comp in parsed:
        notes += _comparison_notes(comp, figures, counts)
    return FigureData(path, {f: figures[f] for f in counts}, counts, years, tuple(parsed),
                      tuple(dict.fromkeys(notes)))


def _comparison(name: str, spec, figures: dict[str, Figure], path: Path, card) -> Comparison:
    where = f"[comparisons.{name}]"
    if not isinstance(spec, dict):
        raise InputError(f"{where} must be a table with numerator and denominator", path=card)
    unknown = set(spec) - {"numerator", "denominator", "description", "published"}
    if unknown:
        raise InputError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: numerator, "
                         "denominator, description, published", path=card)
    sides = {}
    for side in ("numerator", "denominator"):
        ids = spec.get(side)
        ids = [ids] if isinstance(ids, str) else ids
        if not ids or not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise InputError(f"{where} {side} must be a figure id or a list of ids", path=card)
        for fid in ids:
            _known(fid, figures, path, f"{where} {side}")
        if len(set(ids)) != len(ids):
            raise InputError(f"{where} {side} names a figure twice: {ids}", path=card)
        sides[side] = tuple(ids)
    published = spec.get("published")
    if published is not None:
        _known(published, figures, path, f"{where} published")
    return Comparison(name, sides["numerator"], sides["denominator"],
                      str(spec.get("description", "")), published,
                      figures[published].value if published is not None else None)


def _known(fid: str, figures: dict[str, Figure], path: Path, where: str) -> None:
    if fid not in figures:
        close = [f for f in figures if f.split("_")[0] == fid.split("_")[0]][:8]
        hint = f"; ids with the same prefix: {', '.join(close)}" if close else ""
        raise InputError(f"no figure with id '{fid}' (named in the run card's {where}){hint}",
                         path=path)


def _years(fid: str, exposure: dict, figures: dict[str, Figure], path: Path, card) -> float:
    if fid not in exposure:
        raise InputError(f"[exposure] gives no period for '{fid}': add {fid} = <years> or "
                         f"= \"<id of a figure in years>\"", path=card)
    value = exposure[fid]
    if isinstance(value, str):
        _known(value, figures, path, f"[exposure] {fid}")
        if figures[value].unit != "years":
            raise InputError(f"[exposure] {fid} = '{value}': that figure's unit is "
                             f"'{figures[value].unit}', not years", path=card)
        value = figures[value].value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InputError(f"[exposure] {fid} must be a positive number of years, not "
                         f"{exposure[fid]!r}", path=card)
    return float(value)


def _count(fig: Figure, years: float, path: Path) -> tuple[float, str | None]:
    """(count of events over ``years``, note or None); a clear error for non-counts."""
    annual = fig.unit.endswith(ANNUAL)
    base = fig.unit[: -len(ANNUAL)] if annual else fig.unit
    if base in NOT_COUNTS or "per month" in base:
        raise InputError(f"figure '{fig.id}' has unit '{fig.unit}': it is not a count of "
                         "cases or people and cannot enter a multiplier", path=path,
                         line=fig.line, column="unit")
    if fig.id.endswith("_vague"):
        raise InputError(f"figure '{fig.id}' is a vague plural recorded as the smallest "
                         "number it can mean; an order of magnitude, not a count", path=path,
                         line=fig.line, column="id")
    if fig.value < 0 or (not annual and fig.value != int(fig.value)):
        raise InputError(f"figure '{fig.id}' is {fig.value:g}; a count must be a non-negative "
                         "integer", path=path, line=fig.line, column="value")
    if annual:
        return fig.value * years, (f"{fig.id} is an annual mean ({fig.value:g} {fig.unit}); it "
                                   f"enters as {fig.value:g} x {years:g} years = "
                                   f"{fig.value * years:g} events, exact only if the mean was "
                                   "not rounded")
    return fig.value, None


def _comparison_notes(comp: Comparison, figures: dict[str, Figure],
                      counts: dict[str, float]) -> list[str]:
    notes = []
    used = [figures[f] for f in comp.numerator + comp.denominator]
    periods = {f.period for f in used}
    if len(periods) > 1:
        shown = "; ".join(f"{f.id}: {f.period}" for f in used)
        notes.append(f"{comp.name}: the figures cover different periods ({shown}); they are "
                     "compared as yearly rates, which assumes each rate was steady")
    units = {f.unit.removesuffix(ANNUAL) for f in used}
    if len(units) > 1:
        notes.append(f"{comp.name}: the figures count different things "
                     f"({', '.join(sorted(units))}); the ratio mixes units of record")
    for f in used:
        for bound in ("upper bound", "lower bound"):
            if bound in f.definition:
                notes.append(f"{comp.name}: {f.id} = {f.value:g} is an {bound} in its source "
                             f"({f.definition})")
    if sum(counts[f] for f in comp.denominator) == 0:
        notes.append(f"{comp.name}: the denominator counted 0; the multiplier's upper tail "
                     "rests on the prior alone")
    return notes
