"""Keys for comparing and blocking names in record linkage (`darkfigure.linkage`).

Russian names reach a list in Cyrillic or in one of several Latin transliterations, often
with a typo. Three keys absorb that before splink compares anything:

- `name_key`: Cyrillic is romanised and the spellings that one name takes in Latin script
  are folded together (Yuliya/Julia/Iuliia -> ``iulia``; Sergeyev/Sergeev; Alyona/Alena;
  Zakharova/Zaxarova; -off -> -ov; -skiy/-sky/-ski -> -ski); Jaro-Winkler then absorbs typos;
- `initial_key`: the first letter of a name key, with the letters that one Cyrillic initial
  turns into merged (a court's "Y." or "E." for Елена, "X." or "K." for Ксения);
- `one_edit_keys`: the key and its one-letter deletions, so that blocking finds a surname
  one typo away from another, wherever the typo is.

A key is for comparing, not for reading: a sound may fold onto a letter that spells it
nowhere. Keys never leave the linkage modules (they identify people as the names do).
"""

from __future__ import annotations

import functools
import re

_CYR = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "i", "k", "l", "m", "n",
                 "o", "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "",
                 "e", "yu", "ya"]))
# Ordered rewrites: the Latin spellings that one Cyrillic name takes under the systems in use
# (BGN/PCGN; ICAO 9303, in Russian passports since 2014; GOST 7.79 B; German and French
# habits; Uzbek and Tajik Latin script) end up on one key.
_FOLDS = [
    (r"tch", "ch"),  # French ч: Tchernov
    (r"shh|sch", "shch"),  # щ: GOST shh, German sch
    (r"cz|tz|c(?!h)", "ts"),  # ц: GOST c/cz, German tz
    (r"kh", "h"),  # х: kh (BGN, ICAO) or h
    # x is кс in Russian transliteration (Alexander, Xenia) but х in Uzbek and Tajik Latin
    # (Baxtiyor) and in GOST 7.79 B, so кс and х share a letter
    (r"ks|x", "h"),
    (r"w", "v"), (r"ph", "f"), (r"[yj]", "i"),
    # е after a vowel or ь, and ICAO's ъ: ye, ie or je beside plain e (Sergeyev, Sergeev;
    # Grigoryev, Grigorev), at the start too (Yelena, Elena). Сергиенко and Сергеенко then
    # share a key: rare, and the other fields still tell such people apart
    (r"ie", "e"),
    # ё: yo, io or e (Alyona, Aliona, Alena; Fyodorov, Fedorov; Kovalyov, Kovalev)
    (r"([^aeiou])io", r"\1e"),
    (r"(.)\1+", r"\1"), (r"([^aeiou])iu", r"\1u"), (r"of$", "ov"),
    (r"([^aeiou])er$", r"\1r")]
# Е is written E, Ye, Je or Ie, so a court's "Y." may stand for Elena: initials E and I (from
# I, Y, J) are not told apart; nor K and H, since Х is Kh, H or X and a court's "X." may
# stand for Xenia (К), whose key starts with h as Khadija's does
_INITIAL = str.maketrans("eh", "ik")


@functools.lru_cache(maxsize=None)
def name_key(text: str) -> str:
    """A transliteration-folded key of a name (see the module docstring); '' if none."""
    s = "".join(_CYR.get(c, c) for c in text.lower())
    s = re.sub(r"[^a-z]", "", s)
    for pattern, repl in _FOLDS:
        s = re.sub(pattern, repl, s)
    return s


def initial_key(key: str) -> str | None:
    """The initial of a name key, E/I and K/H merged; None for an empty key."""
    return key[:1].translate(_INITIAL) or None


def one_edit_keys(key: str | None) -> list[str] | None:
    """The key and every string one deletion away from it (for keys of 5+ letters).

    Two keys one typo apart (a letter deleted, inserted or replaced, or two neighbours
    swapped) always share one of these strings: the symmetric-deletion neighbourhood of
    Bocek, Hunt & Stiller (2007, *Fast similarity search in large dictionaries*, Univ. of
    Zurich ifi-2007.02). A typo in the first letters defeats a prefix key; this one does
    not. Shorter keys get no deletions, which would leave two or three letters that half
    the surnames share."""
    if not key:
        return None
    if len(key) < 5:
        return [key]
    return list(dict.fromkeys([key] + [key[:i] + key[i + 1:] for i in range(len(key))]))
