"""Record linkage (`darkfigure link`): end to end, privacy, bad input, linkage accuracy.

Everything runs on SYNTHETIC lists from `darkfigure.synthetic_records` with fixed seeds.
"""

import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("splink")

from darkfigure import linkage, linkage_keys, linkage_uncertainty, synthetic_records  # noqa: E402
from darkfigure import cli  # noqa: E402
from darkfigure.tables import read_table  # noqa: E402

NAMES = ["court", "ngo", "shelter"]


def link_main(argv: list[str]) -> int:
    return cli.main(["link", *argv])
FAST = ["--draws", "200", "--tune", "200", "--chains", "2", "--quiet"]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    data = synthetic_records.generate(600, seed=3)
    paths = synthetic_records.write(data, tmp_path_factory.mktemp("lists"))
    return data, paths


@pytest.fixture(scope="module")
def scored(synth):
    data, paths = synth
    lists = [linkage.read_record_list(paths[n], n) for n in NAMES]
    return lists, linkage.score(lists, seed=3)


def _args(paths, out, *extra):
    return [str(paths[n]) for n in NAMES] + ["--names", ",".join(NAMES), "--out", str(out),
                                             "--seed", "3", *extra]


@pytest.fixture(scope="module")
def linked(synth, tmp_path_factory):
    """One full run: 3 sampled linkages + the best one, each fitted, pooled."""
    _, paths = synth
    out = tmp_path_factory.mktemp("linked") / "out"
    made = []
    original = tempfile.mkdtemp

    def spy(*a, **k):
        made.append(original(*a, **k))
        return made[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tempfile, "mkdtemp", spy)
        code = link_main(_args(paths, out, "--linkages", "3", "--min-cell", "3", *FAST))
    return code, out, made


@pytest.fixture(scope="module")
def stratified(synth, tmp_path_factory):
    """Link only (no fit), stratified by region and sector."""
    _, paths = synth
    out = tmp_path_factory.mktemp("strat") / "out"
    code = link_main(_args(paths, out, "--linkages", "1", "--strata", "region,sector",
                           "--min-cell", "3", "--quiet"))
    return code, out


def test_name_key_folds_russian_transliterations():
    groups = [["Aleksandr", "Alexander", "Aleksander", "Александр"],
              ["Yuliya", "Julia", "Iuliia", "Юлия"], ["Ivanov", "Ivanoff", "Иванов"],
              ["Kovalskiy", "Kovalsky", "Kovalski", "Kovalskii"],
              ["Sergeyev", "Sergeev", "Sergeiev", "Сергеев"],  # е after a vowel: ye/ie/e
              ["Grigoryev", "Grigoriev", "Grigorev", "Григорьев"],  # ь before е
              ["Alyona", "Aliona", "Alena", "Алёна"], ["Kovalyov", "Kovaliov", "Kovalev",
                                                       "Ковалёв"],  # ё: yo/io/e
              ["Zakharova", "Zaharova", "Zaxarova", "Захарова"],  # х: kh/h/x
              ["Kseniya", "Ksenia", "Xenia", "Ксения"],  # кс: ks/x
              ["Tsvetkov", "Cvetkov", "Tzvetkov", "Цветков"],  # ц: ts/c/tz
              ["Shcherbakov", "Scherbakov", "Shherbakov", "Щербаков"],  # щ: shch/sch/shh
              ["Yelena", "Elena", "Jelena", "Елена"], ["Lyudmila", "Ludmila", "Liudmila"]]
    for group in groups:
        keys = {linkage_keys.name_key(n) for n in group}
        assert len(keys) == 1, f"{group} should share one key, got {keys}"
    # the folds must not merge different names: sexes of one surname, other endings,
    # other first names that differ only in a vowel
    different = ["Ivanov", "Ivanova", "Ivanenko", "Sergeev", "Sergeenko", "Sergin",
                 "Kovalev", "Kovalenko", "Kovalevskii", "Zakharov", "Zakharin", "Elena",
                 "Alena", "Alina", "Olga", "Ksenia", "Kseniev", "Maksim", "Makar", "Petrov",
                 "Petrova", "Popov", "Popova"]
    keys = [linkage_keys.name_key(n) for n in different]
    assert len(set(keys)) == len(keys), \
        f"distinct names share a key: {[n for n, k in zip(different, keys) if keys.count(k) > 1]}"


def test_initials_agree_across_transliterations(tmp_path):
    """A court's initial and another list's first name give one initial however either is
    spelt (X. for Xenia, Y. or E. for Elena, K. for Kseniya), and different letters differ."""
    path = tmp_path / "names.csv"
    path.write_text("first_name,initials\nXenia,\nKseniya,\n,K.\n,X.\nYelena,\n,E.\n,Y.\n"
                    "Olga,\n,O.\nAnna,\n")
    fi = linkage.read_record_list(path, "names").features["fi"]
    assert len(set(fi[:4])) == 1 and len(set(fi[4:7])) == 1, fi
    assert len({fi[0], fi[4], fi[7], fi[9]}) == 4, f"K, E, O and A must differ: {fi}"


