"""Capture tables: who was on which list, counted per capture pattern and stratum.

A `CaptureTable` holds an integer xarray DataArray ``counts`` with dims ``(stratum, pattern)``:
every observable pattern (all 2^K - 1 non-empty combinations of K lists) is present, absent
patterns count 0, and the all-zero pattern (people on no list) is never part of the table,
because estimating it is the whole point. Coordinates:

- ``stratum``: a label per stratum (``"all"`` when there are no stratum columns), plus one
  coordinate per stratum column (``region``, ``sector``, ...);
- ``pattern``: labels such as ``"101"`` (list order as in ``lists``); `CaptureTable.design`
  gives the 0/1 (pattern, list) design.

Both CSV shapes of DESIGN.md are read: aggregated (a ``count`` column, one row per pattern and
stratum) and one row per record (no ``count``).
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .csvread import CsvRows, is_binary, parse_count, read_csv
from .errors import DataWarning, InputError
from .provenance import check_manifest

NO_STRATUM = "all"


def all_patterns(n_lists: int) -> np.ndarray:
    """The 2^K - 1 observable capture patterns as a (pattern, list) 0/1 array.

    Row i is the binary expansion of i + 1 with the first list as the most significant bit,
    so pattern labels read like the CSV columns.
    """
    codes = np.arange(1, 2**n_lists)
    bits = (codes[:, None] >> np.arange(n_lists - 1, -1, -1)[None, :]) & 1
    return bits.astype(np.int8)


def pattern_labels(patterns: np.ndarray) -> list[str]:
    return ["".join(str(int(b)) for b in row) for row in patterns]


@dataclass(frozen=True)
class CaptureTable:
    """Counts per (stratum, pattern) with the list and stratum names; see the module doc."""

    counts: xr.DataArray
    lists: tuple[str, ...]
    strata: tuple[str, ...] = ()
    source: Path | None = None

    @classmethod
    def from_array(cls, counts, lists, strata: dict[str, list] | None = None,
                   source: Path | None = None) -> "CaptureTable":
        """Build from an array of shape (n_strata, 2^K - 1) or (2^K - 1,), patterns as in
        `all_patterns`. ``strata`` maps each stratum column to its values per stratum."""
        lists = tuple(lists)
        arr = np.atleast_2d(np.asarray(counts, dtype=np.int64))
        patterns = all_patterns(len(lists))
        if arr.shape[1] != len(patterns):
            raise ValueError(f"{arr.shape[1]} pattern columns for {len(lists)} lists; "
                             f"expected {len(patterns)}")
        strata = dict(strata or {})
        if strata:
            labels = ["|".join(str(strata[c][i]) for c in strata) for i in range(arr.shape[0])]
        else:
            labels = [NO_STRATUM] * arr.shape[0] if arr.shape[0] == 1 else \
                [f"s{i}" for i in range(arr.shape[0])]
        coords = {
            "stratum": labels,
            "pattern": pattern_labels(patterns),
        }
        for col, values in strata.items():
            coords[col] = ("stratum", [str(v) for v in values])
        da = xr.DataArray(arr, dims=("stratum", "pattern"), coords=coords, name="count")
        return cls(counts=da, lists=lists, strata=tuple(strata), source=source)

    # -- views ---------------------------------------------------------------------------
    @property
    def n_lists(self) -> int:
        return len(self.lists)

    @property
    def patterns(self) -> np.ndarray:
        """The (pattern, list) 0/1 design matrix."""
        return all_patterns(self.n_lists)

    @property
    def design(self) -> xr.DataArray:
        """The design as labelled data: ``captured`` with dims (pattern, list)."""
        return xr.DataArray(self.patterns, dims=("pattern", "list"), name="captured",
                            coords={"pattern": self.counts["pattern"].values,
                                    "list": list(self.lists)})

    @property
    def stratum_labels(self) -> list[str]:
        return [str(s) for s in self.counts["stratum"].values]

    @property
    def observed(self) -> xr.DataArray:
        """People observed on at least one list, per stratum."""
        return self.counts.sum("pattern")

    def stratum_values(self, label: str) -> dict[str, str]:
        return {c: str(self.counts[c].sel(stratum=label).item()) for c in self.strata}

    def stratum(self, label: str) -> "CaptureTable":
        """The table of one stratum (kept as a one-stratum table with its coordinates)."""
        return CaptureTable(self.counts.sel(stratum=[label]), self.lists, self.strata,
                            self.source)

    def by_list(self) -> xr.DataArray:
        """Counts with one dim per list (values 0/1); the unobservable all-zero cell is NaN."""
        full = np.full((self.counts.sizes["stratum"],) + (2,) * self.n_lists, np.nan)
        for j, pattern in enumerate(self.patterns):
            full[(slice(None),) + tuple(pattern)] = self.counts.values[:, j]
        coords = {name: [0, 1] for name in self.lists}
        coords["stratum"] = self.counts["stratum"].values
        return xr.DataArray(full, dims=("stratum",) + self.lists, coords=coords, name="count")

    def select_lists(self, keep: list[str]) -> "CaptureTable":
        """The table seen through a subset of lists: records on none of them drop out."""
        missing = [k for k in keep if k not in self.lists]
        if missing:
            raise ValueError(f"unknown lists {missing}; the table has {list(self.lists)}")
        idx = [self.lists.index(k) for k in keep]
        return self._regroup(self.patterns[:, idx], tuple(keep))

    def merge_lists(self, names: list[str], merged: str | None = None) -> "CaptureTable":
        """Merge several lists into one (on the merged list = on any of them)."""
        idx = [self.lists.index(n) for n in names]
        merged = merged or "".join(names)
        keep = [i for i in range(self.n_lists) if i not in idx]
        new = np.concatenate([self.patterns[:, keep],
                              self.patterns[:, idx].max(axis=1, keepdims=True)], axis=1)
        return self._regroup(new, tuple(self.lists[i] for i in keep) + (merged,))

    def _regroup(self, new_patterns: np.ndarray, lists: tuple[str, ...]) -> "CaptureTable":
        target = all_patterns(len(lists))
        code = {tuple(p): i for i, p in enumerate(target)}
        out = np.zeros((self.counts.sizes["stratum"], len(target)), dtype=np.int64)
        for j, pattern in enumerate(new_patterns):
            if pattern.any():
                out[:, code[tuple(pattern)]] += self.counts.values[:, j]
        strata = {c: list(self.counts[c].values) for c in self.strata}
        return CaptureTable.from_array(out, lists, strata or None, self.source)

    def never_overlapping_pairs(self, label: str | None = None) -> list[tuple[str, str]]:
        """List pairs with no record in common (in one stratum, or pooled): their two-way
        interaction has no finite maximum-likelihood estimate (Chan, Silverman & Vincent 2021)."""
        counts = self.counts.sum("stratum") if label is None else self.counts.sel(stratum=label)
        pairs = []
        for a, b in itertools.combinations(range(self.n_lists), 2):
            both = (self.patterns[:, a] == 1) & (self.patterns[:, b] == 1)
            if counts.values[both].sum() == 0:
                pairs.append((self.lists[a], self.lists[b]))
        return pairs


def read_table(path: str | Path, lists: list[str] | None = None,
               strata: list[str] | None = None) -> CaptureTable:
    """Read a capture table CSV of either shape, validate it and return a `CaptureTable`.

    Raises `InputError` naming file, line and column for any problem; warns (`DataWarning`)
    when fewer than 3 lists leave the estimate resting on independence alone.
    """
    path = Path(path)
    check_manifest(path)
    csv_rows = read_csv(path)
    lists, strata = _classify_columns(csv_rows, lists, strata)
    for column in lists:
        for line, value in csv_rows.column_values(column):
            if value not in ("0", "1"):
                shown = f"'{value}'" if value else "a missing value"
                raise InputError(f"{shown} is not 0 or 1; list columns hold 0/1 capture "
                                 "indicators", path=path, line=line, column=column)
    for column in strata:
        for line, value in csv_rows.column_values(column):
            if value == "":
                raise InputError("missing stratum value", path=path, line=line, column=column)
    aggregated = "count" in csv_rows.header
    code_of = {tuple(p): i for i, p in enumerate(all_patterns(len(lists)))}
    cells: dict[tuple[str, ...], np.ndarray] = {}
    first_seen: dict[tuple, int] = {}
    for line, row in csv_rows.rows:
        key = tuple(row[c] for c in strata)
        pattern = tuple(int(row[c]) for c in lists)
        n = parse_count(row["count"], path=path, line=line, column="count") if aggregated else 1
        if not any(pattern):
            if n > 0:
                what = f"count {n}" if aggregated else "a record"
                raise InputError(f"the all-zero pattern (on no list) has {what}; people on no "
                                 "list cannot be observed: remove the row", path=path, line=line)
            continue
        if aggregated:
            if (key, pattern) in first_seen:
                where = f" in stratum {', '.join(key)}" if key else ""
                raise InputError(f"pattern {''.join(map(str, pattern))} appears twice{where} "
                                 f"(first on line {first_seen[key, pattern]}); aggregated "
                                 "tables have one row per pattern", path=path, line=line)
            first_seen[key, pattern] = line
        cells.setdefault(key, np.zeros(len(code_of), dtype=np.int64))[code_of[pattern]] += n
    keys = sorted(cells) if cells else [tuple(csv_rows.rows[0][1][c] for c in strata)]
    counts = np.array([cells.get(k, np.zeros(len(code_of), np.int64)) for k in keys])
    if len(lists) < 3:
        warnings.warn(f"{path}: only {len(lists)} lists; the estimate then rests on the "
                      "independence of the lists alone, which the data cannot check",
                      DataWarning, stacklevel=2)
    by_column = {c: [k[i] for k in keys] for i, c in enumerate(strata)}
    return CaptureTable.from_array(counts, lists, by_column or None, source=path)


def _classify_columns(csv_rows: CsvRows, lists, strata) -> tuple[list[str], list[str]]:
    """Which columns are lists and which strata, from the flags or else from the values."""
    path, header = csv_rows.path, csv_rows.header
    for flag, names in (("--lists", lists), ("--strata", strata)):
        for name in names or []:
            if name not in header:
                raise InputError(f"column '{name}' named by {flag} does not exist; the columns "
                                 f"are {', '.join(header)}", path=path, line=1)
    if lists and strata:
        both = set(lists) & set(strata)
        if both:
            raise InputError(f"column(s) {sorted(both)} named both as list and as stratum",
                             path=path, line=1)
    if "count" in (lists or []) or "count" in (strata or []):
        raise InputError("'count' is the count column, not a list or stratum", path=path,
                         line=1)
    others = [h for h in header if h != "count"]
    if lists is None and strata is None:
        lists = [h for h in others if is_binary([v for _, v in csv_rows.column_values(h)])]
        strata = [h for h in others if h not in lists]
    elif lists is None:
        lists = [h for h in others if h not in strata]
    elif strata is None:
        strata = [h for h in others if h not in lists]
    else:
        # An unnamed column would silently merge patterns or strata: refuse it.
        unnamed = [h for h in others if h not in lists and h not in strata]
        if unnamed:
            raise InputError(f"column '{unnamed[0]}' is neither a list (--lists) nor a stratum "
                             "(--strata); name it, or remove it from the file (to fit a subset "
                             "of lists, use CaptureTable.select_lists)", path=path, line=1)
    if not lists:
        raise InputError("no list columns (0/1 capture indicators) found; name them with "
                         "--lists", path=path, line=1)
    if len(lists) < 2:
        raise InputError(f"only one list ({lists[0]}); multiple-systems estimation needs at "
                         "least 2 lists, better 3 or more", path=path, line=1)
    return list(lists), list(strata)
