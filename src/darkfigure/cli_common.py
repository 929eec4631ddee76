"""Flag parsing shared by the `darkfigure` subcommand modules (no logic of the tool's own)."""

from __future__ import annotations


def comma_names(text: str | None) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; empty items and a missing flag give ``[]``."""
    return [n.strip() for n in text.split(",") if n.strip()] if text else []
