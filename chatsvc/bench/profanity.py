"""`chatsvc bench-profanity`: the profanity filter's time per message, typical and 2,000 characters long.

Each message is checked with a cold word cache (the worst case: every word new)
and a warm one (chat reuses words); the figures are per message, in ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from chatsvc.domain.profanity import ProfanityFilter

TYPICAL = [
    "see page 455 for the proof",
    "Could you repeat the last slide? I missed the formula for x^2 + 5x - 14 = 0",
    "my answer is 3.14, room 455 at 14:30 tomorrow",
    "H2SO4 + 2NaOH -> Na2SO4 + 2H2O, right?",
    "thanks! 👍 that makes sense now",
    "Ça marche, merci beaucoup — très clair",
    "this is shit, I can't get the code to run",
    "def f(x): return x * 2  # why does this fail for pub15?",
]
WORDS = (
    "the a of to and in is for on that with as this by be are from at or an was it not have will can we you your "
    "page room ratio slide equation proof answer question code function variable test value result class module "
    "analysis assess classic therapist Scunthorpe Dickens cocktail grape assassin 455 1:455 pub15 14:55 shit damn"
).split()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--messages", type=int, default=2000, help="messages per measurement (default 2000)")
    parser.add_argument("--seed", type=int, default=11)


def _long_message(rng: random.Random) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < 2000:
        words.append(rng.choice(WORDS) + (str(rng.randint(0, 999)) if rng.random() < 0.1 else ""))
    return " ".join(words)[:2000]


def _measure(profanity: ProfanityFilter, messages: list[str], cold: bool) -> list[float]:
    times = []
    for text in messages:
        if cold:
            profanity.forget()
        started = time.perf_counter()
        profanity.check(text)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _line(label: str, times: list[float]) -> str:
    times = sorted(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    median = times[len(times) // 2]
    return f"{label:42} mean {statistics.fmean(times):.3f} ms  p50 {median:.3f}  p99 {p99:.3f}  max {times[-1]:.3f}"


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    profanity = ProfanityFilter()
    typical = [rng.choice(TYPICAL) for _ in range(args.messages)]
    long = [_long_message(rng) for _ in range(args.messages)]
    accented = [text + " — café naïve Straße 🙂" for text in long]
    print(f"profanity filter, {args.messages} messages each")
    kinds = (("typical message", typical), ("2,000-character message", long), ("2,000 characters, non-ASCII", accented))
    for label, messages in kinds:
        for cold in (False, True):
            print(_line(f"{label} ({'cold' if cold else 'warm'} cache)", _measure(profanity, messages, cold)))
    return 0
