"""A YAML document that remembers where every value sits, for errors that name the line.

``load_yaml`` turns a file into plain Python values plus a table of positions; ``Fields`` reads one
mapping key by key, and every wrong value becomes a ``ConfigError`` naming the file and the line of
that value. Scalars also keep their text as written, so ``default_region: NO`` (Norway) or
``sheet: 2024`` are read as the user typed them rather than as YAML 1.1's booleans and numbers.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bulksend.errors import ConfigError

Where = tuple[str | int, ...]
Choice = TypeVar("Choice", bound=StrEnum)
MAX_DEPTH = 40
# How YAML 1.1 spells null; a campaign value written so is "no value", which users rarely mean.
NULL_SPELLINGS = frozenset({"null", "Null", "NULL", "~"})
PLAIN_SEQUENCE_TAG = "tag:yaml.org,2002:seq"
PLAIN_MAPPING_TAG = "tag:yaml.org,2002:map"
DURATION_PATTERN = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|sec|seconds?|min)?", re.IGNORECASE)
DURATION_UNITS = {"ms": 0.001, "min": 60.0}


class _Loader(yaml.SafeLoader):
    """SafeLoader without implicit timestamps: a campaign has no dates, and ``2024-02-30``
    would otherwise fail inside the constructor with no line number."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Spot:
    """Where a value sits: its line, its key's line, and for scalars the text as written."""

    line: int
    key_line: int | None = None
    text: str | None = None
    block: bool = False  # a | or > block scalar: its content starts on the next line
    plain: bool = False  # an unquoted scalar, whose text YAML may read as null, a number...


class YamlDocument:
    """Plain values (dicts with str keys, lists, scalars) and the position of each."""

    def __init__(self, path: Path, data: Any, spots: Mapping[Where, Spot]) -> None:
        self.path = path
        self.data = data
        self._spots = dict(spots)

    def spot(self, where: Where) -> Spot | None:
        return self._spots.get(where)

    def line(self, where: Where, *, of_key: bool = False) -> int | None:
        spot = self._spots.get(where)
        if spot is None:
            return None
        return spot.key_line if of_key and spot.key_line else spot.line

    def error(
        self, message: str, where: Where = (), *, hint: str | None = None, of_key: bool = False
    ) -> ConfigError:
        return ConfigError(message, path=self.path, line=self.line(where, of_key=of_key), hint=hint)

    def value_at(self, where: Where) -> Any:
        value: Any = self.data
        for part in where:
            value = value[part]
        return value

    def scalar_text(self, where: Where, label: str, *, hint: str | None = None) -> str:
        """A scalar as the user wrote it (numbers and yes/no included), stripped; lists refused."""
        value = self.value_at(where)
        if isinstance(value, list | dict):
            raise self.error(f"`{label}` must be text, not {describe(value)}", where, hint=hint)
        spot = self.spot(where)
        text = spot.text if spot and spot.text is not None else str(value)
        if not text.strip():
            hint = hint or f"Write a value after `{label}:`, or leave `{label}` out."
            raise self.error(f"`{label}` is empty", where, hint=hint)
        return text if spot and spot.block else text.strip()

    def fields(self, where: Where = (), *, what: str = "the campaign file") -> Fields:
        data = self.value_at(where)
        if not isinstance(data, dict):
            hint = (
                "Write one `key: value` per line, starting at the left margin, e.g. "
                "name: spring-sale (`bulksend init SPREADSHEET` writes a starting file)."
                if not where
                else f"Write `key: value` lines indented under {what}."
            )
            raise self.error(f"{what} must be a mapping of `key: value` lines", where, hint=hint)
        return Fields(self, where, data)

    def written_null(self, where: Where) -> str | None:
        """``null``, ``~``... when the value at ``where`` is YAML's null spelled out, else None
        (a key left blank is None too, but the user wrote nothing there)."""
        spot = self.spot(where)
        if spot is None or not spot.plain:
            return None
        return spot.text if spot.text in NULL_SPELLINGS else None

    def null_hint(self, where: Where, example: str) -> str | None:
        """Say to quote a null written as a value, e.g. a column really called ``null``."""
        text = self.written_null(where)
        if text is None:
            return None
        return (
            f'YAML reads an unquoted {text} as "no value": if you mean the text {text} (a column '
            f"of that name, say), put it in quotes: {example.format(text=text)}."
        )


