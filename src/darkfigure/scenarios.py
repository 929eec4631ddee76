"""Scenario files: the TOML description of a simulated world with known truth.

A scenario fixes how a hidden population is generated and how lists catch it; `simulate`
turns it into capture tables. Every key but ``[scenario] name`` has a default, so a scenario
states only what makes it hard for the models. The format:

```toml
[scenario]
name = "region_sector"
description = "3 regions x 2 sectors, referral, heterogeneity, official counts"
seed = 61                           # fixes the structure (stratum effects, uncovered strata)

[population]
size = 400                          # expected people per stratum before stratum effects
region = ["north", "centre", "south"]   # stratum columns: any name but the reserved keys
sector = ["agriculture", "construction"]    # levels are crossed (3 x 2 = 6 strata)
stratum_sd = 0.5                    # sd of each column's log-size effects

[lists]
names = ["A", "B", "C", "D"]
capture = [0.25, 0.2, 0.3, 0.15]    # capture probability of each list for the first class,
                                    # given the person is on no other list
stratum_sd = 0.3                    # sd of capture log-odds over strata, per list

[[classes]]                         # latent classes of catchability (default: one class)
share = 0.6
shift = 0.0                         # added to every list's capture log-odds
[[classes]]
share = 0.4
shift = -1.5

[dependence]                        # pairwise log odds ratios between lists:
"A:B" = 1.0                         # > 0 referral, < 0 lists that avoid each other

[coverage]                          # share of strata where a list did not operate
D = 0.5

[official]                          # official counts: Binomial(N, rate) per stratum
rate = 0.2
stratum_sd = 0.4                    # sd of the logit rate over strata
```

Capture histories of a class in a stratum follow the log-linear law
P(x) ~ exp(sum_k eta_k x_k + sum_{j<k} g_jk x_j x_k), the quadratic exponential model of
Cox (1972, Appl. Statist. 21:113) used for list dependence by Fienberg (1972, Biometrika
59:591); a mixture over classes gives individual heterogeneity (Manrique-Vallier 2016,
Biometrics 72:1246). Without dependence, ``capture`` is each list's marginal probability.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

RESERVED = {"size", "stratum_sd"}
SECTIONS = {"scenario", "population", "lists", "classes", "dependence", "coverage", "official"}


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario; see the module docstring for the meaning of every field."""

    name: str
    description: str
    seed: int
    size: float
    strata: tuple[tuple[str, tuple[str, ...]], ...]
    stratum_sd: float
    lists: tuple[str, ...]
    capture: tuple[float, ...]
    capture_sd: float
    classes: tuple[tuple[float, float], ...]
    dependence: tuple[tuple[int, int, float], ...]
    uncovered: tuple[tuple[int, float], ...]
    official_rate: float | None
    official_sd: float
    source: str = "<scenario>"

    @property
    def n_lists(self) -> int:
        return len(self.lists)

    @property
    def n_strata(self) -> int:
        return math.prod(len(levels) for _, levels in self.strata)


def read_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    if not path.is_file():
        raise InputError("no such scenario file", path=path)
    return parse_scenario(path.read_text("utf-8"), path=path)


def parse_scenario(text: str, *, path: str | Path = "<scenario>") -> Scenario:
    """Parse and check a scenario; every problem is an `InputError` naming the key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML: {err}", path=path) from None
    unknown = set(raw) - SECTIONS
    if unknown:
        raise InputError(f"unknown section(s) {sorted(unknown)}; sections are "
                         f"{', '.join(sorted(SECTIONS))}", path=path)

    def bad(key: str, problem: str) -> InputError:
        return InputError(f"{key}: {problem}", path=path)

    head, pop, lists = raw.get("scenario", {}), raw.get("population", {}), raw.get("lists", {})
    if not isinstance(head.get("name"), str) or not head["name"].strip():
        raise bad("[scenario] name", "required: a non-empty string naming the scenario")
    seed = head.get("seed", 0)
    if not isinstance(seed, int) or seed < 0:
        raise bad("[scenario] seed", f"must be a non-negative integer, not {seed!r}")
    names = tuple(lists.get("names", ("A", "B", "C")))
    if len(names) < 2 or len(set(names)) != len(names):
        raise bad("[lists] names", "need at least 2 distinct list names")
    capture = tuple(float(p) for p in lists.get("capture", [0.3] * len(names)))
    if len(capture) != len(names) or not all(0 < p < 1 for p in capture):
        raise bad("[lists] capture", f"need {len(names)} probabilities strictly in (0, 1)")
    size = pop.get("size", 1000)
    if not isinstance(size, (int, float)) or size <= 0:
        raise bad("[population] size", f"must be a positive number, not {size!r}")
    strata = []
    for column, levels in pop.items():
        if column in RESERVED:
            continue
        if not isinstance(levels, list) or not levels or len(set(map(str, levels))) != len(levels):
            raise bad(f"[population] {column}", "a stratum column needs a list of distinct "
                      "levels")
        strata.append((column, tuple(str(v) for v in levels)))
    classes = tuple((float(c.get("share", 1.0)), float(c.get("shift", 0.0)))
                    for c in raw.get("classes", [{"share": 1.0, "shift": 0.0}]))
    if not classes or any(share <= 0 for share, _ in classes):
        raise bad("[[classes]] share", "every class needs a positive share")
    dependence = []
    for pair, value in raw.get("dependence", {}).items():
        a, _, b = pair.partition(":")
        if a not in names or b not in names or a == b:
            raise bad(f"[dependence] {pair}", f"name two different lists of {list(names)} as "
                      "\"A:B\"")
        dependence.append((names.index(a), names.index(b), float(value)))
    uncovered = []
    for name, share in raw.get("coverage", {}).items():
        if name not in names:
            raise bad(f"[coverage] {name}", f"not a list of {list(names)}")
        if not 0 < float(share) < 1 or not strata:
            raise bad(f"[coverage] {name}", "a share in (0, 1) of the strata, and the "
                      "scenario needs stratum columns")
        uncovered.append((names.index(name), float(share)))
    official = raw.get("official", {})
    rate = official.get("rate")
    if rate is not None and not 0 < float(rate) < 1:
        raise bad("[official] rate", f"must lie in (0, 1), not {rate!r}")
    return Scenario(name=head["name"].strip(), description=str(head.get("description", "")),
                    seed=seed, size=float(size), strata=tuple(strata),
                    stratum_sd=float(pop.get("stratum_sd", 0.0)), lists=names, capture=capture,
                    capture_sd=float(lists.get("stratum_sd", 0.0)), classes=classes,
                    dependence=tuple(dependence), uncovered=tuple(uncovered),
                    official_rate=None if rate is None else float(rate),
                    official_sd=float(official.get("stratum_sd", 0.0)), source=str(path))
