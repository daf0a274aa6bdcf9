"""The two corpora the profanity filter is measured on, built at test time from installed packages.

Clean: wordfreq's 50,000 most frequent English words (and 20,000 each of French,
German and Spanish, which hold the accented words), every number 0-99,999 alone
and as "page N"/"room N", times, dates, prices, maths, chemistry, code, e-mail
addresses, ids, and place and person names of the Scunthorpe kind. Words the
filter lists on purpose are left out of it (they are the profane corpus).

Profane: every listed word, its leetspeak spellings, and each evasion the
filter claims to see through, inside a sentence.
"""

from __future__ import annotations

import random

import wordfreq

from chatsvc.domain.profanity import ENDINGS, NO_ENDINGS, ProfanityFilter, fold

SCUNTHORPE = """Scunthorpe Penistone Essex Sussex Middlesex Cockburn Dickens Hancock Dickinson Cockermouth
Shitterton Clitheroe Lightwater Wankie Hoare Wang Pollock Cummings Butts Titchmarsh Bumpass Kuntz
classic classical assess assessment assassin assassination cocktail cockpit peacock hancock therapist
grape analyst analysis analytics scrapbook sextant sextet Sussex shuttlecock title titter titanic
passage massage bass embassy harass compass grassland cucumber document circumstance pencil penalty
pubs public publication Uranus Cox Sexton Matsushita Shitake shiitake Dikshit Fuchs
Kuntz arsenal Manchester spice Spicer skyscraper snigger Niger Nigeria Nigerian niggle niggardly
Buttcrack? no""".replace("Buttcrack? no", "").split()

PHRASES = [
    "see page {n}", "room {n}", "ratio 1:{n}", "pub{n}", "id{n}", "user_{n}", "{n} kg", "${n}", "€{n}.99", "#{n}",
]


def clean_corpus() -> list[str]:
    words = set(wordfreq.top_n_list("en", 50_000))
    for language in ("fr", "de", "es"):
        words |= set(wordfreq.top_n_list(language, 20_000))
    texts = sorted(words) + SCUNTHORPE
    rng = random.Random(11)
    texts += [
        "see page 455", "room 455", "ratio 1:455", "pub15", "the id pub15 is taken", "meet at 14:55",
        "2026-12-02T18:55:00Z", "12/02/2026", "3.14159", "x^2 + 5x - 14 = 0", "f(x) = 3x + 1", "∫ x dx = x²/2",
        "H2SO4 + 2NaOH -> Na2SO4 + 2H2O", "CH3COOH", "C6H12O6", "NaCl", "Fe2O3", "sin(45°) = 0.707",
        "def f(x): return x * 2", "for (int i = 0; i < n; i++) {}", "SELECT * FROM users WHERE id = 455;",
        "print('hello')", "git commit -m 'fix bug 455'", "a55b9f0c", "0xdeadbeef",
        "sha1: 3f786850e387550fdab836ed7e6dc881de23001b",
        "mail me at bob.smith@example.com", "alice_1984@school.edu", "https://example.com/page/455",
        "pub15-room455", "v1.2.3", "ISBN 978-3-16-148410-0", "£4.55", "$45.50", "50% off", "10am", "5pm",
        "1st 2nd 3rd 4th 5th", "Q3", "A4 paper", "B52", "R2D2", "C3PO", "4x4", "p < 0.05", "n = 455",
        "I a m here", "x y z", "a b c d e f g", "s e x t a n t",
    ]
    for _ in range(2_000):
        day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1990, 2030)
        texts.append(f"{rng.randint(0, 23):02}:{rng.randint(0, 59):02} on {day}.{month}.{year}")
        a, b = rng.randint(0, 999), rng.randint(1, 999)
        texts.append(f"{a} + {b} = {a + b}; {a}/{b} ≈ {a / b:.3f}; {a}x{b}")
    return texts


def number_corpus() -> list[str]:
    return [phrase.format(n=n) for n in range(100_000) for phrase in ("{n}", "page {n}", "room {n}")] + [
        phrase.format(n=n) for n in range(0, 100_000, 7) for phrase in PHRASES
    ]


def listed_words(profanity: ProfanityFilter) -> set[str]:
    return set(profanity.words)


def clean_words_left_out(profanity: ProfanityFilter, texts: list[str]) -> list[str]:
    """The clean corpus less the words the filter lists on purpose."""
    listed = listed_words(profanity)
    inflected = {word + ending for word in listed for ending in ENDINGS if len(word) >= 4 and word not in NO_ENDINGS}
    return [t for t in texts if fold(t) not in listed and fold(t).replace("'", "") not in inflected and "fuck" not in fold(t)]


LEET_SPELLINGS = {"a": "4@", "e": "3", "i": "1!", "o": "0", "s": "5$", "t": "7", "b": "8", "g": "9"}
LOOK_ALIKES = {"a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "x": "х", "i": "і", "y": "у", "u": "υ"}
ACCENTS = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü", "c": "ç", "n": "ñ"}


def evasions(word: str, rng: random.Random) -> list[str]:
    """The spellings of one word the filter claims to see through."""
    leet = "".join(rng.choice(LEET_SPELLINGS[c]) if c in LEET_SPELLINGS and rng.random() < 0.6 else c for c in word)
    k = rng.randrange(len(word))
    return [
        word, word.upper(), word.capitalize(), leet,
        " ".join(word), ".".join(word), "-".join(word), "\u200b".join(word), "🤬".join(word),
        word[:k] + word[k] * 4 + word[k + 1 :],
        "".join(LOOK_ALIKES.get(c, c) for c in word),
        "".join(chr(ord(c) + 0xFEE0) if "a" <= c <= "z" else c for c in word),
        "".join(ACCENTS.get(c, c) for c in word),
        word[: len(word) // 2] + "." + word[len(word) // 2 :] if len(word) >= 4 else word + "!",
    ]


def profane_corpus(profanity: ProfanityFilter) -> list[tuple[str, str]]:
    """(word, sentence) pairs: each listed one-token word spelled every way, inside a sentence."""
    rng = random.Random(11)
    pairs = []
    for word in sorted(listed_words(profanity)):
        if not word.isalpha() or not word.isascii():
            continue
        for spelling in evasions(word, rng):
            pairs.append((word, f"you are {spelling} today"))
    return pairs
