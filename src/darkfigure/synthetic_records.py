"""SYNTHETIC record-level case lists with known true identities, for testing record linkage.

A population of invented people (names, sex, birth date, nationality, region, sector) is
captured independently by several lists, each of which records what real Russian sources
record and with their kind of noise (record-linkage error models after Christen 2012, *Data
Matching*, ch. 5, and the name-variation studies behind splink's comparison library):

- ``court``: verdicts name the defendant's victims by surname and initials, with a full birth
  date written DD.MM.YYYY (sometimes with day and month swapped);
- ``ngo``: case files with first name and surname, sometimes typed in Cyrillic, birth year only;
- ``shelter``: registers with first name and surname, an age band at intake, no sector.

Every list spells names its own way (transliteration variants: Aleksandr/Alexander/Aleksander,
Yuliya/Julia/Iuliia; surname endings -ov/-off, -sky/-ski/-skiy), makes typos, leaves fields
empty and holds a few within-list duplicates. Nothing here describes a real person: every
file written says SYNTHETIC in its name and carries a ``SYNTHETIC`` column.
"""

from __future__ import annotations

import csv
import io as _io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import io

MARKER = "SYNTHETIC"

FIRST_NAMES = {  # canonical spelling: its transliteration variants (first = Cyrillic source)
    "F": {"Юлия": ["Yuliya", "Julia", "Iuliia", "Yulia"], "Наталья": ["Natalya", "Natalia",
          "Nataliya", "Nataliia"], "Ольга": ["Olga", "Ol'ga"], "Елена": ["Elena", "Yelena",
          "Jelena"], "Татьяна": ["Tatyana", "Tatiana", "Tatjana"], "Ксения": ["Kseniya",
          "Ksenia", "Xenia"], "Мария": ["Mariya", "Maria", "Marija"], "Дарья": ["Darya",
          "Daria", "Dariya"], "Екатерина": ["Ekaterina", "Yekaterina"], "Ирина": ["Irina"],
          "Анна": ["Anna"], "Светлана": ["Svetlana"], "Людмила": ["Lyudmila", "Ludmila",
          "Liudmila"], "Анастасия": ["Anastasiya", "Anastasia", "Anastasiia"],
          "Дилноза": ["Dilnoza", "Dilnaza"], "Гульнара": ["Gulnara", "Gulnora"],
          "Малика": ["Malika"], "Зарина": ["Zarina"], "Валентина": ["Valentina"],
          "Алёна": ["Alyona", "Alena", "Aliona"]},
    "M": {"Александр": ["Aleksandr", "Alexander", "Aleksander", "Alexandr"], "Сергей":
          ["Sergey", "Sergei"], "Дмитрий": ["Dmitriy", "Dmitry", "Dmitrii"], "Андрей":
          ["Andrey", "Andrei"], "Алексей": ["Aleksey", "Alexey", "Aleksei", "Alexei"],
          "Юрий": ["Yuriy", "Yuri", "Iurii", "Jurij"], "Михаил": ["Mikhail", "Mihail"],
          "Николай": ["Nikolay", "Nikolai"], "Иван": ["Ivan"], "Владимир": ["Vladimir"],
          "Рустам": ["Rustam"], "Фаррух": ["Farrukh", "Farruh"], "Бахтиёр": ["Bakhtiyor",
          "Bakhtiyar", "Baxtiyor"], "Шавкат": ["Shavkat"], "Тимур": ["Timur"], "Олег":
          ["Oleg"], "Максим": ["Maksim", "Maxim"], "Евгений": ["Evgeniy", "Yevgeniy",
          "Evgeny", "Evgenii"], "Ильдар": ["Ildar"], "Азамат": ["Azamat"]},
}
SURNAME_ROOTS = ["Ivan", "Smirn", "Kuznets", "Popov", "Vasil", "Petr", "Sokol", "Mikhail",
                 "Novik", "Fedor", "Moroz", "Volk", "Alekse", "Lebed", "Semen", "Egor",
                 "Pavl", "Kozl", "Stepan", "Nikolae", "Orl", "Andre", "Makar", "Nikit",
                 "Zakharov", "Zaits", "Solovy", "Borisov", "Yakovl", "Grigori", "Roman",
                 "Vorobi", "Sergee", "Kuzmin", "Frolov", "Aleksandr", "Dmitri", "Koroly",
                 "Gusev", "Kiselev", "Ilyin", "Maksim", "Polyakov", "Sorokin", "Vinogradov",
                 "Kovalev", "Belov", "Medvedev", "Antonov", "Tarasov", "Zhukov", "Baranov",
                 "Filippov", "Komarov", "Davyd", "Belyae", "Gerasim", "Bogdan", "Osip",
                 "Sidor", "Matve", "Titov", "Marko", "Mironov", "Krylov", "Kulikov",
                 "Karim", "Rakhim", "Yusup", "Tursun", "Rashid", "Nazar", "Umar", "Ergash",
                 "Khodzhae", "Abdullae", "Saidov", "Nurmatov", "Kasym", "Ismail", "Sharip"]
