"""The default word lists and tiers of the profanity filter, and the character maps it folds text with.

The words come from better-profanity's list (shipped in the package), less the
words a classroom uses innocently (biology, history, maths, surnames); every
listed word is *mild* (censored, no strike) unless it holds a *severe* stem:
the strongest swearing, slurs and harassment, which also earn a strike.
"""

from __future__ import annotations

from importlib.resources import files

from chatsvc.word_file import LANGUAGES, MILD, SEVERE

# A listed word holding one of these is severe. Slurs and harassment are here too.
SEVERE_STEMS = (
    "fuck", "fuk", "fux", "cunt", "motherf", "nigg", "fag", "chink", "coon", "dyke", "kike", "spic",
    "gook", "tranny", "retard", "wetback", "whore", "slut", "twat", "rapist", "kys", "pedo",
)
# Harassment (words and phrases), severe.
SEVERE_PHRASES = ("kill yourself", "kill urself", "go die", "neck yourself", "kys")

# better-profanity words a class uses innocently (or in French: p'tit): never censored by default.
CLASSROOM_WORDS = frozenset(
    """
    anal anus arian aryan bdsm bestiality bondage breast breasts busty crotch dink dogging dong dopey drunk
    dummy enlargement erect erection facial fanny fat fingering flange foreskin gai ganja gay gays god hell
    hemp heroin herpes hitler hiv hoare homey homo hooch hookah hump humping hymen inbred incest jerk
    jerked junkie kill klan knob labia leper lesbian lesbians lmao lmfao loin loins lube lust lusty massa
    maxi menstruation meth molest moron murder nad naked napalm nappy nazi nazism nimrod nipple nipples
    nude omg opiate opium oral orally organ orgies orgy ovary paddy pasty pawn pcp pee penetrate
    penetration penile penis perversion phallic playboy pms pollock poon potty pot prude pubic puss queer
    queers racy rectal rectum reefer reich revue rum rump sadism sadist scantily screw screwed screwing
    scrotum seaman seamen seduce semen sex sexual sleaze sleazy slave slope sniper snuff sodom sperm
    steamy stoned strip stroke stupid suck sucked sucking tampon testes testicle thrust thug toke toots
    tit tramp transsexual trashy ugly undies urinal urine uterus uzi vagina valium viagra virgin vixen vodka
    vomit voyeur vulgar vulva wad wang weed weenie weiner weirdo wench whitey whiz willy womb woody xx
    cowgirl crap dummy bimbo hooters muff ejaculate ejaculation clitoris testicles pawn
    """.split()
)

# Characters that look like Latin letters (Cyrillic, Greek, others) -> the letter.
HOMOGLYPHS = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ϲ": "c", "ѵ": "v", "ɡ": "g", "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ħ": "h",
    "ß": "ss", "æ": "ae", "œ": "oe",
}
# Leetspeak: what a digit or symbol stands for inside a word (1 may be i or l).
LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
        "@": "a", "$": "s", "!": "i", "|": "l", "€": "e", "¡": "i"}
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e")


def default_words() -> list[str]:
    """better-profanity's list (lower case), as shipped in its package."""
    text = files("better_profanity").joinpath("profanity_wordlist.txt").read_text(encoding="utf-8")
    return [line.strip().lower() for line in text.splitlines() if line.strip()]


def language_words(language: str) -> list[str]:
    """A checked-in list for another language: `word` or `word:severe` per line."""
    if language not in LANGUAGES:
        raise ValueError(f"no profanity word list for language {language!r}: choose from {', '.join(LANGUAGES)}")
    path = files("chatsvc.domain").joinpath("wordlists", f"{language}.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def tier_of(word: str) -> str:
    return SEVERE if any(stem in word for stem in SEVERE_STEMS) else MILD