def test_one_edit_keys_catch_single_typos_only():
    """Keys one typo apart (deletion, insertion, substitution, neighbours swapped, in the
    first letters too) share a one-edit key; keys two edits apart and other surnames don't."""
    def share(a, b):
        return bool(set(linkage_keys.one_edit_keys(a)) & set(linkage_keys.one_edit_keys(b)))

    key = "smirnova"
    for typo in ["smrnova", "smiirnova", "smirnava", "msirnova", "simrnova", "smirnvoa",
                 "mirnova"]:
        assert share(key, typo), f"{key} and {typo} are one typo apart"
    for other in ["ivanova", "smirnovskaia", "msirnvoa", "smirnovaia", "mirnov"]:
        assert not share(key, other), f"{key} and {other} are two edits apart"
    assert linkage_keys.one_edit_keys("ivan") == ["ivan"], "short keys are not cut further"
    assert linkage_keys.one_edit_keys(None) is None


@pytest.mark.parametrize("other, proposed", [("Smirnova", 1), ("Смирнова", 1), ("Smirnov", 0),
                                             ("Ivanova", 0)])
def test_blocking_finds_a_surname_one_typo_away_without_birth_data(tmp_path, other, proposed):
    """A court record with a typo in the surname's first letters, an initial and no birth
    date, against a case file with a first name and no birth year: only the one-edit
    surname key can bring them together (the prefix rules it replaced could not)."""
    court, ngo = tmp_path / "court.csv", tmp_path / "ngo.csv"
    court.write_text("surname,initials,birth_date,region\nMsirnova,A.,,Moscow\n")
    ngo.write_text(f"first_name,surname,birth_year,region\nAnna,{other},,Tver Oblast\n")
    lists = [linkage.read_record_list(court, "court"), linkage.read_record_list(ngo, "ngo")]
    assert linkage.blocked_pairs(lists, sample=1.0) == proposed


def test_synthetic_lists_are_seeded_and_labelled(synth, tmp_path):
    data, paths = synth
    again = synthetic_records.generate(600, seed=3)
    assert again.rows == data.rows, "same seed must give the same SYNTHETIC lists"
    for name, path in paths.items():
        assert path.name.startswith("SYNTHETIC_"), f"{path.name} must say SYNTHETIC"
    for name in NAMES:
        header = paths[name].read_text("utf-8").splitlines()[0]
        assert "SYNTHETIC" in header, f"{paths[name].name} header must say SYNTHETIC: {header}"


def test_small_lists_compare_every_pair_large_ones_block(synth, scored):
    """Below the pair budget every pair is scored, so nearly every true pair gets its
    probability; the blocking rules (forced here) reach fewer of them."""
    data, _ = synth
    lists, result = scored
    truth = np.concatenate([data.truth[n] for n in NAMES])
    true_pairs = linkage_uncertainty.pairwise_scores(truth, truth)["true_pairs"]

    def reached(res):
        return int((truth[res.pair_left] == truth[res.pair_right]).sum()) / true_pairs

    assert result.info["pairs_compared"] == "all"
    blocked = linkage.score(lists, seed=3, all_pairs_max=0)
    assert blocked.info["pairs_compared"] == "blocking rules"
    # measured 0.985 with every pair compared and 0.93 with the rules on this seed
    assert reached(result) >= 0.97, f"all pairs: {reached(result):.3f} of true pairs scored"
    assert reached(blocked) >= 0.9, f"blocking rules: {reached(blocked):.3f} scored"
    n = len(truth)
    assert linkage.blocked_pairs(lists, sample=1.0) < n * (n - 1) // 2 / 50, \
        "the rules must propose a small share of all pairs"
    s = linkage_uncertainty.pairwise_scores(blocked.best, truth)
    # measured 0.92 / 0.90 (0.93 / 0.90 with the rules on surname prefixes before)
    assert s["precision"] >= 0.9 and s["recall"] >= 0.88, f"blocked linkage: {s}"
    # the typo rules' pass adds pairs the first pass lacks and never repeats one
    key = np.minimum(blocked.pair_left, blocked.pair_right) * n + \
        np.maximum(blocked.pair_left, blocked.pair_right)
    assert len(np.unique(key)) == len(key), "a pair was scored twice"
    for res in (result, blocked):  # the best linkage joins the pairs >= threshold, no more
        sure = res.probability >= res.threshold
        assert (res.best[res.pair_left[sure]] == res.best[res.pair_right[sure]]).all()
        linked = np.unique(np.concatenate([res.pair_left[sure], res.pair_right[sure]]))
        alone = res.best[np.setdiff1d(np.arange(n), linked)]
        assert len(np.unique(alone)) == len(alone) and not np.isin(alone, res.best[linked]).any()


