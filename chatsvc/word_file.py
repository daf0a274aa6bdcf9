"""The profanity settings a deployment writes: word tiers, the languages with a word list, the word file.

A leaf, so that settings can check them at load (one-line start-up errors)
without importing the filter itself (`domain/profanity.py`).
"""

from __future__ import annotations

from pathlib import Path

MILD, SEVERE = "mild", "severe"
TIERS = (MILD, SEVERE)
# Besides English, which is always on: the lists in chatsvc/domain/wordlists.
LANGUAGES = ("de", "es", "fr")


def split_tier(entry: str) -> tuple[str, str | None]:
    """`word` or `word:tier` (tier mild or severe) -> (word, tier or None for the default); ValueError for another tier."""
    word, _, written_tier = entry.strip().rpartition(":") if ":" in entry else (entry.strip(), "", "")
    tier = written_tier.strip().lower() or None
    if tier is not None and tier not in TIERS:
        raise ValueError(f"unknown profanity tier {tier!r} for {word!r}: use one of {', '.join(TIERS)}")
    return word, tier


def read_word_file(path: str | Path) -> tuple[list[str], list[str]]:
    """A deployment's word file: `+word` or `+word:severe`/`+word:mild` adds, `-word` allows, `#` comments."""
    extra: list[str] = []
    allowed: list[str] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            allowed.append(line[1:])
        else:
            split_tier(line.removeprefix("+"))  # an unknown tier is refused at start-up
            extra.append(line.removeprefix("+"))
    return extra, allowed