SYLLABLES = ["ba", "ve", "go", "da", "ko", "lo", "ma", "no", "pa", "ro", "sa", "to", "zu",
             "ka", "li", "mi", "ra", "she", "che", "zha", "du", "by", "ste", "gri", "pro",
             "kra", "vla", "ty", "mu", "sh", "ni", "tse"]
REGIONS = ["Moscow", "Saint Petersburg", "Moscow Oblast", "Krasnodar Krai",
           "Sverdlovsk Oblast", "Novosibirsk Oblast", "Tatarstan", "Primorsky Krai",
           "Rostov Oblast", "Dagestan"]
NATIONALITIES = (["Russia", "Uzbekistan", "Tajikistan", "Kyrgyzstan", "Ukraine", "Moldova",
                  "Nigeria", "Vietnam"], [0.55, 0.15, 0.1, 0.07, 0.05, 0.04, 0.02, 0.02])
SECTORS = ["sexual exploitation", "construction", "agriculture", "domestic work",
           "forced begging", "manufacturing"]
AGE_BANDS = [(0, 17), (18, 24), (25, 29), (30, 34), (35, 39), (40, 44), (45, 49), (50, 59),
             (60, 120)]
TO_CYRILLIC = [("shch", "щ"), ("kh", "х"), ("zh", "ж"), ("ch", "ч"), ("sh", "ш"), ("ts", "ц"),
               ("yu", "ю"), ("ya", "я"), ("a", "а"), ("b", "б"), ("v", "в"), ("g", "г"),
               ("d", "д"), ("e", "е"), ("z", "з"), ("i", "и"), ("y", "ы"), ("k", "к"),
               ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"), ("r", "р"),
               ("s", "с"), ("t", "т"), ("u", "у"), ("f", "ф"), ("x", "кс"), ("'", "ь")]


@dataclass(frozen=True)
class ListProfile:
    """What one source records, how often it captures a person, and how noisy it is."""

    capture: float
    fields: tuple[str, ...]
    missing: float = 0.08  # chance that any one field is left empty
    typo: float = 0.06  # chance of one typo in each name
    duplicate: float = 0.03  # chance that a captured person is entered twice
    cyrillic: float = 0.0  # chance that names are typed in Cyrillic
    swap_day_month: float = 0.0
    date_format: str = "%Y-%m-%d"


PROFILES = {
    "court": ListProfile(0.25, ("surname", "initials", "sex", "birth_date", "nationality",
                                "region", "sector", "record_year"), missing=0.04,
                         duplicate=0.02, swap_day_month=0.06, date_format="%d.%m.%Y"),
    "ngo": ListProfile(0.35, ("first_name", "surname", "sex", "birth_year", "nationality",
                              "region", "sector", "record_year"), missing=0.1, cyrillic=0.15,
                       duplicate=0.05),
    "shelter": ListProfile(0.3, ("first_name", "surname", "sex", "age_band", "nationality",
                                 "region", "record_year"), missing=0.08, typo=0.08),
}


