"""The profanity filter: whole words of a word list, found through the usual evasions, with tiers.

Text is folded before matching (compatibility forms such as fullwidth letters,
accents, zero-width characters, emoji and look-alike letters from other
scripts), then split into words. A word matches when it, or its leetspeak
reading, or its reading with long letter runs shortened (`fuuuck`), is listed,
possibly with a common ending (`shits`). Runs of single letters (`f u c k`,
`f.u.c.k`) and words split by one punctuation mark (`sh.it`) are joined first.

What never matches: pure numbers and words without letters (`455`, `1:455`,
`$5`); digits are read as letters only before or between letters, never as a
trailing run (`pub15`, `room455` are ids, not leetspeak); and a listed word
only matches whole, so `Scunthorpe` or `assess` pass. Each match is replaced
by `****`, as before, and the strongest tier found decides whether it strikes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from chatsvc.domain.profanity_words import (
    CLASSROOM_WORDS,
    HOMOGLYPHS,
    LEET,
    SEVERE_PHRASES,
    ZERO_WIDTH,
    default_words,
    language_words,
    tier_of,
)
from chatsvc.word_file import MILD, SEVERE, split_tier

CACHE_LIMIT = 200_000
CENSOR = "****"
ENDINGS = ("s", "es", "ed", "ing", "in", "er", "ers")
# Listed words whose endings make innocent words: spaced, spices, spiked, cocked, Cummings, tardes.
NO_ENDINGS = frozenset("spac spic spik tard cock cumming teste titt herp snatch".split())
_WORD = re.compile(r"(?:[^\W_]|[@$!|€¡])+")
_TRAILING_DIGITS = re.compile(r"[0-9]+$")
_LONG_RUN = re.compile(r"(.)\1{2,}")
# Between the pieces of one split word: a few marks, not an apostrophe (who're is not whore).
_GLUE = re.compile(r"[^\w\s'’]{1,3}|_")


@dataclass(frozen=True)
class Verdict:
    """A message after the filter: its text, whether anything was censored, and the worst tier found."""

    text: str
    censored: bool
    severe: bool


def parse_word(entry: str) -> tuple[str, str | None]:
    """`word` or `word:tier` (tier mild or severe) -> (folded word, tier or None for the default)."""
    word, tier = split_tier(entry)
    return fold(word).strip(), tier


class ProfanityFilter:
    def __init__(
        self, *, extra_words: Sequence[str] = (), allowed_words: Sequence[str] = (), languages: Sequence[str] = ()
    ) -> None:
        allowed = {parse_word(word)[0] for word in allowed_words if word.strip()}
        words: dict[str, str] = {}
        for word in default_words():
            if word not in CLASSROOM_WORDS:
                words[word] = tier_of(word)
        for phrase in SEVERE_PHRASES:
            words[phrase] = SEVERE
        for entry in [entry for language in languages for entry in language_words(language)] + list(extra_words):
            word, tier = parse_word(entry)
            if word:
                words[word] = tier or tier_of(word)
        self._words: dict[str, str] = {}  # one-token words, in the form tokens are compared in
        self._phrases: dict[tuple[str, ...], str] = {}
        for word, tier in words.items():
            if word in allowed:
                continue
            parts = tuple(_WORD.findall(word))
            if len(parts) == 1:
                self._words[parts[0]] = tier
            elif parts:
                self._words.setdefault("".join(parts), tier)  # `ass-fucker` is also `assfucker`
                self._phrases[parts] = tier
        self._squeezed = {_squeeze(w): tier for w, tier in self._words.items() if len(_squeeze(w)) >= 3}
        self._phrase_starts = {parts[0] for parts in self._phrases}
        self._longest_phrase = max((len(parts) for parts in self._phrases), default=1)
        self._answers: dict[str, str | None] = {}

    @property
    def words(self) -> dict[str, str]:
        """Each listed one-token word, folded, with its tier."""
        return dict(self._words)

    def forget(self) -> None:
        """Drop the remembered answers (a benchmark's cold start)."""
        self._answers.clear()

    def censor(self, text: str) -> tuple[str, bool]:
        """The text with offending words replaced by ****, and whether any were."""
        verdict = self.check(text)
        return verdict.text, verdict.censored

    def check(self, text: str) -> Verdict:
        folded, origin = _fold_with_origin(text)
        tokens = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(folded)]
        spans: list[tuple[int, int]] = []
        worst = None
        for token, start, _end in tokens:
            tier = self.tier(token)
            if tier is not None:
                core = token.lstrip("!|¡")  # `shit!` keeps its `!`
                spans.append((start + len(token) - len(core), start + len(core.rstrip("!|¡"))))
                worst = SEVERE if tier == SEVERE else (worst or MILD)
        for start_index, stop_index, tier in self._joined(folded, tokens):
            spans.append((tokens[start_index][1], tokens[stop_index][2]))
            worst = SEVERE if tier == SEVERE else (worst or MILD)
        if not spans:
            return Verdict(text, False, False)
        return Verdict(_replace(text, origin, spans), True, worst == SEVERE)

    def tier(self, token: str) -> str | None:
        """The tier of one folded word (None: clean), remembered since chat reuses words."""
        try:
            return self._answers[token]
        except KeyError:
            pass
        if len(self._answers) >= CACHE_LIMIT:
            self._answers.clear()
        answer = self._answers[token] = self._tier(token)
        return answer

    def _tier(self, token: str) -> str | None:
        token = token.strip("!|¡")
        if not any(c.isalpha() for c in token):
            return None  # numbers, prices, ratios
        # pub15, room455: an id, read without its number; but one digit after a
        # word, or digits after leetspeak, are leetspeak too (dyk3, 8ullsh17).
        trailing = _TRAILING_DIGITS.search(token)
        if trailing and not (len(trailing.group()) == 1 or any(c in LEET for c in token[: trailing.start()])):
            token = token[: trailing.start()]
        for reading in _readings(token):
            tier = self._listed(reading)
            if tier is not None:
                return tier
        if _LONG_RUN.search(token):  # bbbboooobs: every doubled letter may be a stretched one
            return self._squeezed.get(_squeeze("".join(LEET.get(c, c) for c in token)))
        return None

    def _listed(self, word: str) -> str | None:
        tier = self._words.get(word)
        if tier is not None:
            return tier
        for ending in ENDINGS:
            stem = word[: -len(ending)]
            # `shits`, but not `assess` (`asses` + s): endings go on base words only
            if word.endswith(ending) and len(stem) >= 4 and not stem.endswith("s") and stem not in NO_ENDINGS:
                tier = self._words.get(stem)
                if tier is not None:
                    return tier
        if "fuck" in word:
            return SEVERE
        return None

    def _joined(self, folded: str, tokens: list[tuple[str, int, int]]) -> Iterator[tuple[int, int, str]]:
        """Matches across tokens: listed phrases, and words spelled out or split by a mark."""
        count = len(tokens)
        run_end = _glued_runs(folded, tokens)
        for i in range(count):
            token = tokens[i][0]
            # A phrase of whole tokens: `kill yourself`.
            if token in self._phrase_starts:
                for length in range(2, min(self._longest_phrase, count - i) + 1):
                    tier = self._phrases.get(tuple(t for t, _, _ in tokens[i : i + length]))
                    if tier is not None:
                        yield i, i + length - 1, tier
            # Tokens glued by a few spaces or marks, from here: `f u c k`, `sh.it`, `f🤬u🤬c🤬k`.
            j = min(run_end[i], i + 24)
            joined = "".join(t for t, _, _ in tokens[i : j + 1]) if j > i else token
            # Only the whole run counts (s.h.i.e.l.d is not `shi` + e.l.d), never a run of one token.
            if j > i and sum(c.isalpha() for c in joined) >= 2:
                tier = self.tier(joined)
                if tier is not None and all(self.tier(t) is None for t, _, _ in tokens[i : j + 1]):
                    yield i, j, tier


