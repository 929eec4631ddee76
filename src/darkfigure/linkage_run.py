"""One linkage run: record lists -> privacy-filtered capture table -> N with linkage doubt.

`link_lists` is what ``darkfigure link`` does (the CLI only parses arguments). It writes

- ``capture_table.csv``: people per capture pattern and stratum at the best linkage (pairs
  with match probability >= threshold, joined transitively), small cells suppressed;
- ``linkage_summary.json``: records, people, match-probability summary, spread over linkages,
  the variance decomposition, privacy note;
- with ``linkages > 1`` also ``posterior.nc`` (N pooled over the sampled linkages, with
  provenance), ``estimates.csv`` and ``diagnostics.json`` as `darkfigure estimate` writes them.

Every input is read and checked before anything is written (bad input raises `InputError`).
The sampled linkages are partitions drawn from the match probabilities
(`darkfigure.linkage_sampler`); each is fitted and the draws of N are pooled
(`darkfigure.linkage_uncertainty`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from . import io, privacy, summaries
from . import linkage as lk
from . import linkage_uncertainty as lu
from .errors import InputError
from .fit import stratum_seed
from .models import capture_families
from .provenance import provenance_attrs
from .runcard import SAMPLER_DEFAULTS, RunCard, _toml_value


@dataclass
class LinkOptions:
    """Settings of one run (the ``darkfigure link`` flags)."""

    lists: list[Path]
    out: Path
    names: list[str] | None = None  # default: file stems
    strata: list[str] = field(default_factory=list)
    linkages: int = 20
    min_cell: int = 0
    model: str = "loglinear"
    seed: int = 0
    backend: str = "duckdb"
    threshold: float = 0.5
    all_pairs_max: int = lk.ALL_PAIRS_MAX  # compare every pair up to this many pairs
    sampler: dict = field(default_factory=lambda: dict(SAMPLER_DEFAULTS))
    progress: bool = True

    def check(self) -> None:
        if self.linkages < 1 or self.min_cell < 0 or not 0 < self.threshold < 1 or \
                self.all_pairs_max < 0:
            raise InputError("--linkages must be >= 1, --min-cell and --all-pairs-max >= 0 "
                             "and --threshold in (0, 1)")
        known = capture_families()
        if self.model not in known:
            raise InputError(f"unknown model '{self.model}' for capture tables; choose one "
                             f"of {', '.join(known)}")
        names = self.names or [Path(p).stem for p in self.lists]
        if len(names) != len(self.lists):
            raise InputError(f"--names gives {len(names)} names for {len(self.lists)} lists")
        if len(set(names)) < len(names) or not all(n.isidentifier() for n in names):
            raise InputError(f"list names must be distinct words (letters, digits, _): {names}")
        self.names = names

    def card(self) -> str:
        """The settings as TOML text (stored and hashed in posterior.nc)."""
        link = {"lists": [str(p) for p in self.lists], "names": self.names,
                "strata": self.strata, "linkages": self.linkages, "min_cell": self.min_cell,
                "threshold": self.threshold, "all_pairs_max": self.all_pairs_max,
                "backend": self.backend,
                "linkage_draws": "partitions (linkage_sampler)"}
        sections = {"run": {"name": Path(self.out).name, "model": self.model, "seed": self.seed},
                    "link": link, "sampler": {k: self.sampler[k] for k in
                                              ("draws", "tune", "chains")}}
        return "\n".join(f"[{s}]\n" + "".join(f"{k} = {_toml_value(v)}\n"
                                              for k, v in d.items())
                         for s, d in sections.items())


@dataclass
class Linked:
    """The best linkage and the sampled ones as capture tables (aggregates only)."""

    lists: list
    scored: lk.Scored
    of_record: np.ndarray
    best: object  # CaptureTable
    tables: list
    draws: list[np.ndarray]


def link_only(opts: LinkOptions) -> Linked:
    """Read, check, score and sample linkages; no file is written."""
    opts.check()
    lists = [lk.read_record_list(p, n) for p, n in zip(opts.lists, opts.names)]
    lk.check_lists(lists, opts.strata)  # all input checked: from here on nothing is bad input
    scored = lk.score(lists, seed=opts.seed, threshold=opts.threshold, backend=opts.backend,
                      all_pairs_max=opts.all_pairs_max, progress=opts.progress)
    of_record = np.concatenate([np.full(r.n, i) for i, r in enumerate(lists)])
    values = {c: np.array(sum((r.features[c] if c in r.fields else [None] * r.n
                               for r in lists), []), dtype=object) for c in opts.strata}
    draws = lu.sample_partitions(scored.pair_left, scored.pair_right, scored.probability,
                                 len(of_record), opts.linkages if opts.linkages > 1 else 0,
                                 opts.seed, start=scored.best)
    best, *tables = lu.capture_tables([scored.best, *draws], of_record, opts.names, values)
    return Linked(lists, scored, of_record, best, tables, draws)


def link_lists(opts: LinkOptions) -> int:
    """Run the whole step and write the outputs; return the exit code (0, or 3 when a fit
    did not converge or a stratum is not estimable)."""
    linked = link_only(opts)
    summary = _summary(linked)
    table_text, summary["privacy"] = privacy.capture_table_csv(linked.best, opts.min_cell)
    out, code = Path(opts.out), 0
    if opts.linkages > 1:
        card = RunCard(name=out.name, model=opts.model, seed=opts.seed,
                       table=out / "capture_table.csv", sampler=dict(opts.sampler))
        fits = [lu.fit_table(card, t, stratum_seed(opts.seed, i, stream=2), opts.progress)
                for i, t in enumerate([linked.best] + linked.tables)]
        pooled, summary["uncertainty"] = lu.pool([n for n, _ in fits[1:]], fits[0][0])
        diagnostics = lu.pooled_diagnostics([d for _, d in fits[1:]])
        tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"N": pooled}),
                                      "observed_data": privacy.observed_data(linked.best)})
        rows = summaries.estimate_rows(tree, diagnostics["unestimable_strata"])
        tree["observed_data"] = xr.DataTree(privacy.observed_data(linked.best, opts.min_cell))
        attrs = provenance_attrs(opts.card(), [Path(p) for p in opts.lists], opts.seed,
                                 diagnostics)
        io.write_posterior(tree, out / "posterior.nc", attrs)
        io.write_text(out / "estimates.csv", summaries.rows_to_csv(
            privacy.blank_small_observed(rows, opts.min_cell)))
        io.write_json(out / "diagnostics.json", diagnostics)
        code = 0 if diagnostics["converged"] and diagnostics["estimable"] else 3
        if opts.progress:
            print(summaries.terminal_table(rows, diagnostics))
    io.write_text(out / "capture_table.csv", table_text)
    io.write_json(out / "linkage_summary.json", summary)
    if opts.progress:
        u = summary.get("uncertainty")
        print(f"linked {summary['records']} records into {summary['people_best']} people; "
              + (f"share of Var(N) from linkage {u['share_of_variance_from_linkage']:.2f}, "
                 f"95% width pooled/best {u['width_ratio_pooled_to_best']:.2f}" if u else ""))
    print(f"wrote {out}/capture_table.csv, linkage_summary.json"
          + (", posterior.nc, estimates.csv, diagnostics.json" if opts.linkages > 1 else ""))
    return code


def _summary(linked: Linked) -> dict:
    """Counts and probability summaries only: nothing in here identifies a record."""
    scored, p = linked.scored, linked.scored.probability
    people = [int(t.observed.sum()) for t in linked.tables]
    per_list = {}
    for i, rec in enumerate(linked.lists):
        mine = scored.best[linked.of_record == i]
        per_list[rec.name] = {"records": rec.n, "people": int(len(np.unique(mine))),
                              "fields": list(rec.fields)}
    quantiles = np.quantile(p, [0.05, 0.25, 0.5, 0.75, 0.95]).tolist() if len(p) else []
    return {
        "method": "splink Fellegi-Sunter (u by random sampling, m by EM), link_and_dedupe; "
                  "linkages drawn as partitions from the pairwise match probabilities "
                  "(Gibbs, Sadinle 2014)",
        "lists": per_list, "records": int(len(linked.of_record)),
        "people_best": int(linked.best.observed.sum()), "threshold": scored.threshold,
        "candidate_pairs": int(len(p)),
        "match_probability": {"quantiles_05_25_50_75_95": quantiles,
                              "pairs_at_or_above_threshold": int((p >= scored.threshold).sum()),
                              "expected_matching_pairs": float(p.sum())} | scored.info,
        "people_by_linkage": {"min": min(people), "median": float(np.median(people)),
                              "max": max(people)} if people else None,
    }
