"""Plain words for the reports: what each model family assumes, and what the numbers mean.

Each family's ``ASSUMPTION`` (models.Family.assumption) is the technical one-liner; here it is
said again for a reader who is not a statistician. Kept apart from `report` so the wording can
be reviewed on its own; the number formats live here too, so that `report` and
`report_multiplier` share them without importing each other.
"""

from __future__ import annotations


def number(value: float | None) -> str:
    """A count as people read it: 1,234 (no decimals)."""
    return "—" if value is None else f"{value:,.0f}"


def ratio(value: float | None) -> str:
    """A multiplier to three significant digits: 16.6, 3.23, 142."""
    return "—" if value is None else f"{value:,.3g}" if value < 1000 else f"{value:,.0f}"


def interval(row: dict, prefix: str, fmt=number) -> str:
    """'low to high' of a row's 95% interval columns ``PREFIX_q025``/``PREFIX_q975``."""
    low, high = row.get(f"{prefix}_q025"), row.get(f"{prefix}_q975")
    return "—" if low is None else f"{fmt(low)} to {fmt(high)}"


SYNTHETIC_BANNER = "SYNTHETIC DATA — NOT REAL ESTIMATES"

SYNTHETIC_NOTE = ("The inputs of this analysis are invented (synthetic) records made to "
                  "demonstrate the method. None of the numbers below describes real people.")

#: Family name -> the identifying assumption in plain words.
PLAIN_ASSUMPTION = {
    "loglinear": (
        "Nobody can count the people no list found, so the estimate extrapolates from the "
        "people found by several lists. Lists may be linked in pairs (for example an NGO "
        "that refers people to the police), and the model learns these links from the "
        "overlaps. It assumes nothing more complicated: the people no list found are "
        "found, or missed, by the same pattern of links as the people who were found."),
    "bma": (
        "Nobody can count the people no list found, so the estimate extrapolates from the "
        "people found by several lists. Rather than choosing one pattern of links between "
        "the lists, it averages over every simple pattern, giving more weight to those "
        "that fit the overlaps better. It assumes the people no list found follow the "
        "same pattern as the people who were found."),
    "latent-class": (
        "Some people are much harder to find than others. The model assumes they fall "
        "into a few hidden groups, and that within a group each list finds people "
        "independently of the others; the people no list found belong to the same "
        "groups. A group that no list ever reaches cannot be seen by this or any model."),
    "hierarchical": (
        "Within each region and sector, as in the log-linear model: lists may be linked "
        "in pairs, and the people no list found follow the same pattern as those found. "
        "In addition, regions and sectors are assumed to resemble one another, so what "
        "the lists show in one informs the others. This steadies estimates for places "
        "with few records, but pulls them toward the average."),
    "multiplier": (
        "Each published count is treated as the chance outcome of a steady yearly rate, "
        "and the counts compared are records of the same crime that do not overlap. The "
        "interval shows only how much such counts vary by chance. It cannot show whether "
        "the sources define a case in the same way; the notes below say where they do "
        "not."),
}

#: What an estimate of N means (capture families).
WHAT_N_MEANS = (
    "N is the estimated number of victims in the population the lists cover, counting both "
    "those on at least one list and those on none. It is only as good as the assumption "
    "below.")

#: What the multiplier means, and why it is a lower bound.
WHAT_MULTIPLIER_MEANS = (
    "The multiplier says how many cases of the crime appear in court records for every case "
    "the official statistics register. Court records hold only crimes that reached a "
    "court, and the researchers call their own count very incomplete, so the true gap "
    "between the crime and the official statistics is larger: read each multiplier as a "
    "**lower bound** of the dark figure.")

INTERVAL_MEANS = (
    "Ranges are 95% intervals: given the data and the assumption, the true value lies in the "
    "range with 95% probability.")
