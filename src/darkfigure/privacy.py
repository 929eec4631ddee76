"""What may leave the linkage step: aggregated counts only, with small cells suppressed.

Victim records are sensitive. The linkage step reads names and birth dates, but everything it
writes is aggregated: counts of people per capture pattern and stratum, model draws of N, and
summaries of match probabilities. No record, record index, name, date or case number is ever
written. Small cells can still single people out (a pattern seen once in a small region), so
``min_cell = K`` applies the usual statistical-disclosure rule of primary cell suppression
(Hundepool et al. 2012, *Statistical Disclosure Control*, ch. 5):

- in ``capture_table.csv`` every cell with 0 < count < K is left out, and
  ``linkage_summary.json`` says how many cells were suppressed (their total only if >= K);
  a suppressed table is for publication, not for refitting (`read_table` reads left-out
  patterns as 0): the estimates are made from the full table inside the linkage step;
- in ``posterior.nc`` the stored observed counts get the same treatment (set to 0, with a
  ``suppressed`` 0/1 flag per cell);
- in ``estimates.csv`` the ``observed`` count of a stratum below K is left empty.

To coarsen instead of suppressing, stratify by fewer or broader columns (``--strata``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .summaries import rows_to_csv
from .tables import CaptureTable


def small_cells(table: CaptureTable, min_cell: int) -> np.ndarray:
    """(stratum, pattern) mask of the cells to suppress."""
    counts = table.counts.values
    return (counts > 0) & (counts < min_cell)


def capture_table_csv(table: CaptureTable, min_cell: int = 0) -> tuple[str, dict]:
    """The aggregated capture table (DESIGN.md shape) as CSV, and the suppression note."""
    hide = small_cells(table, min_cell)
    rows = []
    for i, label in enumerate(table.stratum_labels):
        values = table.stratum_values(label)
        for j, pattern in enumerate(table.patterns):
            count = int(table.counts.values[i, j])
            if count > 0 and not hide[i, j]:
                rows.append(values | dict(zip(table.lists, map(int, pattern)))
                            | {"count": count})
    if not rows:  # keep the header so the file still says what it is
        rows.append({c: "" for c in (*table.strata, *table.lists, "count")})
        text = rows_to_csv(rows).splitlines()[0] + "\n"
    else:
        text = rows_to_csv(rows)
    hidden = int(table.counts.values[hide].sum())
    note = {"min_cell": min_cell, "suppressed_cells": int(hide.sum()),
            "suppressed_records": hidden if hidden >= max(min_cell, 1) or hidden == 0
            else f"<{min_cell}",
            "rule": "cells with 0 < count < min_cell are left out of capture_table.csv and "
                    "zeroed in posterior.nc (flag 'suppressed'); estimates use the full "
                    "table, which never leaves the linkage step" if min_cell > 1 else
                    "no suppression (min_cell <= 1)"}
    return text, note


def observed_data(table: CaptureTable, min_cell: int = 0) -> xr.Dataset:
    """The observed_data group for posterior.nc, with small cells zeroed and flagged."""
    hide = small_cells(table, min_cell)
    counts = table.counts.copy(data=np.where(hide, 0, table.counts.values))
    data = xr.Dataset({"count": counts, "captured": table.design,
                       "suppressed": counts.copy(data=hide.astype(np.int8))})
    data.attrs["min_cell"] = str(min_cell)
    return data


def blank_small_observed(rows: list[dict], min_cell: int) -> list[dict]:
    """estimates.csv rows with ``observed`` below ``min_cell`` left empty."""
    return [r | {"observed": None} if r.get("observed") is not None
            and 0 < r["observed"] < min_cell else r for r in rows]
