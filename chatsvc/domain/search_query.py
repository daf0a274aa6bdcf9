"""The search box's little language, parsed once and rendered for each engine.

Words must all occur; "a quoted phrase" must occur as written; `photo*` matches words that
start with "photo". Case is ignored and punctuation separates words. Common words (the
STOP_WORDS below) are dropped outside phrases, the same on both backends; a query left with
nothing to look for is refused with a message that says why. Every word that reaches an
engine is made of letters and digits only, so no user text is ever SQL or
engine syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chatsvc.errors import invalid

MAX_QUERY_LENGTH = 200
MAX_TERMS = 12
WORD = re.compile(r"[^\W_]+")
PART = re.compile(r'"([^"]*)"|(\S+)')
STOP_WORDS = frozenset(
    "a an and are as at be but by for from has have he her his i if in into is it its me my no not of on or our she so "
    "that the their them then there these they this to was we were what when where which who why will with you your".split()
)


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # one word, or a phrase's words in order
    prefix: bool = False  # the (last) word is a prefix


def parse(query: str) -> list[Term]:
    query = query.strip()
    if not query:
        raise invalid("query is empty: give one or more words to search for")
    if len(query) > MAX_QUERY_LENGTH:
        raise invalid(f"query is {len(query)} characters long; the limit is {MAX_QUERY_LENGTH}")
    if query.count('"') % 2:
        raise invalid('query has an unclosed quote: close the phrase with a second "')
    terms: list[Term] = []
    for phrase, bare in PART.findall(query):
        if phrase:
            phrase_words = tuple(word.lower() for word in WORD.findall(phrase))
            if phrase_words:
                terms.append(Term(phrase_words))
            continue
        prefix = bare.endswith("*")
        words = [word.lower() for word in WORD.findall(bare)]
        for index, word in enumerate(words):
            last = index == len(words) - 1
            if word in STOP_WORDS and not (prefix and last):
                continue
            terms.append(Term((word,), prefix=prefix and last))
    if not terms:
        raise invalid(
            f"query {query!r} has only common words or punctuation, which every message has: "
            "search for a more specific word"
        )
    if len(terms) > MAX_TERMS:
        raise invalid(f"query has {len(terms)} words and phrases; the limit is {MAX_TERMS}")
    return terms


def fts5(terms: list[Term]) -> str:
    """An SQLite FTS5 MATCH expression: quoted strings, `*` for a prefix, implicit AND."""
    return " ".join(f'"{" ".join(term.words)}"' + ("*" if term.prefix else "") for term in terms)


def tsquery(terms: list[Term]) -> str:
    """A PostgreSQL to_tsquery('simple', ...) expression: `<->` for phrases, `:*` for a prefix, `&` between terms."""
    rendered = []
    for term in terms:
        words = [f"'{word}'" for word in term.words]
        if term.prefix:
            words[-1] += ":*"
        rendered.append(words[0] if len(words) == 1 else "(" + " <-> ".join(words) + ")")
    return " & ".join(rendered)