def load_yaml(path: Path) -> YamlDocument:
    """Read ``path`` as one YAML document; ``ConfigError`` if missing, unreadable or broken."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            "file not found", path=path, hint="Check the path, or write one with `bulksend init`."
        ) from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            "the file is not UTF-8 text", path=path, hint="Save it as UTF-8 and try again."
        ) from error
    except OSError as error:
        raise ConfigError(f"cannot read the file ({error.strerror})", path=path) from error
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        spots: dict[Where, Spot] = {}
        data = None if node is None else _build(loader, node, (), spots, path, None)
    except yaml.MarkedYAMLError as error:
        raise _broken_yaml(error, path) from error
    except yaml.YAMLError as error:
        raise ConfigError(f"this is not valid YAML ({error})", path=path) from error
    finally:
        loader.dispose()
    return YamlDocument(path, data, spots)


def _broken_yaml(error: yaml.MarkedYAMLError, path: Path) -> ConfigError:
    # yaml's own message quotes the offending line; we keep only the problem and its position,
    # since that line may hold something secret.
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "it cannot be parsed"
    line = mark.line + 1 if mark else None
    column = f", column {mark.column + 1}" if mark else ""
    return ConfigError(
        f"this is not valid YAML{column}: {problem}",
        path=path,
        line=line,
        hint="Check the indentation and quoting there: values with ': ' or '#' need quotes.",
    )


def _build(
    loader: _Loader,
    node: Node,
    where: Where,
    spots: dict[Where, Spot],
    path: Path,
    key_line: int | None,
) -> Any:
    if len(where) > MAX_DEPTH:
        raise ConfigError("the YAML is nested too deeply", path=path, line=node.start_mark.line + 1)
    line = node.start_mark.line + 1
    if isinstance(node, ScalarNode):
        spots[where] = Spot(
            line, key_line, node.value, node.style in ("|", ">"), plain=node.style is None
        )
        try:
            return loader.construct_object(node)
        except yaml.YAMLError as error:
            raise _unknown_tag(node, path) from error
    if node.tag not in (PLAIN_SEQUENCE_TAG, PLAIN_MAPPING_TAG):
        raise _unknown_tag(node, path)
    spots[where] = Spot(line, key_line)
    if isinstance(node, SequenceNode):
        return [
            _build(loader, item, (*where, index), spots, path, None)
            for index, item in enumerate(node.value)
        ]
    assert isinstance(node, MappingNode)
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key_at = key_node.start_mark.line + 1
        if not isinstance(key_node, ScalarNode):
            raise ConfigError("a key must be a plain word", path=path, line=key_at)
        key = key_node.value
        if key in result:
            first = spots[(*where, key)].key_line
            raise ConfigError(
                f"`{key}` appears twice (first on line {first})",
                path=path,
                line=key_at,
                hint="Keep one of them.",
            )
        result[key] = _build(loader, value_node, (*where, key), spots, path, key_at)
    return result


def _unknown_tag(node: Node, path: Path) -> ConfigError:
    return ConfigError(
        f"bulksend does not read YAML tags such as {node.tag}",
        path=path,
        line=node.start_mark.line + 1,
        hint="Remove the !!tag and write a plain value.",
    )


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word`` (case-insensitive), or None."""
    lowered = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def describe(value: Any) -> str:
    """A short name for a YAML value's type, for "must be X, not Y" messages."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class Fields:
    """One YAML mapping, read key by key; each failure is a ``ConfigError`` at the value's line."""

    def __init__(self, doc: YamlDocument, where: Where, data: dict[str, Any]) -> None:
        self.doc = doc
        self.where = where
        self.data = data

    def at(self, key: str) -> Where:
        return (*self.where, key)

    def has(self, key: str) -> bool:
        """True when the key is present with a value (``key:`` alone counts as absent)."""
        return self.data.get(key) is not None

    def error(self, key: str, message: str, *, hint: str | None = None) -> ConfigError:
        return self.doc.error(message, self.at(key), hint=hint)

    def key_error(self, key: str, message: str, *, hint: str | None = None) -> ConfigError:
        return self.doc.error(message, self.at(key), hint=hint, of_key=True)

    def check_keys(self, allowed: Iterable[str], *, what: str = "key") -> None:
        allowed = tuple(allowed)
        for key in self.data:
            if key in allowed:
                continue
            guess = did_you_mean(key, allowed)
            hint = (
                f"Did you mean `{guess}`?" if guess else "Known keys: " + ", ".join(allowed) + "."
            )
            raise self.key_error(key, f"unknown {what} `{key}`", hint=hint)

    def require(self, key: str, hint: str | None = None) -> None:
        if key not in self.data:
            # The top level's own line (1) would point nowhere useful: name only the file there.
            line = self.doc.line(self.where) if self.where else None
            raise ConfigError(f"`{key}` is missing", path=self.doc.path, line=line, hint=hint)
        if self.data[key] is None:
            quote = self.doc.null_hint(self.at(key), f'{key}: "{{text}}"')
            hint = " ".join(part for part in (quote, hint) if part) or None
            raise self.error(key, f"`{key}` is empty", hint=hint)

    def text(self, key: str, *, required: bool = False, hint: str | None = None) -> str | None:
        """A scalar as the user wrote it (numbers and yes/no included), stripped; lists refused."""
        if required:
            self.require(key, hint)
        if not self.has(key):
            return None
        return self.scalar_text(self.at(key), key, hint=hint)

    def scalar_text(self, where: Where, label: str, *, hint: str | None = None) -> str:
        return self.doc.scalar_text(where, label, hint=hint)

    def integer(
        self,
        key: str,
        *,
        default: int | None,
        minimum: int,
        maximum: int,
        hint: str | None = None,
    ) -> int | None:
        if not self.has(key):
            return default
        value = self.data[key]
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(
                key,
                f"`{key}` must be a whole number, not {self.shown(key)}",
                hint=f"Write digits only, e.g. {key}: {max(minimum, 1)}.",
            )
        if not minimum <= value <= maximum:
            raise self.error(
                key,
                f"`{key}` must be between {minimum} and {maximum}, not {value}",
                hint=hint or f"Write a whole number from {minimum} to {maximum}.",
            )
        return value

    def shown(self, key: str) -> str:
        """How a message shows the value: a scalar as written (quoted, cut to 40 characters),
        anything else by its kind. Only for keys that cannot hold a secret."""
        value = self.data[key]
        spot = self.doc.spot(self.at(key))
        if isinstance(value, list | dict) or spot is None or spot.text is None:
            return describe(value)
        text = " ".join(spot.text.split())
        return f"`{text[:37]}...`" if len(text) > 40 else f"`{text}`"

    def boolean(self, key: str, *, default: bool) -> bool:
        if not self.has(key):
            return default
        value = self.data[key]
        if not isinstance(value, bool):
            raise self.error(
                key,
                f"`{key}` must be true or false, not {self.shown(key)}",
                hint="Write true or false.",
            )
        return value

    def required_text(self, key: str, what: str) -> str:
        value = self.text(key, required=True, hint=f"Write `{key}:` with {what}.")
        assert value is not None
        return value

    def whole(self, key: str, *, default: int, minimum: int = 1, maximum: int) -> int:
        value = self.integer(key, default=default, minimum=minimum, maximum=maximum)
        assert value is not None
        return value

    def choice(
        self, key: str, kind: type[Choice], default: Choice, *, hint: str | None = None
    ) -> Choice:
        value = self.text(key)
        if value is None:
            return default
        try:
            return kind(value.lower())
        except ValueError:
            allowed = " or ".join(member.value for member in kind)
            guess = did_you_mean(value, [member.value for member in kind])
            written = " or ".join(f"`{key}: {member.value}`" for member in kind)
            hint = hint or f"Write {written}."
            if guess:
                hint = f"Did you mean `{guess}`? {hint}"
            raise self.error(key, f"`{key}` must be {allowed}, not `{value}`", hint=hint) from None

    def text_list(self, key: str, what: str) -> tuple[str, ...] | None:
        """One text or a list of texts, each stated once."""
        if not self.has(key):
            return None
        value = self.data[key]
        if not isinstance(value, list):
            return (self.required_text(key, what),)
        if not value:
            raise self.error(key, f"`{key}` is an empty list", hint=f"Write {what}.")
        texts = tuple(self.scalar_text((*self.at(key), i), key) for i in range(len(value)))
        repeated = sorted({text for text in texts if texts.count(text) > 1})
        if repeated:
            raise self.error(key, f"`{key}` names {repeated[0]!r} twice")
        return texts

    def seconds(self, key: str, *, default: float, maximum: float) -> float:
        """A duration: a number of seconds, or text like 30s, 500ms, 2min."""
        if not self.has(key):
            return default
        value = self.data[key]
        seconds: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        elif isinstance(value, str) and (match := DURATION_PATTERN.fullmatch(value.strip())):
            unit = (match.group(2) or "s").lower()
            seconds = float(match.group(1)) * DURATION_UNITS.get(unit, 1.0)
        if seconds is None or not 0 < seconds <= maximum:
            raise self.error(
                key,
                f"`{key}` must be a number of seconds up to {maximum:g}, not {value!r}",
                hint=f"For example: {key}: 30 (or 30s).",
            )
        return seconds

    def path(self, key: str, *, required: bool = False, hint: str | None = None) -> Path | None:
        """A path, relative to the YAML file's folder (``~`` allowed), not checked for existence."""
        text = self.text(key, required=required, hint=hint or f"Write `{key}:` with a file path.")
        if text is None:
            return None
        folder = self.doc.path.absolute().parent
        return Path(os.path.normpath(folder / Path(text).expanduser()))
