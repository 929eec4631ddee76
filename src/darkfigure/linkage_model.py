"""The Fellegi-Sunter model that `darkfigure.linkage` trains and applies with splink.

Fellegi & Sunter (1969, JASA 64:1183): each field comparison falls into a level whose
probability among true matches (m) and non-matches (u) gives a likelihood ratio; the ratios
and the prior match rate (lambda) make a pair's match probability. Here: the comparisons
(`settings`; each NULL unless both records hold the field in the same form), the fixed m of
descriptive fields (`DISAGREE`), the blocking rules for inputs too large to compare every
pair (`RULES`, `typo_rules`), and training (`train`: lambda from near-certain links, u by
random sampling, m by expectation maximisation in three blocks), as splink (Linacre et al.
2022, IJPDS 7(3)) runs them. Column names only: no record passes through this module.
"""

from __future__ import annotations

# Candidate pairs above `linkage.ALL_PAIRS_MAX`: any rule suffices, so a record missing (or
# misspelling) one field is still found through the others; age-band lists reach exact-year
# lists by overlap.
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


def typo_rules() -> list[dict]:
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


def settings(seed: int, rules: list):
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


def train(make_linker, n: int, seed: int, rule_recall: float):
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
        steps = linker.training
        # lambda (the prior match rate) from near-certain links that every list can show:
        # same surname key and initial, compatible birth years. With surname, initial and
        # birth information each missing or misspelt in 5-15% of records, about half of the
        # true pairs agree on all three: ``rule_recall`` (EM's own lambda, estimated inside
        # blocks, overstates it many times over on such lists).
        steps.estimate_probability_two_random_records_match(
            ["l.sn_key = r.sn_key and l.fi = r.fi and l.by_lo <= r.by_hi and "
             "r.by_lo <= l.by_hi"], recall=rule_recall)
        steps.estimate_u_using_random_sampling(max_pairs=min(5e6, max(1e5, n * 20.0)),
                                               seed=seed)
        for rule in rules:
            try:
                steps.estimate_parameters_using_expectation_maximisation(
                    rule, estimate_without_term_frequencies=True, **big)
            except ValueError:
                failed.append(rule.get_blocking_rule("duckdb").blocking_rule_sql)
                rules.remove(rule)
                break
        else:
            return linker, failed
