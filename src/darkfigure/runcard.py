"""Run cards: one TOML file holds exactly one fit (model, data, priors, sampler, seed).

```toml
[run]
name = "uk5_loglinear"        # names results/<name>.nc; defaults to the file stem
model = "loglinear"
seed = 20261123
[data]
table = "data/raw/benchmarks/uk5.csv"   # paths relative to the directory `fit` runs in
lists = ["LA", "NG", "PFNCA", "GO", "GP"]   # optional, as --lists
strata = []                                  # optional, as --strata
official = "..."                             # optional
coverage = "..."                             # optional
aggregates = ["ctdc.csv"]                    # optional aggregate-only sources, named by file
                                             # stem; or {ctdc = "ctdc.csv"} to name them
[priors]                                     # optional overrides of the family's Priors
interaction_scale_sd = 1.0
[sampler]
draws = 1000
tune = 1000
chains = 4
target_accept = "auto"        # the family's own (0.99 log-linear, 0.95 hierarchical), or 0-1
sampler = "nutpie"            # or "pymc", or "numpyro" (JAX, for GPUs: darkfigure[jax])
```
`darkfigure estimate` writes the same card from its flags, so every posterior file carries the
card it can be refitted from.

A family fitted to published aggregate figures (``multiplier``) reads ``[data] figures``
instead of a table, with an ``[exposure]`` table (years each count covers) and one
``[comparisons.NAME]`` table per ratio (see `darkfigure.figures`); ``table`` is then absent.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError

#: ``target_accept = "auto"`` takes the family's own value (`fit.target_accept`): sparse
#: log-linear tables need 0.99 to sample without divergences, the large hierarchical model
#: 0.95 to fit in time; a number in (0, 1) sets it for any family.
SAMPLER_DEFAULTS = {"draws": 1000, "tune": 1000, "chains": 4, "target_accept": "auto",
                    "sampler": "nutpie"}
#: NUTS implementations a card may name: nutpie (default, numba on the CPU), PyMC's own, and
#: NumPyro (JAX; every chain in one compiled program, on a GPU where JAX sees one).
SAMPLERS = ("nutpie", "pymc", "numpyro")
SECTIONS = {"run": {"name", "model", "seed"},
            "data": {"table", "lists", "strata", "official", "coverage", "aggregates",
                     "figures"},
            "priors": None, "sampler": set(SAMPLER_DEFAULTS), "exposure": None,
            "comparisons": None}


@dataclass(frozen=True)
class RunCard:
    name: str
    model: str
    seed: int
    table: Path | None
    lists: tuple[str, ...] | None = None
    strata: tuple[str, ...] | None = None
    official: Path | None = None
    coverage: Path | None = None
    #: aggregate-only sources as (name, path) pairs (hierarchical model only)
    aggregates: tuple[tuple[str, Path], ...] = ()
    priors: dict = field(default_factory=dict)
    sampler: dict = field(default_factory=lambda: dict(SAMPLER_DEFAULTS))
    #: published figures (families that read figures, not a capture table)
    figures: Path | None = None
    exposure: dict = field(default_factory=dict)
    comparisons: dict = field(default_factory=dict)

    @property
    def inputs(self) -> list[Path]:
        return [p for p in (self.table, self.official, self.coverage, self.figures)
                if p is not None] \
            + [path for _, path in self.aggregates]

    def to_toml(self) -> str:
        """The card as TOML text (what is stored in the posterior file and hashed)."""
        data = {"table": str(self.table)} if self.table is not None else {}
        for key in ("lists", "strata"):
            if getattr(self, key) is not None:
                data[key] = list(getattr(self, key))
        for key in ("official", "coverage", "figures"):
            if getattr(self, key) is not None:
                data[key] = str(getattr(self, key))
        if self.aggregates:
            data["aggregates"] = {name: str(path) for name, path in self.aggregates}
        sections = {"run": {"name": self.name, "model": self.model, "seed": self.seed},
                    "data": data, "priors": self.priors, "sampler": self.sampler}
        if self.figures is not None:
            sections["exposure"] = self.exposure
            sections |= {f"comparisons.{k}": v for k, v in self.comparisons.items()}
        lines = []
        for section, values in sections.items():
            lines.append(f"[{section}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
            lines.append("")
        return "\n".join(lines)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_value(str(k))} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def parse_card(text: str, *, path: str | Path = "<card>", default_name: str = "fit") -> RunCard:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML: {err}", path=path) from None
    for section, values in raw.items():
        if section not in SECTIONS or not isinstance(values, dict):
            raise InputError(f"unknown section [{section}]; sections are "
                             f"{', '.join(SECTIONS)}", path=path)
        allowed = SECTIONS[section]
        unknown = set(values) - allowed if allowed is not None else set()
        if unknown:
            raise InputError(f"unknown key(s) {sorted(unknown)} in [{section}]; allowed: "
                             f"{sorted(allowed)}", path=path)
    run, data = raw.get("run", {}), raw.get("data", {})
    if "model" not in run:
        raise InputError("[run] model is required", path=path)
    _check_data_kind(raw, path)
    seed = run.get("seed", 0)
    if not isinstance(seed, int) or seed < 0:
        raise InputError(f"[run] seed must be a non-negative integer, not {seed!r}", path=path)
    sampler = dict(SAMPLER_DEFAULTS) | raw.get("sampler", {})
    for key in ("draws", "tune", "chains"):
        if not isinstance(sampler[key], int) or sampler[key] < (1 if key != "tune" else 0):
            raise InputError(f"[sampler] {key} must be a positive integer, not "
                             f"{sampler[key]!r}", path=path)
    accept = sampler["target_accept"]
    if accept != "auto" and (isinstance(accept, bool) or not isinstance(accept, (int, float))
                             or not 0 < accept < 1):
        raise InputError(f"[sampler] target_accept must be \"auto\" or a number between 0 and "
                         f"1, not {accept!r}", path=path)
    if sampler["sampler"] not in SAMPLERS:
        raise InputError(f"[sampler] sampler must be one of {', '.join(map(repr, SAMPLERS))}, "
                         f"not {sampler['sampler']!r}", path=path)
    optional = {k: Path(data[k]) for k in ("official", "coverage", "figures") if data.get(k)}
    if "figures" in data:
        optional |= {"exposure": dict(raw.get("exposure", {})),
                     "comparisons": dict(raw.get("comparisons", {}))}
    if data.get("aggregates"):
        optional["aggregates"] = aggregate_sources(data["aggregates"], path=path)
    return RunCard(name=run.get("name", default_name), model=run["model"], seed=seed,
                   table=Path(data["table"]) if "table" in data else None,
                   lists=tuple(data["lists"]) if data.get("lists") else None,
                   strata=tuple(data["strata"]) if "strata" in data else None,
                   priors=dict(raw.get("priors", {})), sampler=sampler, **optional)


def aggregate_sources(value, *, path: str | Path = "<card>") -> tuple[tuple[str, Path], ...]:
    """``[data] aggregates``: a list of paths (each source named by its file stem) or a table
    name -> path. Names must be distinct: they label the posterior's ``source`` dim."""
    if isinstance(value, dict):
        pairs = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        pairs = [(Path(str(v)).stem, v) for v in value]
    else:
        raise InputError("[data] aggregates must be a list of CSV paths or a table "
                         f"name = path, not {value!r}", path=path)
    names = [name for name, _ in pairs]
    for name, item in pairs:
        if not isinstance(item, str) or not item:
            raise InputError(f"[data] aggregates: source '{name}' needs a CSV path, not "
                             f"{item!r}", path=path)
        if names.count(name) > 1:
            raise InputError(f"[data] aggregates: two sources are named '{name}'; name them "
                             'explicitly, e.g. aggregates = {a = "x/ctdc.csv", b = '
                             '"y/ctdc.csv"}', path=path)
    return tuple((name, Path(item)) for name, item in pairs)


def _check_data_kind(raw: dict, path) -> None:
    """A card reads either a capture table or published figures, and the figure-only
    sections belong to figure cards."""
    data = raw.get("data", {})
    if "table" in data and "figures" in data:
        raise InputError("[data] has both table and figures: a card fits either a capture "
                         "table or published figures (multiplier model), not both", path=path)
    if "table" not in data and "figures" not in data:
        raise InputError("[data] table is required (or [data] figures for the multiplier "
                         "model)", path=path)
    if "figures" not in data:
        for section in ("exposure", "comparisons"):
            if section in raw:
                raise InputError(f"[{section}] belongs to cards with [data] figures; this "
                                 "card reads a capture table", path=path)
    for name, spec in raw.get("comparisons", {}).items():
        if not isinstance(spec, dict):
            raise InputError(f"[comparisons] {name} must be a table [comparisons.{name}] "
                             "with numerator and denominator", path=path)


def read_card(path: str | Path) -> tuple[RunCard, str]:
    """The card and its exact text (hashed into the posterior's provenance)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such run card", path=path)
    text = path.read_text("utf-8")
    return parse_card(text, path=path, default_name=path.stem), text
