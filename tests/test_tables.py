"""Capture tables: both CSV shapes, their xarray form, and every validation error."""

import re
import warnings

import numpy as np
import pytest

from conftest import BENCHMARKS, SMALL, STRATIFIED
from darkfigure.errors import DataWarning, InputError
from darkfigure.tables import all_patterns, read_table


def test_aggregated_table_is_read_into_stratum_by_pattern_counts(write_csv):
    table = read_table(write_csv(SMALL))
    assert table.lists == ("A", "B", "C") and table.strata == ()
    assert table.counts.dims == ("stratum", "pattern")
    assert int(table.observed.sum()) == 102, "observed must add all rows"
    assert int(table.counts.sel(pattern="110").item()) == 10, "pattern A&B holds 10"
    assert table.by_list().sel(A=0, B=0, C=0).isnull().all(), "all-zero cell is not observed"


def test_record_shape_counts_rows_per_pattern_and_stratum(write_csv):
    rows = "region,A,B,C\n" + "north,1,0,0\n" * 3 + "north,1,1,0\n" + "south,0,0,1\n" * 2
    table = read_table(write_csv(rows))
    assert table.strata == ("region",)
    assert table.stratum_labels == ["north", "south"]
    assert int(table.counts.sel(stratum="north", pattern="100")) == 3
    assert int(table.counts.sel(stratum="south", pattern="001")) == 2
    assert list(table.counts["region"].values) == ["north", "south"]


def test_strata_are_detected_and_flags_override_detection(write_csv):
    path = write_csv(STRATIFIED)
    table = read_table(path)
    assert table.strata == ("region",) and table.lists == ("A", "B", "C")
    named = read_table(path, lists=["C", "A", "B"], strata=["region"])
    assert named.lists == ("C", "A", "B"), "lists follow the order given by --lists"
    assert int(named.counts.sel(stratum="north", pattern="100")) == 20, "C alone: 20"


def test_patterns_are_binary_expansions_with_first_list_most_significant():
    assert all_patterns(3).tolist()[:3] == [[0, 0, 1], [0, 1, 0], [0, 1, 1]]
    assert len(all_patterns(10)) == 1023


def test_merging_and_dropping_lists_keep_everyone_observed_somewhere(write_csv):
    table = read_table(write_csv(SMALL))
    merged = table.merge_lists(["B", "C"], "BC")
    assert merged.lists == ("A", "BC") and int(merged.observed.sum()) == 102
    dropped = table.select_lists(["A", "B"])
    assert int(dropped.observed.sum()) == 102 - 20, "records only on C drop out"


def test_never_overlapping_pairs_match_the_published_count_for_new_orleans():
    table = read_table(BENCHMARKS / "new_orleans8.csv")
    assert len(table.never_overlapping_pairs()) == 18, "18 of 28 New Orleans pairs never overlap"


def test_benchmark_hash_is_checked(tmp_path):
    raw = tmp_path / "data" / "raw"
    (raw / "benchmarks").mkdir(parents=True)
    (raw / "benchmarks" / "t.csv").write_text(SMALL)
    (raw / "MANIFEST.toml").write_text('[files."benchmarks/t.csv"]\nsha256 = "00ff"\n')
    with pytest.raises(InputError, match="sha256 .* differs"):
        read_table(raw / "benchmarks" / "t.csv")


def test_two_lists_warn_that_only_independence_identifies_n(write_csv):
    with pytest.warns(DataWarning, match="independence"):
        read_table(write_csv("A,B,count\n1,0,5\n0,1,4\n1,1,2\n"))


BAD = [
    ("missing file", None, None, {}, r"no such file"),
    ("empty file", "", None, {}, r"the file is empty"),
    ("not utf-8", None, b"A,B,C,count\n1,0,0,3\n0,1,0,\xff\n", {}, r"line 3: not valid UTF-8"),
    ("header only", "A,B,C,count\n", None, {}, r"no data rows"),
    ("no list columns", "region,count\nx,3\n", None, {}, r"line 1: no list columns"),
    ("one list", "A,region,count\n1,x,3\n", None, {}, r"only one list"),
    ("value not 0/1", "A,B,C,count\n1,0,0,3\n0,2,0,4\n", None, {"lists": ["A", "B", "C"]},
     r"line 3 column B: '2' is not 0 or 1"),
    ("missing list value", "A,B,C,count\n1,0,0,3\n0,,1,4\n", None, {"lists": ["A", "B", "C"]},
     r"line 3 column B: a missing value is not 0 or 1"),
    ("negative count", "A,B,C,count\n1,0,0,3\n0,1,0,-3\n", None, {},
     r"line 3 column count: -3 is negative; counts must be non-negative integers"),
    ("fractional count", "A,B,C,count\n1,0,0,2.5\n", None, {},
     r"line 2 column count: 2.5 is fractional"),
    ("non-numeric count", "A,B,C,count\n1,0,0,many\n", None, {},
     r"line 2 column count: 'many' is not a number"),
    ("missing count", "A,B,C,count\n1,0,0,3\n0,1,0,\n", None, {},
     r"line 3 column count: missing value"),
    ("all-zero pattern", "A,B,C,count\n1,0,0,3\n0,0,0,7\n", None, {},
     r"line 3: the all-zero pattern \(on no list\) has count 7"),
    ("duplicate pattern", "A,B,C,count\n1,0,0,3\n0,1,0,1\n1,0,0,4\n", None, {},
     r"line 4: pattern 100 appears twice \(first on line 2\)"),
    ("unknown list", SMALL, None, {"lists": ["A", "B", "D"]},
     r"line 1: column 'D' named by --lists does not exist"),
    ("unknown stratum", SMALL, None, {"strata": ["region"]},
     r"line 1: column 'region' named by --strata does not exist"),
    ("unnamed column", STRATIFIED, None, {"lists": ["A", "B"], "strata": ["region"]},
     r"line 1: column 'C' is neither a list \(--lists\) nor a stratum"),
    ("ragged row", "A,B,C,count\n1,0,0,3\n0,1,0\n", None, {}, r"line 3: 3 fields"),
]


@pytest.mark.parametrize("name,text,raw,kwargs,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_file_line_and_problem(write_csv, tmp_path, name, text, raw, kwargs,
                                               message):
    path = tmp_path / "absent.csv" if text is None and raw is None else write_csv(text, raw=raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        with pytest.raises(InputError) as err:
            read_table(path, **kwargs)
    assert str(err.value).startswith(str(path)), f"{name}: message must start with the file"
    assert re.search(message, str(err.value)), f"{name}: got {err.value!s}"


def test_zero_count_for_the_all_zero_pattern_is_harmless(write_csv):
    table = read_table(write_csv("A,B,C,count\n1,0,0,3\n0,1,0,2\n0,0,1,1\n0,0,0,0\n"))
    assert int(table.observed.sum()) == 6
    assert np.all(table.counts.values >= 0)
