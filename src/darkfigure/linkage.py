"""Raw record lists -> who is on which list: probabilistic record linkage with splink.

Each list is a CSV of records (one per case) holding whatever the source recorded: names or
initials, sex, birth date, birth year or age band, nationality, region, sector. Records are
compared pairwise under the Fellegi-Sunter model (Fellegi & Sunter 1969, JASA 64:1183): every
field comparison falls into a level whose probability among true matches (m) and non-matches
(u) gives a likelihood ratio, and the ratios multiply into a match probability. splink
(Linacre et al. 2022, *Splink: free software for probabilistic record linkage at scale*,
IJPDS 7(3)) does the work in SQL: u from random pairs, m by expectation maximisation within
blocks, then prediction on blocked candidate pairs of *all* records at once
(``link_and_dedupe``), so duplicates within a list are resolved with the cross-list matches.

Names are compared on transliteration keys (`darkfigure.linkage_keys`): Cyrillic is romanised
and the spellings that Russian names take in Latin script are folded together, then
Jaro-Winkler absorbs typos. Age bands become birth-year intervals (from the record's year)
that are compared by overlap. A field counts only where both records hold it in the same
form (first name with first name, an initial where one side has only initials, exact year
with exact year, a band where one side has a band), so each comparison's m and u describe
one kind of evidence; missing fields are no evidence either way. The model (comparisons,
blocking rules, training) is `darkfigure.linkage_model`.

Every pair of records is compared while there are at most `ALL_PAIRS_MAX` pairs (about 4,500
records): blocking only saves time, and a true pair it leaves out is linked in no draw of the
linkage, so that person is counted twice and N leans high. The partition law of the draws
(`darkfigure.linkage_sampler`) also needs the probability of every pair it puts in one cluster.
Larger inputs are blocked: candidate pairs come from several rules (any one suffices),
including rules for a surname one typo away and for records without a usable name.

Identifying fields never leave this module: it returns record indices, match probabilities,
list membership and stratum values only. splink's DuckDB database lives in memory with its
spill directory in a private temporary directory that is removed afterwards.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from .csvread import read_csv
from .errors import InputError
from .linkage_keys import initial_key, name_key, one_edit_keys
from .linkage_model import RULES, settings, train, typo_rules
from .linkage_sampler import threshold_partition

IDENTIFYING = ("first_name", "surname", "initials", "birth_date", "birth_year", "age_band")
DESCRIPTIVE = ("sex", "nationality", "region", "sector", "record_year")
IGNORED = ("record_id", "SYNTHETIC")  # a source's own case number is never used or written
ALIASES = {"last_name": "surname", "family_name": "surname", "given_name": "first_name",
           "forename": "first_name", "dob": "birth_date", "date_of_birth": "birth_date",
           "gender": "sex", "citizenship": "nationality", "year": "record_year"}
SEX = {"f": "F", "female": "F", "ж": "F", "m": "M", "male": "M", "м": "M"}
# Up to this many record pairs (about 4,500 records) every pair is compared: measured on
# SYNTHETIC lists, about 20 s of CPU at 10 million pairs against 4 s with blocking rules
ALL_PAIRS_MAX = 10_000_000
SPLINK_MISSING = "splink is not installed; install the linkage extra: pip install 'darkfigure[linkage]'"


@dataclass
class RecordList:
    """One source's records, reduced to the comparison features linkage needs."""

    name: str
    path: Path
    fields: tuple[str, ...]  # canonical fields present in the file
    features: dict[str, list] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.features["fn_key"])


def _parse_date(text: str) -> date:
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text) or \
        re.fullmatch(r"(\d{1,2})[./](\d{1,2})[./](\d{4})", text)
    if not m:
        raise ValueError
    a, b, c = (int(g) for g in m.groups())
    return date(a, b, c) if len(m.group(1)) == 4 else date(c, b, a)


def _year(text: str, lo: int = 1900, hi: int = 2100) -> int:
    year = int(text)
    if not lo <= year <= hi:
        raise ValueError
    return year


def _band(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{1,3})\s*(?:-\s*(\d{1,3})|\+)", text)
    if not m:
        raise ValueError
    lo, hi = int(m.group(1)), int(m.group(2) or 120)
    if hi < lo:
        raise ValueError
    return lo, hi