def test_pairwise_precision_and_recall_above_floor(synth, scored):
    data, _ = synth
    _, result = scored
    truth = np.concatenate([data.truth[n] for n in NAMES])
    s = linkage_uncertainty.pairwise_scores(result.best, truth)
    # measured 0.89 / 0.94 on this seed with every pair compared (0.92 / 0.90 when blocked:
    # pairs with weak evidence now reach the 0.5 threshold, about half of them true, as
    # their calibrated probabilities say); recall was 0.77 before comparisons kept first
    # names, initials, birth years and age bands apart
    assert s["precision"] >= 0.87, f"pairwise precision {s['precision']:.3f} below 0.87"
    assert s["recall"] >= 0.92, f"pairwise recall {s['recall']:.3f} below 0.92"


def _exact_partition_law(p: dict, n: int, floor: float) -> dict:
    """P(partition) ∝ prod of odds over linked pairs, by enumerating all partitions of n."""
    def partitions(items):
        if not items:
            yield []
            return
        first, rest = items[0], items[1:]
        for part in partitions(rest):
            for k in range(len(part)):
                yield part[:k] + [[first] + part[k]] + part[k + 1:]
            yield [[first]] + part

    law = {}
    for part in partitions(list(range(n))):
        weight = 1.0
        for block in part:
            for i in block:
                for j in block:
                    if i < j:
                        q = p.get((i, j), floor)
                        weight *= q / (1 - q)
        law[tuple(sorted(tuple(b) for b in part))] = weight
    total = sum(law.values())
    return {k: v / total for k, v in law.items()}


def test_partition_draws_follow_the_transitive_pairwise_law():
    """Gibbs draws of partitions match the exact law on 4 records (a chain with a weak pair):
    independent pair draws closed transitively would over-merge here."""
    p = {(0, 1): 0.9, (1, 2): 0.3, (2, 3): 0.8, (0, 2): 0.2}
    left, right = np.array([k[0] for k in p]), np.array([k[1] for k in p])
    law = _exact_partition_law(p, 4, floor=0.01)
    draws = linkage_uncertainty.sample_partitions(left, right, np.array(list(p.values())), 4,
                                                  4000, seed=1, floor=0.01, burn=10, thin=2)
    seen: dict = {}
    for d in draws:
        key = tuple(sorted(tuple(np.flatnonzero(d == c)) for c in np.unique(d)))
        seen[key] = seen.get(key, 0) + 1 / len(draws)
    for part, prob in law.items():
        got = seen.get(part, 0.0)
        assert abs(got - prob) < 0.03, f"partition {part}: sampled {got:.3f}, exact {prob:.3f}"
    again = linkage_uncertainty.sample_partitions(left, right, np.array(list(p.values())), 4,
                                                  50, seed=1, floor=0.01, burn=10, thin=2)
    assert all((a == b).all() for a, b in zip(again, draws[:50])), "same seed, same draws"


def test_variance_decomposition_adds_up():
    rng = np.random.default_rng(0)
    draws = [xr.DataArray(rng.normal(100 + 10 * i, 5, (2, 50, 1)),
                          dims=("chain", "draw", "stratum")) for i in range(4)]
    pooled, report = linkage_uncertainty.pool(draws, draws[0])
    total = float(pooled.values.var())
    parts = report["variance_within_linkage"] + report["variance_between_linkages"]
    assert abs(parts - total) < 1e-6 * total, f"within + between {parts} != pooled {total}"
    assert report["width_ratio_pooled_to_best"] > 1, "linkage spread must widen the interval"


def test_link_end_to_end_writes_aggregated_outputs(linked):
    code, out, _ = linked
    assert code in (0, 3), f"exit code {code}: link must run (3 = flagged non-convergence)"
    written = sorted(p.name for p in out.iterdir())
    assert written == ["capture_table.csv", "diagnostics.json", "estimates.csv",
                       "linkage_summary.json", "posterior.nc"], written
    summary = json.loads((out / "linkage_summary.json").read_text())
    table = read_table(out / "capture_table.csv", lists=NAMES)
    suppressed = summary["privacy"]["suppressed_records"]
    hidden = suppressed if isinstance(suppressed, int) else 0
    assert int(table.observed.sum()) + hidden <= summary["people_best"], \
        "capture table holds the people of the best linkage, less suppressed cells"
    tree = xr.open_datatree(out / "posterior.nc", engine="h5netcdf")
    n = tree["posterior"]["N"]
    assert n.sizes["chain"] == 3 * 2, "pooled N stacks 2 chains from each of 3 linkages"
    u = summary["uncertainty"]
    assert 0 <= u["share_of_variance_from_linkage"] <= 1
    assert u["N_total_q025_pooled"] <= u["N_total_median_pooled"] <= u["N_total_q975_pooled"]
    assert tree.attrs["run_card_sha256"], "posterior carries provenance"


