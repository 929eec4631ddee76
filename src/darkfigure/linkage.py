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
one kind of evidence; missing fields are no evidence either way.

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


# Candidate pairs above ALL_PAIRS_MAX: any rule suffices, so a record missing (or misspelling)
# one field is still found through the others; age-band lists reach exact-year lists by overlap.
_OVERLAP = "l.by_lo <= r.by_hi and r.by_lo <= l.by_hi"
RULES = ["l.sn_key = r.sn_key and l.fi = r.fi", "l.sn_key = r.sn_key and l.region = r.region",
         "l.fn_key = r.fn_key and l.birth_year = r.birth_year",
         "l.fi = r.fi and l.birth_year = r.birth_year and l.region = r.region",
         "l.fn_key = r.fn_key and substr(l.sn_key, 1, 2) = substr(r.sn_key, 1, 2) and "
         "l.sex = r.sex",
         f"l.fn_key = r.fn_key and l.region = r.region and {_OVERLAP}",
         f"l.sn_key = r.sn_key and {_OVERLAP}",
         # no usable name on one side (court lists give initials only, and any name may be
         # missing): initial or nothing, plus where and who the person is
         f"l.region = r.region and l.nationality = r.nationality and l.sex = r.sex and "
         f"{_OVERLAP}"]


def _typo_rules() -> list[dict]:
    """A misspelt surname: one typo from the other (`linkage_keys.one_edit_keys`), with the
    initial or the region, less the pairs `RULES` already propose. They replace rules on the
    first three letters of the surname, which cost 4.5 million comparisons at 100,000
    records per list and found fewer true pairs (typos hit the first letters too).

    They are scored in a second pass: splink removes duplicate pairs with a GROUP BY over all
    blocked pairs of a pass that has a rule on an exploded array, which over the 62 million
    pairs of `RULES` at 100,000 records per list doubled the blocking time (+96 s of CPU)."""
    seen = " or ".join(f"coalesce(({rule}), false)" for rule in RULES)
    return [{"blocking_rule": f"l.sn_edits = r.sn_edits and l.{column} = r.{column} and "
                              f"not ({seen})", "arrays_to_explode": ["sn_edits"]}
            for column in ("fi", "region")]


def _settings(seed: int, rules: list):
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator

    # Each comparison is NULL (no evidence either way) unless both records hold the field
    # in the same form, so its m and u are estimated only from pairs where it means one
    # thing: a first name against a first name, an initial only where one side has no first
    # name, an exact birth year against an exact year, an age band only where one side has
    # a band. Mixing these in one comparison made m depend on which lists a training block
    # happened to contain (an exact first-name match weighed almost nothing).
    first = cl.CustomComparison([
        cll.NullLevel("fn_key"), cll.ExactMatchLevel("fn_key", term_frequency_adjustments=True),
        cll.JaroWinklerLevel("fn_key", 0.9), cll.JaroWinklerLevel("fn_key", 0.75),
        cll.ElseLevel()], output_column_name="first_name")
    initial = cl.CustomComparison([
        cll.CustomLevel("fi_l is null or fi_r is null or (fn_key_l is not null and "
                        "fn_key_r is not null)", "initial not compared").configure(
                            is_null_level=True),
        cll.ExactMatchLevel("fi"), cll.ElseLevel()], output_column_name="initial")
    surname = cl.CustomComparison([
        cll.NullLevel("sn_key"), cll.ExactMatchLevel("sn_key", term_frequency_adjustments=True),
        cll.JaroWinklerLevel("sn_key", 0.92), cll.JaroWinklerLevel("sn_key", 0.8),
        cll.ElseLevel()], output_column_name="surname")
    born = cl.CustomComparison([
        cll.NullLevel("birth_year"), cll.ExactMatchLevel("birth_date"),
        # day and month swapped: a frequent clerical error in DD.MM vs MM.DD sources
        cll.CustomLevel("substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4) and "
                        "substr(birth_date_l, 6, 2) = substr(birth_date_r, 9, 2) and "
                        "substr(birth_date_l, 9, 2) = substr(birth_date_r, 6, 2)",
                        "day and month swapped"),
        cll.ExactMatchLevel("birth_year"),
        cll.CustomLevel("abs(birth_year_l - birth_year_r) <= 1", "birth year within 1"),
        cll.ElseLevel()], output_column_name="birth_year")
    band = cl.CustomComparison([
        cll.CustomLevel("by_lo_l is null or by_lo_r is null or (birth_year_l is not null and "
                        "birth_year_r is not null)", "no age band compared").configure(
                            is_null_level=True),
        cll.CustomLevel("by_lo_l <= by_hi_r and by_lo_r <= by_hi_l", "age bands overlap"),
        cll.ElseLevel()], output_column_name="age_band")
    return SettingsCreator(
        link_type="link_and_dedupe", unique_id_column_name="record",
        comparisons=[first, initial, surname, born, band,
                     *(_descriptive(c, e) for c, e in DISAGREE.items())],
        blocking_rules_to_generate_predictions=rules, retain_matching_columns=False,
        linker_uid=f"df{seed}")


