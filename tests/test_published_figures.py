"""Published figures on Russia (data/raw/russia) are traceable to their sources.

Every row of published_figures.csv must quote its source verbatim, and the quote must contain
the row's value (in digits, with thousands separators, or in words), so that a reader can check
each number against the text it came from. The source texts must be the ones in the manifest.
"""

import csv
import hashlib
import re
import tomllib
from pathlib import Path

import pytest

RUSSIA = Path(__file__).parents[1] / "data/raw/russia"
FIGURES = RUSSIA / "published_figures.csv"
MANIFEST = RUSSIA / "MANIFEST.toml"
COLUMNS = ["id", "value", "unit", "period", "geography", "definition", "document", "quote"]
MIN_QUOTE_CHARS = 30

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}
ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10,
}
SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
# Phrases without a single number. Vague plurals stand for the smallest number they can mean
# ("hundreds" >= 200); the CSV records them that way and says so in `definition`.
PHRASES = {
    "three quarters of a million": 750_000,
    "half": 0.5,
    "dozens": 24,
    "hundreds": 200,
    "thousands": 2_000,
    "tens of thousands": 20_000,
    "hundreds of thousands": 200_000,
    "millions": 2_000_000,
}
DIGITS = re.compile(
    r"(?<![\d.,])(\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+|\d+)(\.\d+)?"
    r"(?:\s+(hundred|thousand|million|billion)\b)?"
)


def collapse(text: str) -> str:
    """Runs of whitespace become one space, so line breaks in the sources do not matter."""
    return re.sub(r"\s+", " ", text).strip()


def word_numbers(text: str) -> set[float]:
    """Numbers written in words: 'seventeen', 'twenty-five', 'four million', 'fourth'."""
    found: set[float] = set()
    total = current = 0
    in_number = False
    for token in re.findall(r"[a-z]+", text.lower()) + [""]:
        if token in UNITS:
            current += UNITS[token]
            in_number = True
        elif token in SCALES and in_number:
            if token == "hundred":
                current *= 100
            else:
                total += current * SCALES[token]
                current = 0
        else:
            if in_number:
                found.add(float(total + current))
            total = current = 0
            in_number = False
            if token in ORDINALS:
                found.add(float(ORDINALS[token]))
    return found


def numbers_in(text: str) -> set[float]:
    """Every number a reader would see in `text`, whatever its format."""
    text = collapse(text)
    found: set[float] = set()
    for match in DIGITS.finditer(text):
        integer, decimals, scale = match.groups()
        pieces = [integer.replace(",", "").replace(" ", "")]
        if " " in integer:
            # "794 000" is one number, but "in 2023 223" would be two: keep both readings
            pieces += integer.split(" ")
        for piece in pieces:
            number = float(piece + (decimals or ""))
            found.add(number)
            if scale:
                found.add(number * SCALES[scale])
    found |= word_numbers(text)
    lower = text.lower()
    found |= {float(v) for phrase, v in PHRASES.items() if re.search(rf"\b{phrase}\b", lower)}
    return found


def read_rows() -> list[dict[str, str]]:
    with FIGURES.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


ROWS = read_rows()
SOURCES = {name: collapse((RUSSIA / "sources" / name).read_text(encoding="utf-8"))
           for name in {row["document"] for row in ROWS}
           if (RUSSIA / "sources" / name).is_file()}


def test_normaliser_reads_the_formats_the_sources_use():
    cases = {
        "794,000 people": 794_000, "794 000 people": 794_000, "6,600 people": 6_600,
        "seventeen cases": 17, "17 times as high": 17, "Twenty-five percent": 25,
        "1.8 million people": 1_800_000, "four million workers": 4_000_000,
        "for the fourth consecutive year": 4, "99% of their clients": 99,
        "ages 18-22": 22, "over three quarters of a million": 750_000, "almost half": 0.5,
    }
    for text, value in cases.items():
        assert float(value) in numbers_in(text), f"{value} not read from {text!r}"
    assert 2.0 not in numbers_in("in 2022"), "a digit inside a year must not count as a number"


def test_columns_are_as_documented():
    with FIGURES.open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header == COLUMNS, f"published_figures.csv columns are {header}, expected {COLUMNS}"


def test_ids_are_unique():
    ids = [row["id"] for row in ROWS]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"ids used more than once: {duplicates}"


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_required_columns_are_filled(row):
    empty = [column for column in COLUMNS if not (row[column] or "").strip()]
    assert not empty, f"{row['id']}: empty columns {empty}"


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_value_is_a_plain_number(row):
    assert re.fullmatch(r"\d+(\.\d+)?", row["value"]), (
        f"{row['id']}: value {row['value']!r} is not a plain non-negative number "
        "(write 794000, not '794,000' or '~794k')"
    )


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_quote_is_verbatim_in_its_source(row):
    assert row["document"] in SOURCES, f"{row['id']}: document {row['document']} not in sources/"
    quote = collapse(row["quote"])
    assert len(quote) >= MIN_QUOTE_CHARS, (
        f"{row['id']}: quote has {len(quote)} characters; quote at least {MIN_QUOTE_CHARS} "
        "so that it identifies its place in the source"
    )
    assert quote in SOURCES[row["document"]], f"{row['id']}: quote not found in {row['document']}"


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_value_appears_in_quote(row):
    assert re.fullmatch(r"\d+(\.\d+)?", row["value"]), f"{row['id']}: value {row['value']!r} is not a number"
    value = float(row["value"])
    seen = numbers_in(row["quote"])
    assert any(abs(value - x) <= 1e-9 * max(1.0, abs(value)) for x in seen), (
        f"{row['id']}: value {row['value']} does not appear in its quote; numbers there: {sorted(seen)}"
    )


def test_study_multiplier_matches_its_underlying_counts():
    """The 'To Be Precise' study's '17 times' is its 880 cases over the 53 registered ones."""
    by_id = {row["id"]: float(row["value"]) for row in ROWS}
    other, registered = by_id["tbp_cases_other_articles"], by_id["tbp_cases_art127_2"]
    multiplier = by_id["tbp_scale_multiplier"]
    assert round(other / registered) == multiplier, (
        f"{other:g}/{registered:g} = {other / registered:.1f} does not round to the reported {multiplier:g}x"
    )


def test_manifest_lists_every_file_with_its_hash():
    entries = tomllib.loads(MANIFEST.read_text(encoding="utf-8"))["files"]
    on_disk = {p.relative_to(RUSSIA).as_posix() for p in (RUSSIA / "sources").iterdir() if p.is_file()}
    unlisted = sorted(on_disk - entries.keys())
    assert not unlisted, f"files in data/raw/russia/sources missing from MANIFEST.toml: {unlisted}"
    for key, entry in entries.items():
        path = RUSSIA / key
        assert path.is_file(), f"MANIFEST.toml lists {key}, which does not exist"
        missing = [f for f in ("sha256", "description", "publication", "source", "licence") if not entry.get(f)]
        assert not missing, f"MANIFEST.toml entry {key} lacks {missing}"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == entry["sha256"], (
            f"{key}: sha256 is {digest}, MANIFEST.toml says {entry['sha256']}; files in data/raw are "
            "never edited: restore the file, or update the manifest if it was deliberately replaced"
        )


def test_every_row_cites_a_manifest_source():
    entries = tomllib.loads(MANIFEST.read_text(encoding="utf-8"))["files"]
    cited = {row["document"] for row in ROWS}
    unlisted = sorted(d for d in cited if f"sources/{d}" not in entries)
    assert not unlisted, f"rows cite documents not in MANIFEST.toml: {unlisted}"
