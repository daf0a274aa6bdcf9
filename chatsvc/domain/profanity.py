"""The profanity filter: better-profanity, with deployment word lists and a lookup cache."""

from __future__ import annotations

import re
from pathlib import Path

from better_profanity import Profanity

CACHE_LIMIT = 200_000


class _CachedWordset(list):
    """better-profanity's word list, with fast membership.

    The library tests every word (and pairs of words) of a message against
    ~900 leetspeak-aware patterns one by one in Python: ~2 ms per word, far
    too slow for a live chat. The same patterns compiled into one regular
    expression answer in microseconds, and each answer is remembered, since
    chat text reuses words.
    """

    def __init__(self, patterns) -> None:
        super().__init__(patterns)
        self._regex = re.compile("|".join(_pattern_regex(pattern) for pattern in patterns))
        self._answers: dict[str, bool] = {}

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return super().__contains__(word)
        answer = self._answers.get(word)
        if answer is None:
            if len(self._answers) >= CACHE_LIMIT:
                self._answers.clear()
            answer = self._answers[word] = self._regex.fullmatch(word) is not None
        return answer


def _pattern_regex(pattern) -> str:
    """A better_profanity VaryingString as a regex: each character or any of its substitutes."""
    return "".join("(?:" + "|".join(re.escape(variant) for variant in variants) + ")" for variants in pattern._char_combos)


class ProfanityFilter:
    def __init__(self, *, extra_words: list[str] = (), allowed_words: list[str] = ()) -> None:
        allowed = sorted({word.strip().lower() for word in allowed_words if word.strip()})
        self._profanity = Profanity()
        self._profanity.load_censor_words(whitelist_words=list(allowed))
        extra = [word.strip().lower() for word in extra_words if word.strip() and word.strip().lower() not in allowed]
        if extra:
            self._profanity.add_censor_words(extra)
        self._profanity.CENSOR_WORDSET = _CachedWordset(self._profanity.CENSOR_WORDSET)

    def censor(self, text: str) -> tuple[str, bool]:
        """The text with offending words replaced by ****, and whether any were."""
        censored = self._profanity.censor(text)
        return censored, censored != text


def read_word_file(path: str | Path) -> tuple[list[str], list[str]]:
    """A deployment's word file: `+word` adds a word, `-word` allows one, `#` comments."""
    extra, allowed = [], []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            allowed.append(line[1:])
        else:
            extra.append(line.removeprefix("+"))
    return extra, allowed
