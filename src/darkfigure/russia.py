"""A SYNTHETIC world of trafficking and forced-labour victims in Russia, calibrated to the
published figures in ``data/raw/russia/published_figures.csv`` (ids cited below).

No linked Russian record lists are public, so the Russia example runs on invented people. The
world is person-level and seeded: victims over a 15-year window (2009-2023) in Russia's eight
federal districts and nine sectors named in the sources, each captured (or not) by three
record-level lists, and aggregate-only sources on top:

- ``court``: victims named in court verdicts with evidence of slavery, under any article
  (kidnapping, unlawful confinement, involvement in prostitution, ... and Art. 127.2);
- ``ngo``: an anti-slavery NGO's case list (after Alternativa), which operates only in
  `NGO_DISTRICTS`: elsewhere it is *missing*, not zero (the coverage file says so);
- ``register``: a service register (shelters, IOM assistance, consular help);
- ``official``: registered Art. 127.2 cases, a subset of the court records (the 53);
- a CTDC-style aggregate: foreign victims recorded by a counter-trafficking data collaborative,
  published as counts by sector only (no identities, so never a list).

Capture is a sequential logistic model per person with a shared log catchability (Rasch-type
individual heterogeneity, Darroch et al. 1993, JASA 88:1137) and list dependence (the NGO's
lawyers bring cases to court; the NGO refers victims to shelters), so the log-linear models'
assumptions hold only approximately, as they would for real lists. List intercepts are
calibrated (root finding on expected counts) so that the expected list sizes hit `TARGETS`.

**The synthetic truth (N = 12,000 victims) is a design choice, NOT an estimate of Russia.** It
sits above the "no less than 7,000" of international organizations (tbp_intl_orgs_min_victims)
and far below the Global Slavery Index's 794,000 to 1,899,000 (hir_gsi_people,
rbb_gsi2023_people), which count a much broader population than slavery evidenced in verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

DISTRICTS = ["Central", "Northwestern", "Southern", "North Caucasian", "Volga", "Ural",
             "Siberian", "Far Eastern"]
SECTORS = ["sexual exploitation", "agriculture", "construction", "domestic work",
           "manufacturing and brick works", "fishing", "logging", "retail and car washes",
           "begging"]
LISTS = ("court", "ngo", "register")
YEARS = (2009, 2023)  # 15 years (tbp_period_years), ending with CTDC's 2002-2023 (assumed)
#: Federal subjects named in the sources, to fill the records' `region` field.
SUBJECTS = {"Central": ["Moscow", "Moscow Oblast", "Vladimir Oblast"],
            "Northwestern": ["Saint Petersburg", "Leningrad Oblast", "Murmansk Oblast"],
            "Southern": ["Rostov Oblast", "Krasnodar Krai", "Astrakhan Oblast", "Adygea",
                         "Kalmykia"],
            "North Caucasian": ["Dagestan", "Stavropol Krai", "Chechnya"],
            "Volga": ["Tatarstan", "Nizhny Novgorod Oblast", "Samara Oblast"],
            "Ural": ["Sverdlovsk Oblast", "Tyumen Oblast"],
            "Siberian": ["Novosibirsk Oblast", "Khakassia", "Irkutsk Oblast", "Krasnoyarsk Krai"],
            "Far Eastern": ["Primorsky Krai", "Yakutia", "Jewish Autonomous Oblast",
                            "Kamchatka Krai"]}
NGO_DISTRICTS = ("Central", "Northwestern", "Southern", "Volga", "Ural")


@dataclass(frozen=True)
class Calibration:
    """The world's parameters; the comments say where each comes from (ids of
    published_figures.csv) or that it is an assumption."""

    n_people: int = 12_000                   # assumption (module docstring)
    #: district shares of victims: roughly population shares, tilted to Moscow (destination)
    #: and the south, where "slave labor is most often used" (tbp_convictions_south).
    district_share: tuple = (0.25, 0.09, 0.15, 0.08, 0.16, 0.08, 0.12, 0.07)
    #: national sector shares (assumption; sexual exploitation the largest, as in verdicts).
    sector_share: tuple = (0.30, 0.16, 0.14, 0.08, 0.08, 0.04, 0.04, 0.11, 0.05)
    #: regional forms of exploitation, as the study lists them (tbp, last paragraph):
    #: agriculture in the south, fishing in the north, logging in Siberia, brick works in
    #: Dagestan; the far east's fishing and logging (assumption).
    boost: tuple = (("Southern", "agriculture", 2.2), ("North Caucasian", "agriculture", 1.6),
                    ("North Caucasian", "manufacturing and brick works", 3.0),
                    ("Northwestern", "fishing", 3.0), ("Far Eastern", "fishing", 4.0),
                    ("Siberian", "logging", 4.0), ("Far Eastern", "logging", 2.0),
                    ("Central", "retail and car washes", 1.5), ("Central", "domestic work", 1.4))
    #: share of foreign nationals by sector (assumption: migrants dominate construction,
    #: agriculture and retail; hir_migrants_annual)
    foreign_share: tuple = (0.45, 0.6, 0.8, 0.5, 0.5, 0.3, 0.4, 0.8, 0.3)
    heterogeneity_sd: float = 0.5            # log catchability shared by all lists
    court_ngo: float = 0.7                   # log odds ratio: NGO lawyers bring cases to court
    ngo_register: float = 1.2                # log odds ratio: NGO refers victims to shelters
    court_register: float = 0.3              # victims in court cases get protection
    foreign_register: float = 0.5            # consular help raises foreigners' register odds
    #: court capture of labour cases by sector: agriculture and domestic work are the most
    #: common slave-labour convictions (tbp, "Slave labor on farms" paragraph)
    court_labour_sector: tuple = (0.0, 0.6, 0.0, 0.8, 0.3, 0.0, 0.0, -0.3, -0.5)
    #: court activity by district: the south and Volga lead the convictions
    #: (tbp_convictions_south, tbp_convictions_volga). Applied to every sector: an effect
    #: on labour cases only (a list x district x sector interaction, which no log-linear
    #: model here has) left the hierarchical fit's capture-by-district scale mixing slowly.
    court_district: tuple = (-0.3, 0.0, 0.6, 0.4, 0.8, 0.0, 0.0, -0.3)
    #: the NGO works mostly on labour exploitation and begging (after Alternativa)
    ngo_sector: tuple = (-1.2, 0.3, 0.3, 0.3, 0.3, 0.0, 0.0, 0.2, 0.5)
    #: odds of a labour court record being an Art. 127.2 case, by sector: "cases of
    #: exploitation in agriculture and domestic work are the most common" (tbp)
    official_labour_sector: tuple = (0.0, 3.0, 1.0, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    ctdc_rate: float = 0.0  # 0 = calibrate to TARGETS["ctdc"]


#: Calibration targets: (value, figure ids, what); `check` measures each in a world.
TARGETS = {
    "court": (933, "tbp_cases_other_articles + tbp_cases_art127_2",
              "victims in verdicts with evidence of slavery, 880 + 53 cases, one victim each"),
    "court_sexual": (811, "tbp_sexual_exploitation + tbp_art127_2_with_prostitution",
                     "court records in sexual exploitation: 809 of the 880, 2 of the 53"),
    "official": (53, "tbp_cases_art127_2", "registered Art. 127.2 cases"),
    "official_sexual": (2, "tbp_art127_2_with_prostitution", "Art. 127.2 with Art. 240"),
    "court_per_official": (933 / 53, "tbp_scale_multiplier", "the study's '17 times'"),
    "official_south": (17, "tbp_convictions_south", "Southern + North Caucasian districts"),
    "official_volga": (15, "tbp_convictions_volga", "Volga district, ranked second"),
    "ngo": (700, "hir_alternativa_freed", "people freed by Alternativa, cumulative"),
    "register": (143 * 15, "enc_assisted_2009", "143 assisted in 2009, times 15 years"),
    "ctdc": (round(6600 * 15 / 22), "tbp_ctdc_brought_in",
             "6,600 brought into Russia in 2002-2023 (22 years), scaled to 15 years"),
}
#: official Art. 127.2 cases by district (sum 53): 17 in the south split 12 Southern and
#: 5 North Caucasian (Stavropol), 15 in Volga; the other 21 spread by size (assumption)
OFFICIAL_BY_DISTRICT = (7, 5, 12, 5, 15, 3, 4, 2)


@dataclass
class World:
    """Every synthetic person: stratum, traits, and capture by each list and source."""

    district: np.ndarray      # index into DISTRICTS
    sector: np.ndarray        # index into SECTORS
    female: np.ndarray
    foreign: np.ndarray
    year: np.ndarray
    captured: np.ndarray      # (person, list) 0/1, lists as in LISTS
    official: np.ndarray      # registered as an Art. 127.2 case (only court records)
    ctdc: np.ndarray          # recorded by the CTDC-style aggregate source
    seed: int


def _solve(target: float, probability) -> float:
    """The intercept at which the expected count sum(probability(a)) equals ``target``."""
    return brentq(lambda a: probability(a).sum() - target, -20.0, 20.0)


def generate(seed: int = 20261123, cal: Calibration = Calibration()) -> World:
    """Draw the world (seeded; the record lists' noise uses a separate stream)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[0])
    n, n_s = cal.n_people, len(SECTORS)
    cell = np.outer(cal.district_share, cal.sector_share)
    for district, sector, factor in cal.boost:
        cell[DISTRICTS.index(district), SECTORS.index(sector)] *= factor
    cell *= np.asarray(cal.district_share)[:, None] / cell.sum(axis=1, keepdims=True)
    stratum = rng.choice(cell.size, size=n, p=cell.ravel() / cell.sum())
    district, sector = stratum // n_s, stratum % n_s
    sexual = sector == 0
    # "the survivors, all female" (tbp, on Art. 240 sentences); labour victims mostly men
    female = np.where(sexual, True, rng.random(n) < 0.25)
    foreign = rng.random(n) < np.asarray(cal.foreign_share)[sector]
    year = rng.integers(YEARS[0], YEARS[1] + 1, size=n)
    eta = rng.normal(0.0, cal.heterogeneity_sd, n)

    court_lin = np.asarray(cal.court_labour_sector)[sector] \
        + np.asarray(cal.court_district)[district] + eta
    a_sex = _solve(TARGETS["court_sexual"][0], lambda a: expit(a + court_lin[sexual]))
    a_lab = _solve(TARGETS["court"][0] - TARGETS["court_sexual"][0],
                   lambda a: expit(a + court_lin[~sexual]))
    court = rng.random(n) < expit(np.where(sexual, a_sex, a_lab) + court_lin)
    covered = np.isin(district, [DISTRICTS.index(d) for d in NGO_DISTRICTS])
    ngo_lin = np.asarray(cal.ngo_sector)[sector] + eta + cal.court_ngo * court
    a_ngo = _solve(TARGETS["ngo"][0], lambda a: expit(a + ngo_lin[covered]))
    ngo = covered & (rng.random(n) < expit(a_ngo + ngo_lin))
    reg_lin = eta + cal.ngo_register * ngo + cal.court_register * court \
        + cal.foreign_register * foreign
    a_reg = _solve(TARGETS["register"][0], lambda a: expit(a + reg_lin))
    register = rng.random(n) < expit(a_reg + reg_lin)

    # Exactly the published counts become Art. 127.2 cases, drawn from the court records
    # (registered cases end in verdicts): 2 in sexual exploitation, then each district's
    # labour court records up to its target. Drawing counts, not rates, keeps the ranking
    # south > Volga > the rest that the study reports instead of leaving it to chance.
    official = np.zeros(n, bool)
    pick = rng.permutation(np.flatnonzero(court & sexual))[:TARGETS["official_sexual"][0]]
    official[pick] = True
    for d, target in enumerate(OFFICIAL_BY_DISTRICT):
        here = np.flatnonzero(court & ~sexual & (district == d))
        weight = np.asarray(cal.official_labour_sector)[sector[here]]
        size = min(len(here), max(0, target - official[district == d].sum()))
        official[rng.choice(here, size, replace=False, p=weight / weight.sum())] = True
    rate = cal.ctdc_rate or TARGETS["ctdc"][0] / foreign.sum()
    ctdc = foreign & (rng.random(n) < rate)
    return World(district, sector, female, foreign, year,
                 np.stack([court, ngo, register], axis=1).astype(np.int8), official, ctdc, seed)


def stratum_counts(world: World, values: np.ndarray | None = None) -> np.ndarray:
    """(district, sector) sums of ``values`` (people, when None)."""
    out = np.zeros((len(DISTRICTS), len(SECTORS)), np.int64)
    np.add.at(out, (world.district, world.sector), 1 if values is None else values)
    return out


def check(world: World) -> dict[str, float]:
    """The world's value of every calibration target (keys of `TARGETS`)."""
    court, sexual = world.captured[:, 0] == 1, world.sector == 0
    by_district = np.bincount(world.district, weights=world.official, minlength=8)
    south = by_district[[DISTRICTS.index("Southern"), DISTRICTS.index("North Caucasian")]]
    return {"court": court.sum(), "court_sexual": (court & sexual).sum(),
            "official": world.official.sum(), "official_sexual": (world.official & sexual).sum(),
            "court_per_official": court.sum() / max(1, world.official.sum()),
            "official_south": south.sum(),
            "official_volga": by_district[DISTRICTS.index("Volga")],
            "ngo": world.captured[:, 1].sum(), "register": world.captured[:, 2].sum(),
            "ctdc": world.ctdc.sum()}