def read_record_list(path: str | Path, name: str) -> RecordList:
    """Read and validate one list; raise `InputError` naming file, line and column."""
    rows = read_csv(path)
    fields = []
    for column in rows.header:
        canon = ALIASES.get(column.lower(), column if column in IGNORED else column.lower())
        if canon not in IDENTIFYING + DESCRIPTIVE + IGNORED:
            raise InputError(f"unknown column; record lists may hold {', '.join(IDENTIFYING)} "
                             f"(identifying), {', '.join(DESCRIPTIVE)} (descriptive) and "
                             f"{', '.join(IGNORED)} (ignored): rename it or remove it",
                             path=rows.path, line=1, column=column)
        fields.append(canon)
    if len(set(fields)) < len(fields):
        raise InputError("two columns mean the same field (e.g. dob and birth_date)",
                         path=rows.path, line=1)
    by = dict(zip(fields, rows.header))
    feats: dict[str, list] = {k: [] for k in ("fn_key", "sn_key", "sn_edits", "fi", "birth_date",
                                               "birth_year", "by_lo", "by_hi", *DESCRIPTIVE)}
    for line, row in rows.rows:
        get = {f: row[c] for f, c in by.items()}
        column = None
        try:
            column = "sex"
            sex = get.get("sex", "")
            if sex and sex.lower() not in SEX:
                raise ValueError
            feats["sex"].append(SEX.get(sex.lower()) if sex else None)
            column = "record_year"
            ref = _year(get["record_year"]) if get.get("record_year") else None
            feats["record_year"].append(str(ref) if ref else None)
            column = "birth_date"
            born = _parse_date(get["birth_date"]) if get.get("birth_date") else None
            column = "birth_year"
            year = born.year if born else (_year(get["birth_year"]) if get.get("birth_year")
                                            else None)
            column = "age_band"
            band = _band(get["age_band"]) if get.get("age_band") else None
        except ValueError:
            what = {"sex": "F or M", "record_year": "a year such as 2021",
                    "birth_date": "a date YYYY-MM-DD or DD.MM.YYYY",
                    "birth_year": "a year such as 1990",
                    "age_band": "a band such as 25-29 or 60+"}[column]
            raise InputError(f"'{row[by[column]]}' is not {what}", path=rows.path, line=line,
                             column=by[column]) from None
        lo = hi = year
        if year is None and band and ref:  # age at the record's date -> birth-year interval
            lo, hi = ref - band[1] - 1, ref - band[0]
        fn = name_key(get.get("first_name", ""))
        written = name_key(re.split(r"[.\s]", get.get("initials", "").strip() + ".")[0])
        feats["fn_key"].append(fn or None)
        feats["sn_key"].append(name_key(get.get("surname", "")) or None)
        feats["sn_edits"].append(one_edit_keys(feats["sn_key"][-1]))
        feats["fi"].append(initial_key(fn or written))
        feats["birth_date"].append(born.isoformat() if born else None)
        for key, value in (("birth_year", year), ("by_lo", lo), ("by_hi", hi)):
            feats[key].append(value)
        for key in ("nationality", "region", "sector"):
            feats[key].append(get.get(key) or None)
    return RecordList(name, rows.path, tuple(fields), feats)


def check_lists(lists: list[RecordList], strata: list[str]) -> None:
    """Refuse inputs that cannot be linked or stratified (before anything is written)."""
    if len(lists) < 2:
        raise InputError("record linkage for MSE needs at least 2 lists, better 3 or more")
    groups = {"name": {"first_name", "surname", "initials"},
              "birth": {"birth_date", "birth_year", "age_band"}}
    for rec in lists:
        mine = {g for g, fs in groups.items() if fs & set(rec.fields)}
        others = {g for o in lists if o is not rec for g, fs in groups.items()
                  if fs & set(o.fields)}
        if not mine & others:
            raise InputError("shares no identifying field (name, initials, birth date/year or "
                             "age band) with any other list, so its records cannot be linked",
                             path=rec.path, line=1)
    for column in strata:
        if column in IDENTIFYING:
            raise InputError(f"'{column}' identifies people and cannot be a stratum; strata "
                             f"are descriptive: {', '.join(DESCRIPTIVE)}", path=lists[0].path,
                             line=1, column=column)
        if column not in DESCRIPTIVE or not any(column in r.fields for r in lists):
            raise InputError(f"stratum column '{column}' (--strata) is in none of the lists",
                             path=lists[0].path, line=1, column=column)


@dataclass
class Scored:
    """Candidate pairs (record indices into the stacked lists) with match probabilities,
    and the best linkage at ``threshold``: everything later steps need, no identifiers."""

    pair_left: np.ndarray
    pair_right: np.ndarray
    probability: np.ndarray
    best: np.ndarray  # person id per record: pairs >= ``threshold``, joined transitively
    threshold: float
    info: dict


def _tables(lists: list[RecordList]):
    import pyarrow as pa

    types = {"birth_year": pa.int32(), "by_lo": pa.int32(), "by_hi": pa.int32(),
             "sn_edits": pa.list_(pa.string())}
    start, out = 0, []
    for rec in lists:
        cols = {"record": pa.array(np.arange(start, start + rec.n), pa.int64())}
        cols |= {k: pa.array(v, types.get(k, pa.string())) for k, v in rec.features.items()}
        out.append(pa.table(cols))
        start += rec.n
    return out