def _glued_runs(folded: str, tokens: list[tuple[str, int, int]]) -> list[int]:
    """For each token, the last token of the glued run it starts (itself when none): one pass, so
    that a message of 1,000 single letters costs ~1 ms, not the ~7 ms of extending a run from each."""
    count = len(tokens)
    run_end = list(range(count))
    for k in range(count - 2, -1, -1):
        (left, _, left_end), (right, right_start, _) = tokens[k], tokens[k + 1]
        gap = folded[left_end:right_start]
        if gap.isspace():  # words apart are joined only letter by letter: `f u c k`
            glued = len(left) == 1 and len(right) == 1 and len(gap) <= 3 and "\n" not in gap
        else:
            glued = _GLUE.fullmatch(gap) is not None
        if glued:
            run_end[k] = run_end[k + 1]
    return run_end


def _readings(token: str) -> Iterator[str]:
    """The ways a word may be read: as written, leetspeak, and with long letter runs shortened."""
    yield token
    forms = [token]
    if any(c in LEET for c in token):
        leet = "".join(LEET.get(c, c) for c in token)
        forms.append(leet)
        yield leet
        if "1" in token:
            yield token.replace("1", "l").translate(_LEET_TABLE)
    for form in forms:
        if _LONG_RUN.search(form):
            yield _LONG_RUN.sub(r"\1", form)
            yield _LONG_RUN.sub(r"\1\1", form)


_LEET_TABLE = str.maketrans(LEET)


def _squeeze(word: str) -> str:
    return re.sub(r"(.)\1+", r"\1", word)
_FOLDED: dict[str, str] = {}
_ASCII_RUN = re.compile(r"[\x00-\x7f]+|[^\x00-\x7f]")


def fold(text: str) -> str:
    return _fold_with_origin(text)[0]


def _fold_char(char: str) -> str:
    """One character as the matcher sees it: lower case, no accents, marks or emoji, look-alikes as Latin."""
    folded = _FOLDED.get(char)
    if folded is None:
        if char in ZERO_WIDTH:
            folded = ""
        else:
            decomposed = unicodedata.normalize("NFKD", char)
            kept = "".join(
                c for c in decomposed if not unicodedata.combining(c) and unicodedata.category(c) not in ("So", "Sk", "Cf")
            )
            folded = "".join(HOMOGLYPHS.get(c, c) for c in kept.casefold())
        _FOLDED[char] = folded
    return folded


def _fold_with_origin(text: str) -> tuple[str, list[int] | None]:
    """The folded text, and for each of its characters the index of the original one (None: the same)."""
    if text.isascii():
        return text.lower(), None
    pieces: list[str] = []
    origin: list[int] = []
    for run in _ASCII_RUN.finditer(text):
        start, end = run.span()
        folded = run.group().lower() if end - start > 1 or run.group().isascii() else _fold_char(run.group())
        pieces.append(folded)
        origin.extend(range(start, end) if end - start == len(folded) else [start] * len(folded))
    return "".join(pieces), origin


def _replace(text: str, origin: list[int] | None, spans: list[tuple[int, int]]) -> str:
    """The original text with each folded span (merged where they overlap) replaced by ****."""
    ranges = sorted((s, e) if origin is None else (origin[s], origin[e - 1] + 1) for s, e in spans)
    merged: list[list[int]] = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, last = [], 0
    for start, end in merged:
        out += [text[last:start], CENSOR]
        last = end
    out.append(text[last:])
    return "".join(out)