@dataclass
class SyntheticLists:
    """Rows per list (column -> string) and the true person behind every row."""

    rows: dict[str, list[dict[str, str]]]
    truth: dict[str, np.ndarray]
    population: int
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _surname_pool(rng: np.random.Generator, size: int) -> tuple[list[str], np.ndarray]:
    """Real roots plus invented ones, with Zipf-like frequencies (a few very common)."""
    roots = list(dict.fromkeys(r.removesuffix("ov").removesuffix("ev") for r in SURNAME_ROOTS))
    while len(roots) < size:
        root = "".join(rng.choice(SYLLABLES, size=rng.integers(2, 4))).capitalize()
        if root not in roots:
            roots.append(root)
    weights = 1.0 / np.arange(1, len(roots) + 1) ** 0.7
    return roots, weights / weights.sum()


def _surname(root: str, sex: str, kind: int) -> str:
    endings = [("ov", "ova"), ("ev", "eva"), ("in", "ina"), ("sky", "skaya"), ("enko", "enko")]
    male, female = endings[kind]
    return root + (female if sex == "F" else male)


def _variant_surname(name: str, rng: np.random.Generator) -> str:
    """Spelling variants that transliteration and foreign registries produce."""
    swaps = [("ov", ["ov", "off"]), ("ev", ["ev", "yev", "ev"]), ("sky", ["sky", "ski", "skiy",
             "skii"]), ("skaya", ["skaya", "skaia", "skaja"]), ("kh", ["kh", "h", "x"])]
    for old, new in swaps:
        if name.endswith(old) or (old == "kh" and old in name):
            choice = str(rng.choice(new))
            return name[: name.rfind(old)] + choice + name[name.rfind(old) + len(old):]
    return name


def _typo(text: str, rng: np.random.Generator) -> str:
    if len(text) < 3:
        return text
    i = int(rng.integers(1, len(text) - 1))
    kind = rng.integers(3)
    if kind == 0:  # deletion
        return text[:i] + text[i + 1:]
    if kind == 1:  # transposition
        return text[:i - 1] + text[i] + text[i - 1] + text[i + 1:]
    return text[:i] + str(rng.choice(list("aeiouklmnrst"))) + text[i + 1:]


def to_cyrillic(text: str) -> str:
    out, low, i = [], text.lower(), 0
    while i < len(low):
        for latin, cyr in TO_CYRILLIC:
            if low.startswith(latin, i):
                out.append(cyr)
                i += len(latin)
                break
        else:
            out.append(low[i])
            i += 1
    return "".join(out).capitalize()


