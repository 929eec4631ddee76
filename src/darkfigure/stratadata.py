"""Per-stratum side inputs: official counts and list coverage (DESIGN.md contracts).

Official counts (``official`` column) are what the authorities recorded for the same
population and period. Coverage rows (``list``, ``covered``) say which lists operated where: a
list that did not operate in a stratum is missing there, not zero. Aggregate-only sources
(``count`` per stratum or per coarser group of strata, no identities) enter the hierarchical
model as margins (`read_aggregate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .csvread import parse_count, read_csv
from .errors import InputError
from .provenance import check_manifest
from .tables import NO_STRATUM, CaptureTable


def _stratum_label(row: dict[str, str], table: CaptureTable) -> str:
    return "|".join(row[c] for c in table.strata) if table.strata else NO_STRATUM


def _check_columns(csv_rows, table: CaptureTable, required: tuple[str, ...]) -> None:
    for column in table.strata + required:
        if column not in csv_rows.header:
            raise InputError(f"column '{column}' is missing; expected the stratum columns "
                             f"{list(table.strata)} and {list(required)}", path=csv_rows.path,
                             line=1)


def read_official(path: str | Path, table: CaptureTable) -> xr.DataArray:
    """Official counts per stratum of ``table`` (dims ``stratum``)."""
    check_manifest(path)
    csv_rows = read_csv(path)
    _check_columns(csv_rows, table, ("official",))
    labels = table.stratum_labels
    values: dict[str, int] = {}
    for line, row in csv_rows.rows:
        label = _stratum_label(row, table)
        n = parse_count(row["official"], path=csv_rows.path, line=line, column="official",
                        what="official counts")
        if label in values:
            raise InputError(f"stratum {label} appears twice", path=csv_rows.path, line=line)
        if label not in labels:
            raise InputError(f"stratum {label} is not in the capture table (strata there: "
                             f"{', '.join(labels[:5])}{', ...' if len(labels) > 5 else ''})",
                             path=csv_rows.path, line=line)
        values[label] = n
    absent = [s for s in labels if s not in values]
    if absent:
        raise InputError(f"no official count for stratum {absent[0]}"
                         f"{f' (and {len(absent) - 1} more)' if len(absent) > 1 else ''}; give "
                         "every stratum a row (0 where nothing was recorded)", path=csv_rows.path)
    return xr.DataArray([values[s] for s in labels], dims="stratum",
                        coords={"stratum": labels}, name="official")


def read_coverage(path: str | Path, table: CaptureTable) -> xr.DataArray:
    """Which lists operated in which strata (dims ``stratum``, ``list``); unlisted pairs are
    taken as covered. A record on a list marked not covered is an error."""
    check_manifest(path)
    csv_rows = read_csv(path)
    _check_columns(csv_rows, table, ("list", "covered"))
    covered = np.ones((len(table.stratum_labels), table.n_lists), dtype=bool)
    labels = table.stratum_labels
    for line, row in csv_rows.rows:
        label, name = _stratum_label(row, table), row["list"]
        if label not in labels:
            raise InputError(f"stratum {label} is not in the capture table", path=csv_rows.path,
                             line=line)
        if name not in table.lists:
            raise InputError(f"list '{name}' is not a list of the capture table "
                             f"({', '.join(table.lists)})", path=csv_rows.path, line=line,
                             column="list")
        if row["covered"] not in ("0", "1"):
            raise InputError(f"'{row['covered']}' is not 0 or 1", path=csv_rows.path, line=line,
                             column="covered")
        covered[labels.index(label), table.lists.index(name)] = row["covered"] == "1"
    result = xr.DataArray(covered, dims=("stratum", "list"),
                          coords={"stratum": labels, "list": list(table.lists)}, name="covered")
    on_list = table.counts.values @ table.patterns
    bad = np.argwhere(~covered & (on_list > 0))
    if len(bad):
        s, k = bad[0]
        raise InputError(f"list {table.lists[k]} is marked not covered in stratum {labels[s]} "
                         f"but {on_list[s, k]} records there are on it", path=csv_rows.path)
    return result


@dataclass(frozen=True)
class Aggregate:
    """One aggregate-only source: ``count[g]`` people in group g, where a group is a value of
    ``columns`` (a subset of the stratum columns; none: one national total) and ``member[s]``
    is the group of stratum s, or -1 where the source reported nothing for its group."""

    name: str
    columns: tuple[str, ...]
    groups: tuple[str, ...]
    count: np.ndarray
    member: np.ndarray


def read_aggregate(path: str | Path, table: CaptureTable, name: str) -> Aggregate:
    """Counts of an aggregate-only source by some (or all) stratum columns, plus ``count``.

    A group absent from the file is one the source did not report on: it says nothing there
    (not zero; write 0 for a group it covered and found nobody in).
    """
    check_manifest(path)
    csv_rows = read_csv(path)
    if "count" not in csv_rows.header:
        raise InputError("column 'count' is missing; an aggregate source needs some of the "
                         f"stratum columns {list(table.strata)} and 'count'",
                         path=csv_rows.path, line=1)
    columns = tuple(c for c in csv_rows.header if c != "count")
    unknown = [c for c in columns if c not in table.strata]
    if unknown:
        raise InputError(f"column '{unknown[0]}' is not a stratum column of the capture table "
                         f"({', '.join(table.strata) or 'none'}); give only stratum columns "
                         "and 'count'", path=csv_rows.path, line=1)
    columns = tuple(c for c in table.strata if c in columns)  # the table's order
    keys = ["|".join(str(v) for v in row) for row in
            zip(*(table.counts[c].values for c in columns))] if columns \
        else ["all"] * len(table.stratum_labels)
    values: dict[str, int] = {}
    for line, row in csv_rows.rows:
        for column in columns:
            levels = {str(v) for v in table.counts[column].values}
            if row[column] not in levels:
                raise InputError(f"'{row[column]}' is not a level of {column} in the capture "
                                 f"table ({', '.join(sorted(levels)[:6])}"
                                 f"{', ...' if len(levels) > 6 else ''})", path=csv_rows.path,
                                 line=line, column=column)
        key = "|".join(row[c] for c in columns) if columns else "all"
        if key in values:
            raise InputError(f"group {key} appears twice", path=csv_rows.path, line=line)
        values[key] = parse_count(row["count"], path=csv_rows.path, line=line, column="count",
                                  what="aggregate counts")
    groups = tuple(values)
    member = np.array([groups.index(k) if k in values else -1 for k in keys], dtype=np.int64)
    empty = [g for i, g in enumerate(groups) if not (member == i).any()]
    if empty:
        raise InputError(f"group {empty[0]} matches no stratum of the capture table; its "
                         "count cannot be related to any N", path=csv_rows.path)
    return Aggregate(name, columns, groups, np.array([values[g] for g in groups], np.int64),
                     member)
