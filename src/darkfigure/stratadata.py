"""Per-stratum side inputs: official counts and list coverage (DESIGN.md contracts).

Official counts (``official`` column) are what the authorities recorded for the same
population and period. Coverage rows (``list``, ``covered``) say which lists operated where: a
list that did not operate in a stratum is missing there, not zero.
"""

from __future__ import annotations

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
