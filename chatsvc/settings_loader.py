"""Settings dataclasses filled from environment variables, each field's variable stated once.

A field's variable is its prefix plus its name in capitals (`max_message_length`
-> `CHATSVC_MAX_MESSAGE_LENGTH`) unless `setting(env=...)` names another; its
type says how the text is read (bool, int, float, str, optional str, a comma-separated
list or tuple of str) unless `setting(parse=...)` gives a reader. An empty
variable counts as unset. A value that cannot be read is a `StartupError` naming
the variable, raised before anything starts.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from chatsvc.errors import StartupError

T = TypeVar("T")
_MISSING: Any = dataclasses.MISSING


def setting(default: Any = _MISSING, *, env: str | None = None, parse: Callable[[str], Any] | None = None,
            default_factory: Any = _MISSING) -> Any:
    """A dataclass field read from `env` (default: prefix + NAME) with `parse` (default: by its type)."""
    metadata = {"env": env, "parse": parse}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def variables(cls: type, prefix: str) -> dict[str, dataclasses.Field[Any]]:
    """Every variable `cls` reads, with its field."""
    return {field.metadata.get("env") or prefix + field.name.upper(): field for field in dataclasses.fields(cls)}


def load(cls: type[T], prefix: str, env: Mapping[str, str] | None = None) -> T:
    """An instance of the dataclass `cls`: defaults, overridden by the variables that are set."""
    env = os.environ if env is None else env
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, field in variables(cls, prefix).items():
        text = env.get(name, "").strip()
        if not text:
            continue
        parse = field.metadata.get("parse") or _reader(hints[field.name])
        try:
            values[field.name] = parse(text)
        except StartupError as error:
            raise StartupError(f"{name}: {error}") from None
        except ValueError as error:
            raise StartupError(f"{name} {error}") from None
    return cls(**values)


def word_list(value: str) -> list[str]:
    return [word.strip() for word in value.split(",") if word.strip()]


def _integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"must be an integer, not {value!r}") from None


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"must be a number, not {value!r}") from None


def _boolean(value: str) -> bool:
    answer = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}.get(value.lower())
    if answer is None:
        raise ValueError(f"must be 1 or 0 (true/false, yes/no, on/off), not {value!r}")
    return answer


_READERS: dict[Any, Callable[[str], Any]] = {
    bool: _boolean,
    int: _integer,
    float: _number,
    str: str,
    str | None: str,
    list[str]: word_list,
    list[str] | None: word_list,
    tuple[str, ...]: lambda value: tuple(word_list(value)),
}


def _reader(hint: Any) -> Callable[[str], Any]:
    try:
        return _READERS[hint]
    except KeyError:
        raise TypeError(f"no reader for settings of type {hint}: give the field setting(parse=...)") from None
