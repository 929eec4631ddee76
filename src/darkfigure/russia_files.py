"""The SYNTHETIC Russia world (`darkfigure.russia`) as files: noisy record-level lists and the
analysis inputs derived from the true identities (DESIGN.md contracts).

Records are written with `darkfigure.synthetic_records` (transliteration variants, typos,
Cyrillic spellings, missing fields, within-list duplicates; after Christen 2012, *Data
Matching*, ch. 5), so the lists can also exercise `darkfigure link`. Every file name starts
with ``SYNTHETIC_`` and every record carries a ``SYNTHETIC`` column.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from . import io, synthetic_records as sr
from .russia import DISTRICTS, LISTS, NGO_DISTRICTS, SECTORS, SUBJECTS, World, stratum_counts

#: What each list records and how noisily (capture itself is decided by the world).
PROFILES = {
    "court": sr.ListProfile(0.0, ("surname", "initials", "sex", "birth_date", "nationality",
                                  "region", "sector", "record_year"), missing=0.04,
                            duplicate=0.02, swap_day_month=0.06, date_format="%d.%m.%Y"),
    "ngo": sr.ListProfile(0.0, ("first_name", "surname", "sex", "birth_year", "nationality",
                                "region", "sector", "record_year"), missing=0.1, cyrillic=0.15,
                          duplicate=0.05),
    "register": sr.ListProfile(0.0, ("first_name", "surname", "sex", "age_band", "nationality",
                                     "region", "record_year"), missing=0.08, typo=0.08),
}
FILES = {"court": "SYNTHETIC_court_verdicts.csv", "ngo": "SYNTHETIC_ngo_cases.csv",
         "register": "SYNTHETIC_service_register.csv"}
#: Articles other than 127.2 under which the study found evidence of slavery (tbp, 2nd paragraph)
OTHER_ARTICLES = {"sexual": ["240", "240", "241", "240.1", "127"], "labour": ["127", "126", "127"]}
FOREIGN = (["Uzbekistan", "Tajikistan", "Kyrgyzstan", "Ukraine", "Moldova", "Nigeria",
            "Vietnam", "North Korea"], [0.3, 0.25, 0.15, 0.1, 0.06, 0.06, 0.04, 0.04])
SERVICES = ["shelter", "IOM assistance", "consular help", "hotline referral"]


def _people(world: World, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Names and birth dates from `synthetic_records`, the world's strata and traits."""
    n = len(world.district)
    people = sr._people(n, rng)
    sex = np.where(world.female, "F", "M")
    nationality = np.where(world.foreign, rng.choice(FOREIGN[0], size=n, p=FOREIGN[1]),
                           "Russia")
    region = np.array([str(rng.choice(SUBJECTS[DISTRICTS[d]])) for d in world.district])
    first = np.array([str(rng.choice(list(sr.FIRST_NAMES[s]))) for s in sex])
    return people | {"sex": sex, "first": first, "nationality": nationality, "region": region,
                     "sector": np.array(SECTORS)[world.sector], "year": world.year}


def record_lists(world: World) -> tuple[dict[str, list[dict]], dict[str, np.ndarray]]:
    """Noisy rows per list and the true person behind each row (seeded by the world)."""
    rng = np.random.default_rng(np.random.SeedSequence(world.seed).spawn(2)[1])
    people = _people(world, rng)
    rows, truth = {}, {}
    for k, name in enumerate(LISTS):
        prof = PROFILES[name]
        caught = np.flatnonzero(world.captured[:, k])
        twice = caught[rng.random(len(caught)) < prof.duplicate]
        who = rng.permutation(np.concatenate([caught, twice]))
        rows[name], truth[name] = [], who
        for line, i in enumerate(who):
            row = sr._record(people, int(i), prof, rng)
            extra = {"district": DISTRICTS[world.district[i]] if rng.random() > 0.03 else ""}
            if name == "court":
                kind = "sexual" if world.sector[i] == 0 else "labour"
                extra["article"] = "127.2" if world.official[i] else \
                    str(rng.choice(OTHER_ARTICLES[kind]))
            if name == "register":
                extra["service"] = str(rng.choice(SERVICES, p=[0.4, 0.3, 0.2, 0.1]))
            rows[name].append({"record_id": f"{name[:3].upper()}-{line + 1:05d}"} | row | extra)
    return rows, truth


def capture_rows(world: World) -> list[dict]:
    """Aggregated capture table: every pattern possible under coverage, zeros included, so
    every stratum is present even where nobody was recorded."""
    rows = []
    bits = 1 << np.arange(len(LISTS) - 1, -1, -1)
    code = world.captured @ bits
    for d, s in itertools.product(range(len(DISTRICTS)), range(len(SECTORS))):
        here = code[(world.district == d) & (world.sector == s)]
        for pattern in itertools.product((0, 1), repeat=len(LISTS)):
            if not any(pattern) or (pattern[1] and DISTRICTS[d] not in NGO_DISTRICTS):
                continue
            value = int(np.dot(pattern, bits))
            rows.append({"district": DISTRICTS[d], "sector": SECTORS[s]}
                        | dict(zip(LISTS, pattern)) | {"count": int((here == value).sum())})
    return rows


def stratum_rows(world: World) -> dict[str, list[dict]]:
    """Official counts, coverage and the per-stratum truth."""
    n, official = stratum_counts(world), stratum_counts(world, world.official)
    observed = stratum_counts(world, world.captured.any(axis=1))
    cells = list(itertools.product(range(len(DISTRICTS)), range(len(SECTORS))))
    key = [{"district": DISTRICTS[d], "sector": SECTORS[s]} for d, s in cells]
    return {
        "official": [k | {"official": int(official[c])} for k, c in zip(key, cells)],
        "coverage": [k | {"list": name, "covered": int(name != "ngo" or k["district"]
                                                         in NGO_DISTRICTS)}
                     for k in key for name in LISTS],
        "truth": [k | {"N": int(n[c]), "observed": int(observed[c]),
                       "official": int(official[c])} for k, c in zip(key, cells)],
    }


def ctdc_rows(world: World) -> list[dict]:
    """CTDC-style margin: foreign victims recorded, by sector only (no identities)."""
    counts = np.bincount(world.sector[world.ctdc], minlength=len(SECTORS))
    return [{"sector": s, "count": int(c)} for s, c in zip(SECTORS, counts)]


def write_all(world: World, out: str | Path) -> dict[str, Path]:
    """Every SYNTHETIC file of the Russia example into ``out`` (atomically, one by one)."""
    out = Path(out)
    rows, truth = record_lists(world)
    tables = {FILES[name]: rows[name] for name in LISTS}
    side = stratum_rows(world)
    tables |= {"SYNTHETIC_russia_capture.csv": capture_rows(world),
               "SYNTHETIC_russia_official.csv": side["official"],
               "SYNTHETIC_russia_coverage.csv": side["coverage"],
               "SYNTHETIC_truth.csv": side["truth"],
               "SYNTHETIC_ctdc_aggregate.csv": ctdc_rows(world),
               "SYNTHETIC_record_links.csv": [{"list": n, "record_id": r["record_id"],
                                               "person": int(p)}
                                              for n in LISTS for r, p in zip(rows[n], truth[n])]}
    paths = {}
    for name, table in tables.items():
        header = list(dict.fromkeys(k for row in table for k in row))
        paths[name] = out / name
        io.write_text(paths[name], sr._csv(header, table))
    return paths