# Descriptive fields are not learnt by EM: their m is fixed at the share of true matches that
# disagree on the field through clerical error or a move (sex and nationality rarely, region
# and sector more often). EM drives the m of a field that never disagrees in its training
# block to 0, which makes one disagreement veto a match outright and, on small lists,
# underflows (splink then refuses the model).
DISAGREE = {"sex": 0.02, "nationality": 0.02, "region": 0.05, "sector": 0.05}


def _descriptive(column: str, disagree: float):
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison([
        cll.NullLevel(column),
        cll.ExactMatchLevel(column).configure(m_probability=1 - disagree,
                                              fix_m_probability=True),
        cll.ElseLevel().configure(m_probability=disagree, fix_m_probability=True)],
        output_column_name=column)


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
        linker, failed = _train(lambda: Linker(inputs, _settings(seed, rules), log_level=level),
                                n, seed, rule_recall)
        model = linker.misc.save_model_to_json()  # the trained model as a dict, no file
        passes = [linker]
        if not all_pairs:  # the same trained model on the typo rules' pairs (disjoint)
            passes.append(Linker(inputs, model | {"blocking_rules_to_generate_predictions":
                                                  _typo_rules(), "linker_uid": f"df{seed}t"},
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
        for rules in (RULES, _typo_rules()):  # disjoint, as `score` scores them
            counts = count_comparisons_from_blocking_rules(
                inputs, blocking_rules=rules, link_type="link_and_dedupe",
                unique_id_column_name="record", record_sample_proportion=sample)
            total += int(counts[-1]["cumulative_comparison_count"])
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return total


def _train(make_linker, n: int, seed: int, rule_recall: float):
    """Estimate lambda, u and m on a fresh linker; an EM block that fails (a level's m
    underflowing on small lists) is left out and training starts again from scratch, since a
    failed session leaves splink's model half-updated. Returns the linker and the left-out
    blocks (as SQL, which names columns only)."""
    from splink import block_on

    # three blocks so that every comparison is trained somewhere it is not blocked on: first
    # names, birth years and age bands (same surname and initial), initials (same surname
    # and birth year: court against ngo), surnames (same initial, birth year and region).
    # Each must hold a fair share of matches at any list size (splink's guidance: 1-99%);
    # a block on first name and region alone is almost all non-matches at 100,000 records
    # per list, and EM then fits the wrong cluster
    rules = [block_on("sn_key", "fi"), block_on("sn_key", "birth_year"),
             block_on("fi", "birth_year", "region")]
    big = {"max_pairs": 2e6} if n > 50_000 else {}
    failed: list[str] = []
    while True:
        linker = make_linker()
        train = linker.training
        # lambda (the prior match rate) from near-certain links that every list can show:
        # same surname key and initial, compatible birth years. With surname, initial and
        # birth information each missing or misspelt in 5-15% of records, about half of the
        # true pairs agree on all three: ``rule_recall`` (EM's own lambda, estimated inside
        # blocks, overstates it many times over on such lists).
        train.estimate_probability_two_random_records_match(
            ["l.sn_key = r.sn_key and l.fi = r.fi and l.by_lo <= r.by_hi and "
             "r.by_lo <= l.by_hi"], recall=rule_recall)
        train.estimate_u_using_random_sampling(max_pairs=min(5e6, max(1e5, n * 20.0)),
                                               seed=seed)
        for rule in rules:
            try:
                train.estimate_parameters_using_expectation_maximisation(
                    rule, estimate_without_term_frequencies=True, **big)
            except ValueError:
                failed.append(rule.get_blocking_rule("duckdb").blocking_rule_sql)
                rules.remove(rule)
                break
        else:
            return linker, failed


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