def _people(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    roots, weights = _surname_pool(rng, max(200, n // 20))
    sex = np.where(rng.random(n) < 0.6, "F", "M")
    first = np.array([str(rng.choice(list(FIRST_NAMES[s]))) for s in sex])
    root = np.array(roots)[rng.choice(len(roots), size=n, p=weights)]
    kind = rng.choice(5, size=n, p=[0.4, 0.15, 0.2, 0.15, 0.1])
    birth = np.datetime64("1960-01-01") + rng.integers(0, 365 * 45, size=n).astype("m8[D]")
    return {"sex": sex, "first": first, "surname": np.array([_surname(r, s, k) for r, s, k in
                                                              zip(root, sex, kind)]),
            "birth": birth, "nationality": rng.choice(NATIONALITIES[0], size=n,
                                                      p=NATIONALITIES[1]),
            "region": rng.choice(REGIONS, size=n), "sector": rng.choice(SECTORS, size=n),
            "year": rng.integers(2019, 2024, size=n)}


def _record(people: dict, i: int, prof: ListProfile, rng: np.random.Generator) -> dict:
    """One noisy record of person ``i`` as ``prof``'s source would write it."""
    sex = str(people["sex"][i])
    first = str(rng.choice(FIRST_NAMES[sex][str(people["first"][i])]))
    surname = _variant_surname(str(people["surname"][i]), rng)
    first, surname = (_typo(x, rng) if rng.random() < prof.typo else x for x in (first, surname))
    if rng.random() < prof.cyrillic:
        first, surname = to_cyrillic(first), to_cyrillic(surname)
    birth = people["birth"][i].astype(object)
    year = int(people["year"][i]) + int(rng.integers(0, 2))  # lists record in different years
    if rng.random() < prof.swap_day_month and birth.day <= 12:
        birth = birth.replace(month=birth.day, day=birth.month)
    age = year - people["birth"][i].astype(object).year
    band = next(f"{lo}-{hi}" if hi < 120 else f"{lo}+" for lo, hi in AGE_BANDS if lo <= age <= hi)
    birth_year = birth.year + (int(rng.choice([-1, 1])) if rng.random() < 0.03 else 0)
    region = str(people["region"][i]) if rng.random() > 0.03 else str(rng.choice(REGIONS))
    values = {"first_name": first, "surname": surname, "initials": f"{first[0]}.",
              "sex": sex, "birth_date": birth.strftime(prof.date_format),
              "birth_year": str(birth_year), "age_band": band,
              "nationality": str(people["nationality"][i]), "region": region,
              "sector": str(people["sector"][i]), "record_year": str(year)}
    row = {f: ("" if rng.random() < prof.missing and f != "record_year" else values[f])
           for f in prof.fields}
    return row | {MARKER: "synthetic"}


def generate(n_people: int = 1000, seed: int = 0,
             profiles: dict[str, ListProfile] | None = None) -> SyntheticLists:
    """Draw a population of ``n_people`` and one noisy list per profile (seeded)."""
    profiles = profiles or PROFILES
    rng = np.random.default_rng(seed)
    people = _people(n_people, rng)
    rows, truth = {}, {}
    for name, prof in profiles.items():
        caught = np.flatnonzero(rng.random(n_people) < prof.capture)
        twice = caught[rng.random(len(caught)) < prof.duplicate]
        who = rng.permutation(np.concatenate([caught, twice]))
        rows[name] = [_record(people, int(i), prof, rng) for i in who]
        truth[name] = who
    return SyntheticLists(rows, truth, n_people,
                          {n: p.fields + (MARKER,) for n, p in profiles.items()})


def _csv(header, rows) -> str:
    out = _io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(header), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write(synth: SyntheticLists, out_dir: str | Path) -> dict[str, Path]:
    """``SYNTHETIC_<list>.csv`` per list and ``SYNTHETIC_truth.csv`` (list, line, person):
    the true identity of the record on each data line (line 2 is the first record)."""
    out_dir = Path(out_dir)
    paths = {}
    for name, rows in synth.rows.items():
        paths[name] = out_dir / f"{MARKER}_{name}.csv"
        io.write_text(paths[name], _csv(synth.fields[name], rows))
    truth = [{"list": n, "line": k + 2, "person": int(p)} for n, who in synth.truth.items()
             for k, p in enumerate(who)]
    paths["truth"] = out_dir / f"{MARKER}_truth.csv"
    io.write_text(paths["truth"], _csv(["list", "line", "person"], truth))
    return paths


def true_capture_counts(synth: SyntheticLists) -> tuple[list[str], np.ndarray]:
    """Counts per capture pattern (order of `tables.all_patterns`) under the true links."""
    names = list(synth.truth)
    mask = np.zeros(synth.population, dtype=np.int64)
    for k, name in enumerate(names):  # first list = top bit, as in `tables.all_patterns`
        mask[synth.truth[name]] |= 1 << (len(names) - 1 - k)
    return names, np.bincount(mask[mask > 0] - 1, minlength=2 ** len(names) - 1)
