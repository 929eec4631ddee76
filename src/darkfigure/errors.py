"""The errors and warnings darkfigure raises about its inputs and fits.

`InputError` is bad input: the CLI turns it into exit code 2 with nothing written. Its message
names the file, the line and the column where it can, and says what to do, e.g.
``table.csv line 14 column count: -3 is negative; counts must be non-negative integers``.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input (file, line, column, problem). The CLI exits 2 and writes nothing."""

    def __init__(self, problem: str, *, path: object = None, line: int | None = None,
                 column: str | None = None):
        self.path, self.line, self.column, self.problem = path, line, column, problem
        where = [str(path)] if path is not None else []
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(f"{' '.join(where)}: {problem}" if where else problem)


class DataWarning(UserWarning):
    """Valid input whose estimate rests on a strong or fragile assumption (e.g. only 2 lists)."""


class ProvenanceWarning(UserWarning):
    """A posterior file's inputs or code differ from those it was fitted with."""
