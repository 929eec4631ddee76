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
    (GOOD + "[extra]\nx = 1\n", r"unknown section \[extra\]"),
    (GOOD.replace("seed = 3", "seed = 3\ncolour = 'red'"), r"unknown key\(s\) \['colour'\]"),
    ("[run\n", r"not valid TOML"),
])
def test_bad_cards_say_what_is_wrong(text, message):
    with pytest.raises(InputError, match=message):
        parse_card(text, path="card.toml")
