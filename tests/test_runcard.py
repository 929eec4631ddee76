"""Run cards: one fit per card; bad cards are bad input with a clear message."""

import pytest

from darkfigure.errors import InputError
from darkfigure.runcard import parse_card

GOOD = '[run]\nmodel = "loglinear"\nseed = 3\n[data]\ntable = "t.csv"\n'


def test_card_round_trips_through_its_toml_text():
    card = parse_card(GOOD + '[priors]\ninteraction_scale_sd = 0.5\n', default_name="x")
    again = parse_card(card.to_toml())
    assert again == card, "the stored card must refit the same model"
    assert card.sampler["chains"] == 4 and card.priors == {"interaction_scale_sd": 0.5}


@pytest.mark.parametrize("text,message", [
    ("[run]\nseed = 1\n[data]\ntable = 't.csv'\n", r"\[run\] model is required"),
    ('[run]\nmodel = "loglinear"\n', r"\[data\] table is required"),
    (GOOD + "[sampler]\ndraws = -5\n", r"draws must be a positive integer"),
    (GOOD + "[sampler]\nsampler = 'gibbs'\n",
     r"sampler must be one of 'nutpie', 'pymc', 'numpyro'"),
    (GOOD + "[sampler]\ntarget_accept = 1.5\n", r'target_accept must be "auto" or a number'),
    (GOOD + "[sampler]\ntarget_accept = 'high'\n", r'target_accept must be "auto" or a number'),
    (GOOD + "[extra]\nx = 1\n", r"unknown section \[extra\]"),
    (GOOD.replace("seed = 3", "seed = 3\ncolour = 'red'"), r"unknown key\(s\) \['colour'\]"),
    ("[run\n", r"not valid TOML"),
])
def test_bad_cards_say_what_is_wrong(text, message):
    with pytest.raises(InputError, match=message):
        parse_card(text, path="card.toml")


def test_target_accept_auto_is_the_familys_own_and_a_number_overrides_it():
    """Claim: ``target_accept = "auto"`` (the default) resolves to the family's value, 0.99
    for the log-linear family and 0.95 for a family that names none; a number is kept."""
    from darkfigure.fit import target_accept
    from darkfigure.models import get_family

    card = parse_card(GOOD)
    assert card.sampler["target_accept"] == "auto"
    loglinear = get_family("loglinear").module
    assert target_accept(loglinear, card.sampler) == 0.99
    assert target_accept(object(), card.sampler) == 0.95
    chosen = parse_card(GOOD + "[sampler]\ntarget_accept = 0.9\n")
    assert target_accept(loglinear, chosen.sampler) == 0.9
