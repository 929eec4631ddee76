"""The caveats section of a plain-language report (see `darkfigure.report`).

Everything a posterior file records against its own numbers: failed convergence checks,
strata without an estimate, lists that did not operate somewhere, changed inputs, and the
diagnostics' notes. Notes that repeat per stratum (list pairs that never overlap) are
condensed into one line per pair, since a reader needs how widespread the problem is, not
seventy near-identical lines; the full notes stay in the posterior file's diagnostics.
"""

from __future__ import annotations

import re
from collections import Counter

import xarray as xr

#: Per-stratum items shown one by one up to this many; beyond, a count and examples.
MAX_LISTED = 6
NEVER_OVERLAP = re.compile(r"^stratum (?P<stratum>.+?): \d+ list pair\(s\) never overlap "
                           r"\((?P<pairs>[^)]*)\)")


def caveats(diagnostics: dict, changed: list[str], tree: xr.DataTree) -> list[str]:
    items = [f"Provenance: {c}" for c in changed]
    if diagnostics.get("converged"):
        items.append(f"The computation converged (largest R-hat {diagnostics.get('max_rhat')}"
                     f", effective sample size at least {diagnostics.get('min_ess_bulk_N')}).")
    else:
        items.append("The computation did NOT converge (see the warning at the top).")
    unestimable = diagnostics.get("unestimable_strata", [])
    if unestimable:
        verb = "has" if len(unestimable) == 1 else "have"
        items.append(f"{_some(unestimable, 'Stratum', 'Strata')} {verb} no estimate: the "
                     "data there cannot bound the number of people on no list, so no number "
                     "is shown, and no total that includes them.")
    items += coverage(tree)
    items += condensed_notes(diagnostics.get("notes", []), _n_strata(tree))
    return ["## Caveats", ""] + [f"- {item}" for item in items] + [""]


def coverage(tree: xr.DataTree) -> list[str]:
    """Lists that did not operate in some strata: missing there, not zero."""
    if "constant_data" not in tree.children or "covered" not in tree["constant_data"].dataset:
        return []
    covered = tree["constant_data"]["covered"]
    out = []
    for name in covered["list"].values:
        absent = [str(s) for s, c in zip(covered["stratum"].values,
                                         covered.sel(list=name).values) if not c]
        if absent:
            out.append(f"List {name} did not operate in {_some(absent, 'stratum', 'strata')}"
                       "; it counts as missing there, not as zero, and the estimate leans on "
                       "the other lists (and, when pooled, on the other strata).")
    return out


def condensed_notes(notes: list[str], n_strata: int) -> list[str]:
    """The diagnostics' notes, with the per-stratum never-overlap notes summarised by pair."""
    by_pair: dict[str, list[str]] = {}
    rest = []
    for note in notes:
        match = NEVER_OVERLAP.match(note)
        if match is None:
            rest.append(note)
            continue
        for pair in match["pairs"].split(", "):
            by_pair.setdefault(pair, []).append(match["stratum"])
    if sum(len(v) for v in by_pair.values()) <= 3:  # few: keep the notes as they are
        return rest + [n for n in notes if NEVER_OVERLAP.match(n)]
    order = Counter({pair: len(strata) for pair, strata in by_pair.items()}).most_common()
    counts = "; ".join(f"{pair} in {count} of {n_strata} strata" for pair, count in order)
    return [f"Some pairs of lists never share a person in a stratum, so how those lists "
            "depend on each other there is set by the model's assumption (and pooling), not "
            f"by the data: {counts}."] + rest


def _some(labels: list[str], one: str, many: str) -> str:
    """'stratum a', 'strata a, b' or '12 strata (a, b, ... and 6 more)'."""
    if len(labels) == 1:
        return f"{one} {labels[0]}"
    if len(labels) <= MAX_LISTED:
        return f"{many} {', '.join(labels)}"
    return (f"{len(labels)} {many.lower()} ({', '.join(labels[:MAX_LISTED])} and "
            f"{len(labels) - MAX_LISTED} more)")


def _n_strata(tree: xr.DataTree) -> int:
    if "observed_data" in tree.children:
        return int(tree["observed_data"].dataset.sizes.get("stratum", 1))
    return 1