def score(lists: list[RecordList], *, seed: int = 0, threshold: float = 0.5,
          min_probability: float = 0.01, backend: str = "duckdb", rule_recall: float = 0.5,
          all_pairs_max: int = ALL_PAIRS_MAX, progress: bool = False) -> Scored:
    """Train the Fellegi-Sunter model (u by random sampling, m by EM) and score pairs: all
    of them where there are at most ``all_pairs_max``, else those the blocking rules find."""
    try:
        from splink import Linker
    except ImportError:
        raise InputError(SPLINK_MISSING) from None
    level = logging.INFO if progress else logging.ERROR
    private = tempfile.mkdtemp(prefix="darkfigure-link-")  # mode 0700: only this user
    session = None
    try:
        db_api, session = _backend(backend, private)
        tables = _tables(lists)
        if backend == "spark":  # Spark 3.5 builds its frames from pandas, not arrow
            tables = [t.to_pandas() for t in tables]
        inputs = [db_api.register(t, dataset_display_name=f"list{i}")
                  for i, t in enumerate(tables)]
        n = sum(r.n for r in lists)
        all_pairs = n * (n - 1) // 2 <= all_pairs_max
        rules = ["1=1"] if all_pairs else RULES
        linker, failed = train(lambda: Linker(inputs, settings(seed, rules), log_level=level),
                                n, seed, rule_recall)
        model = linker.misc.save_model_to_json()  # the trained model as a dict, no file
        passes = [linker]
        if not all_pairs:  # the same trained model on the typo rules' pairs (disjoint)
            passes.append(Linker(inputs, model | {"blocking_rules_to_generate_predictions":
                                                  typo_rules(), "linker_uid": f"df{seed}t"},
                                 log_level=level))
        parts = [_predict(one, min_probability, backend) for one in passes]
        left, right, p = (np.concatenate([part[k] for part in parts]) for k in range(3))
        info = {"probability_two_random_records_match":
                float(model["probability_two_random_records_match"]),
                "em_blocks_failed": failed,
                "pairs_compared": "all" if all_pairs else "blocking rules"}
    finally:
        if session is not None:
            session.stop()
        shutil.rmtree(private, ignore_errors=True)
    # splink's clustering at the threshold is these connected components; computed here
    # because the pairs come from two passes
    best = threshold_partition(left, right, p, n, threshold)
    return Scored(left, right, p, best, threshold, info)


def _predict(linker, min_probability: float, backend: str) -> tuple[np.ndarray, ...]:
    """Record pairs and their match probabilities at ``min_probability`` or more."""
    pred = linker.inference.predict(threshold_match_probability=min_probability)
    pairs = pred.as_duckdbpyrelation().select(
        "record_l, record_r, match_probability").fetchnumpy() if backend == "duckdb" \
        else pred.as_pyarrow_table().to_pydict()
    return (np.asarray(pairs["record_l"], np.int64), np.asarray(pairs["record_r"], np.int64),
            np.asarray(pairs["match_probability"], float))


def blocked_pairs(lists: list[RecordList], sample: float = 0.05) -> int:
    """How many pairs the blocking rules propose for scoring (what `score` compares above
    ``all_pairs_max``), estimated by splink from ``sample`` of the records on each side."""
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    private = tempfile.mkdtemp(prefix="darkfigure-link-")
    try:
        db_api, _ = _backend("duckdb", private)
        inputs = [db_api.register(t, dataset_display_name=f"list{i}")
                  for i, t in enumerate(_tables(lists))]
        total = 0
        for rules in (RULES, typo_rules()):  # disjoint, as `score` scores them
            counts = count_comparisons_from_blocking_rules(
                inputs, blocking_rules=rules, link_type="link_and_dedupe",
                unique_id_column_name="record", record_sample_proportion=sample)
            total += int(counts[-1]["cumulative_comparison_count"])
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return total


def _backend(name: str, private: str):
    """DuckDB in memory, spilling only into ``private``; or Spark with its scratch there."""
    if name == "duckdb":
        import duckdb
        from splink import DuckDBAPI

        con = duckdb.connect(":memory:")
        con.execute(f"SET temp_directory = '{private}'")
        return DuckDBAPI(connection=con), None
    if name == "spark":
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise InputError("--backend spark needs pyspark: pip install "
                             "'darkfigure[linkage-spark]'") from None
        from splink import SparkAPI

        spark = (SparkSession.builder.appName("darkfigure-link")
                 .config("spark.local.dir", private)
                 .config("spark.sql.warehouse.dir", f"{private}/warehouse").getOrCreate())
        spark.sparkContext.setCheckpointDir(f"{private}/checkpoints")
        return SparkAPI(spark_session=spark), spark
    raise InputError(f"unknown backend '{name}'; choose duckdb or spark")
