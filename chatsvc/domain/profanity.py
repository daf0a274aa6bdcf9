"""The profanity filter: better-profanity, with deployment word lists and a lookup cache."""

from __future__ import annotations

from pathlib import Path

from better_profanity import Profanity

CACHE_LIMIT = 200_000


class _CachedWordset(list):
    """better-profanity's word list, with memoized membership.

    The library tests every word (and pairs of words) of a message against
    ~900 leetspeak-aware patterns one by one: ~2 ms per word, far too slow
    for a live chat. Membership of a given string never changes, so we
    remember each answer; chat text reuses words, so nearly every lookup
    becomes a dict hit.
    """

    def __init__(self, patterns) -> None:
        super().__init__(patterns)
        self._answers: dict[str, bool] = {}

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return super().__contains__(word)
        answer = self._answers.get(word)
        if answer is None:
            if len(self._answers) >= CACHE_LIMIT:
                self._answers.clear()
            answer = self._answers[word] = super().__contains__(word)
        return answer


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
