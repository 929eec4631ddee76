"""Strict CSV reading shared by every input file: UTF-8, a header, line numbers kept.

Every later error can then say ``file line N column C: problem``. Line 1 is the header.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError


@dataclass(frozen=True)
class CsvRows:
    """The header and the data rows of a CSV file, each row with its line number."""

    path: Path
    header: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, str]], ...]

    def column_values(self, column: str) -> list[tuple[int, str]]:
        return [(line, row[column]) for line, row in self.rows]


def read_csv(path: str | Path) -> CsvRows:
    """Read a CSV file strictly; raise `InputError` naming the file and line on any problem."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file", path=path)
    if path.is_dir():
        raise InputError("is a directory, expected a CSV file", path=path)
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError("the file is empty; expected a header line and at least one data row",
                         path=path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(f"not valid UTF-8 (byte 0x{raw[err.start]:02x}); save the file as UTF-8",
                         path=path, line=line) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = tuple(h.strip() for h in next(reader))
    except csv.Error as err:
        raise InputError(f"cannot parse the header: {err}", path=path, line=1) from None
    if not any(header):
        raise InputError("the header line is empty", path=path, line=1)
    for i, name in enumerate(header):
        if not name:
            raise InputError(f"column {i + 1} of the header has no name", path=path, line=1)
        if name in header[:i]:
            raise InputError(f"column name '{name}' appears twice in the header", path=path,
                             line=1)
    rows = []
    try:
        for fields in reader:
            line = reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue  # blank lines carry nothing
            if len(fields) != len(header):
                raise InputError(f"{len(fields)} fields where the header has {len(header)}",
                                 path=path, line=line)
            rows.append((line, {h: f.strip() for h, f in zip(header, fields)}))
    except csv.Error as err:
        raise InputError(f"cannot parse: {err}", path=path, line=reader.line_num) from None
    if not rows:
        raise InputError("no data rows after the header", path=path)
    return CsvRows(path=path, header=header, rows=tuple(rows))


def parse_count(value: str, *, path: Path, line: int, column: str, what: str = "counts") -> int:
    """A non-negative integer; '12' and '12.0' are accepted, '-3', '2.5', 'x' and '' are not."""
    if value == "":
        raise InputError(f"missing value; {what} must be non-negative integers", path=path,
                         line=line, column=column)
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"'{value}' is not a number; {what} must be non-negative integers",
                         path=path, line=line, column=column) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InputError(f"'{value}' is not a finite number; {what} must be non-negative "
                         "integers", path=path, line=line, column=column)
    if number != int(number):
        raise InputError(f"{value} is fractional; {what} must be non-negative integers",
                         path=path, line=line, column=column)
    if number < 0:
        raise InputError(f"{value} is negative; {what} must be non-negative integers",
                         path=path, line=line, column=column)
    return int(number)


def is_binary(values: list[str]) -> bool:
    return all(v in ("0", "1") for v in values)
