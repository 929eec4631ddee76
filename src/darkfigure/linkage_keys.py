"""Keys for comparing names in record linkage (`darkfigure.linkage`).

Russian names reach a list in Cyrillic or in one of several Latin transliterations, often
with a typo. `name_key` absorbs the spelling before splink compares anything: Cyrillic is
romanised and the spellings that one name takes in Latin script are folded together
(Yuliya/Julia/Iuliia -> ``iulia``; -off -> -ov; -skiy/-sky/-ski -> -ski); Jaro-Winkler then
absorbs typos. Keys never leave the linkage modules (they identify people as the names do).
"""

from __future__ import annotations

import functools
import re

_CYR = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "i", "k", "l", "m", "n",
                 "o", "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "",
                 "e", "yu", "ya"]))
# Ordered rewrites: Latin spellings of one Cyrillic name end up on one key.
_FOLDS = [(r"x", "ks"), (r"w", "v"), (r"ph", "f"), (r"kh", "h"), (r"[yj]", "i"),
          (r"(.)\1+", r"\1"), (r"^ie", "e"), (r"([^aeiou])iu", r"\1u"), (r"of$", "ov"),
          (r"([^aeiou])er$", r"\1r")]


@functools.lru_cache(maxsize=None)
def name_key(text: str) -> str:
    """A transliteration-folded key of a name (see the module docstring); '' if none."""
    s = "".join(_CYR.get(c, c) for c in text.lower())
    s = re.sub(r"[^a-z]", "", s)
    for pattern, repl in _FOLDS:
        s = re.sub(pattern, repl, s)
    return s