def test_private_temporary_directory_is_removed(linked):
    _, _, made = linked
    assert made, "splink's scratch space must be a private temporary directory"
    for path in made:
        assert not Path(path).exists(), f"temporary directory {path} was left behind"


def _identifiers(paths) -> set[str]:
    """Every identifying value in the input lists, as written and as linkage keys."""
    found = set()
    for name in NAMES:
        for line in paths[name].read_text("utf-8").splitlines()[1:]:
            header = paths[name].read_text("utf-8").splitlines()[0].split(",")
            row = dict(zip(header, line.split(",")))
            for field in ("first_name", "surname", "initials", "birth_date"):
                value = row.get(field, "")
                if len(value) >= 3:
                    found.add(value)
                    if field != "birth_date":
                        found.add(linkage.name_key(value))
    return {v for v in found if len(v) >= 3}


def _texts(out: Path) -> list[tuple[str, str]]:
    texts = []
    for path in out.iterdir():
        texts.append((path.name, path.read_bytes().decode("utf-8", errors="replace")))
        if path.suffix == ".nc":
            tree = xr.open_datatree(path, engine="h5netcdf")
            for node in tree.subtree:
                texts.append((f"{path.name} attrs {node.path}", json.dumps(
                    {k: str(v) for k, v in node.attrs.items()})))
                for name, var in {**node.dataset.data_vars, **node.dataset.coords}.items():
                    texts.append((f"{path.name} {node.path}/{name}",
                                  " ".join(map(str, np.asarray(var.values).ravel()))
                                  + json.dumps({k: str(v) for k, v in var.attrs.items()})))
    return texts


@pytest.mark.parametrize("run", ["linked", "stratified"])
def test_no_identifier_in_any_output(run, request, synth):
    _, paths = synth
    out = request.getfixturevalue(run)[1]
    identifiers = _identifiers(paths)
    assert len(identifiers) > 500, "the scan must look for many names and dates"
    for where, text in _texts(out):
        words = set(re.findall(r"[\w.\-']+", text))
        leaked = identifiers & words
        assert not leaked, f"{where} contains identifying values {sorted(leaked)[:5]}"


def test_min_cell_suppresses_small_cells(stratified):
    code, out = stratified
    assert code == 0, "link-only run succeeds"
    rows = (out / "capture_table.csv").read_text().splitlines()
    counts = [int(r.rsplit(",", 1)[1]) for r in rows[1:]]
    assert counts and min(counts) >= 3, f"published cells below --min-cell 3: {min(counts)}"
    note = json.loads((out / "linkage_summary.json").read_text())["privacy"]
    assert note["suppressed_cells"] > 0, "region x sector strata must have small cells"
    assert rows[0] == "region,sector,court,ngo,shelter,count", rows[0]


@pytest.mark.parametrize("case, expect", [
    ("missing", "no such file"), ("empty", "no data rows"),
    ("unknown_column", "column passport_no: unknown column"),
    ("no_common", "shares no identifying field"),
    ("bad_date", "line 3 column birth_date: '31.31.1990' is not a date"),
    ("identifying_stratum", "cannot be a stratum"),
])
def test_bad_input_exits_2_and_writes_nothing(case, expect, synth, tmp_path, capsys):
    _, paths = synth
    files = [paths["court"], paths["ngo"], tmp_path / "bad.csv"]
    extra = []
    bad = files[2]
    if case == "empty":
        bad.write_text("surname,sex\n")
    elif case == "unknown_column":
        bad.write_text("surname,passport_no\nIvanova,4510 123456\n")
    elif case == "no_common":
        bad.write_text("sex,region\nF,Moscow\n")
    elif case == "bad_date":
        bad.write_text("surname,birth_date\nIvanova,01.02.1990\nPetrova,31.31.1990\n")
    elif case == "identifying_stratum":
        bad.write_text("surname,sex\nIvanova,F\n")
        extra = ["--strata", "surname"]
    out = tmp_path / "out"
    argv = [str(f) for f in files] + ["--out", str(out), "--quiet", *extra]
    code = link_main(argv)
    err = capsys.readouterr().err
    assert code == 2, f"{case}: exit {code}, expected 2 (bad input)"
    assert expect in err, f"{case}: message should say '{expect}': {err}"
    if case not in ("identifying_stratum",):
        assert "bad.csv" in err, f"{case}: message must name the file: {err}"
    assert not out.exists(), f"{case}: nothing may be written on bad input"
