"""The entrance check of every stage, derived from the record layouts of `ltrl_cli.records`.

A stage says which fields of a layout it reads (`Reads`); their types come from the
layout's annotations, so the layout written down and the layout checked are one. The
reader (`ltrl_cli.io.read_records(schema=...)`) checks each record as it is parsed, so a
wrong type is reported with its line, skipped and counted under --skip-bad like a line
that is not JSON, and never reaches the stage:

    line 3: field 'gold_entities' must be a list of strings, got a string (record 'q1')

A field path is dotted; where the path meets a list of objects, the rest of the path is
checked in every item (`rollouts.seen`: the `seen` of each rollout; reported as
`rollouts[2].seen`). A required field that is absent is `missing field 'x'`; an optional
one may be absent, but when present it must have its type (null included: null is a
wrong type unless the layout allows it).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Union, get_args, get_origin, get_type_hints, is_typeddict

from ltrl_cli.errors import BadInput

_NONE = type(None)


@dataclass(frozen=True)
class Field:
    """One field a stage reads.

    Attributes:
        path: the dotted path as the stage names it (`metadata.docs.span`).
        parts: its segments.
        lists: for each segment but the last, whether its value is a list whose items
            the rest of the path applies to.
        type: the annotation of the last segment in the layout.
        required: an absent value is an error.
    """

    path: str
    parts: tuple[str, ...]
    lists: tuple[bool, ...]
    type: Any
    required: bool

    def example(self) -> str:
        """The path as a message names it in the first item of each list: `rollouts[0].seen`."""
        out = []
        for part, is_list in zip(self.parts, self.lists + (False,)):
            out.append(part + ("[0]" if is_list else ""))
        return ".".join(out)


class Reads:
    """The fields one stage reads from a layout, checked at its entrance.

    >>> from ltrl_cli.records import TrainingRecord
    >>> reads = Reads(TrainingRecord, required=("label",), optional=("metadata.rubrics",))
    >>> reads.check({"id": "q1", "label": "Paris", "metadata": {"rubrics": "France"}})
    Traceback (most recent call last):
    ...
    ltrl_cli.errors.BadInput: field 'metadata.rubrics' must be a list of strings, got a string (record 'q1')
    """

    def __init__(self, layout: type, *, required: Iterable[str] = (), optional: Iterable[str] = (),
                 rename: dict[str, str] | None = None):
        self.layout = layout
        self._required = tuple(required)
        self._optional = tuple(p for p in optional if p not in self._required)
        self._rename = dict(rename or {})
        self.fields: tuple[Field, ...] = tuple(
            _field(layout, path, self._rename.get(path, path), path in self._required)
            for path in self._required + self._optional
        )

    def adjusted(self, *, rename: dict[str, str] | None = None, required: Iterable[str] = (),
                 without: Iterable[str] = ()) -> "Reads":
        """The same reads with some fields found under other paths (score's --label-key;
        named by their layout path), some optional ones required, some left out."""
        without = set(without)
        required = tuple(p for p in self._required + tuple(required) if p not in without)
        optional = tuple(p for p in self._optional if p not in without)
        return Reads(self.layout, required=tuple(dict.fromkeys(required)), optional=optional,
                     rename={**self._rename, **(rename or {})})

    def check(self, record: dict) -> None:
        """Raise BadInput (without a line; the reader adds it) at the first wrong field."""
        for f in self.fields:
            problem = _check_field(record, f)
            if problem is not None:
                rid = record.get("id")
                note = f" (record {rid!r})" if isinstance(rid, (str, int)) and not isinstance(rid, bool) else ""
                raise BadInput(problem + note)


# ---------------------------------------------------------------- resolving paths in layouts


def _field(layout: type, path: str, found_at: str, required: bool) -> Field:
    parts = path.split(".")
    lists: list[bool] = []
    node: Any = layout
    for depth, part in enumerate(parts):
        if not is_typeddict(node):
            raise TypeError(f"{layout.__name__}: {'.'.join(parts[:depth])} is not an object layout")
        hints = get_type_hints(node)
        if part not in hints:
            raise TypeError(f"{layout.__name__} has no field {'.'.join(parts[:depth + 1])!r}")
        node = hints[part]
        if depth < len(parts) - 1:
            inner = _list_item(node)
            lists.append(inner is not None)
            node = inner if inner is not None else node
    found = tuple(found_at.split("."))
    if found_at != path:  # found elsewhere (a --*-key option): a plain path of objects
        lists = [False] * (len(found) - 1)
    return Field(found_at, found, tuple(lists), node, required)


def _list_item(tp: Any) -> Any:
    """X for list[X], else None."""
    return get_args(tp)[0] if get_origin(tp) is list else None


# ---------------------------------------------------------------- checking values


def _check_field(record: dict, f: Field) -> str | None:
    for where, value in _values(record, f.parts, f.lists, ""):
        if value is _ABSENT:
            if f.required:
                return f"missing field '{where}'"
            continue
        if isinstance(value, _Wrong):
            return value.message
        problem = _mismatch(value, f.type)
        if problem is not None:
            suffix, expected, got = problem
            return f"field '{where}{suffix}' must be {describe(expected)}, got {json_type(got)}"
    return None


class _Wrong:
    def __init__(self, message: str):
        self.message = message


_ABSENT = object()


def _values(node: Any, parts: tuple[str, ...], lists: tuple[bool, ...], prefix: str) -> Iterator[tuple[str, Any]]:
    """(display path, value) of the field in `node`, one per list item on the way."""
    part, rest = parts[0], parts[1:]
    where = f"{prefix}.{part}" if prefix else part
    value = node.get(part, _ABSENT)
    if not rest:
        yield where, value
        return
    if value is _ABSENT:
        yield where, _ABSENT
        return
    if lists[0]:
        if not isinstance(value, list):
            yield where, _Wrong(f"field '{where}' must be a list of objects, got {json_type(value)}")
            return
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                yield where, _Wrong(f"field '{where}[{i}]' must be an object, got {json_type(item)}")
                return
            yield from _values(item, rest, lists[1:], f"{where}[{i}]")
        return
    if not isinstance(value, dict):
        yield where, _Wrong(f"field '{where}' must be an object, got {json_type(value)}")
        return
    yield from _values(value, rest, lists[1:], where)


def _mismatch(value: Any, tp: Any) -> tuple[str, Any, Any] | None:
    """None when `value` has type `tp`; else (path suffix, expected type, offending value)."""
    if tp is Any:
        return None
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        if any(_mismatch(value, option) is None for option in get_args(tp)):
            return None
        return "", tp, value
    if origin is list:
        if not isinstance(value, list):
            return "", tp, value
        item = get_args(tp)[0]
        for i, element in enumerate(value):
            problem = _mismatch(element, item)
            if problem is not None:
                return f"[{i}]{problem[0]}", problem[1], problem[2]
        return None
    if origin is dict or tp is dict or is_typeddict(tp):
        return None if isinstance(value, dict) else ("", tp, value)
    if origin is typing.Literal:
        return None if value in get_args(tp) else ("", tp, value)
    if tp is bool:
        return None if isinstance(value, bool) else ("", tp, value)
    if tp is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else ("", tp, value)
    if tp is float:
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else ("", tp, value)
    if tp is _NONE or tp is None:
        return None if value is None else ("", tp, value)
    return None if isinstance(value, tp) else ("", tp, value)


_NAMES = {str: ("a string", "strings"), int: ("an integer", "integers"), float: ("a number", "numbers"),
          bool: ("a boolean", "booleans"), _NONE: ("null", "nulls")}


def describe(tp: Any, *, plural: bool = False, link: bool = False) -> str:
    """A type as a message says it (`link`: a layout by its name, as docs/records.md says it).

    >>> describe(list[str]), describe(str | int | float), describe(list[str | int], plural=True)
    ('a list of strings', 'a string or a number', 'lists of strings or integers')
    """
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = list(get_args(tp))
        if int in options and float in options:
            options.remove(int)  # "a number" covers both
        return " or ".join(describe(o, plural=plural, link=link) for o in options)
    if origin is list:
        return ("lists of " if plural else "a list of ") + describe(get_args(tp)[0], plural=True, link=link)
    if link and is_typeddict(tp):
        return f"[{tp.__name__}](#{tp.__name__.lower()})" + ("s" if plural else "")
    if origin is dict or tp is dict or is_typeddict(tp):
        return "objects" if plural else "an object"
    if origin is typing.Literal:
        return " or ".join(repr(v) for v in get_args(tp))
    if tp is _NONE or tp is None:
        return "nulls" if plural else "null"
    if tp is Any:
        return "anything"
    names = _NAMES.get(tp)
    return names[plural] if names else getattr(tp, "__name__", str(tp))


def json_type(value: Any) -> str:
    """What a JSON value is, as a message says it.

    >>> json_type("x"), json_type(["x"]), json_type(3), json_type(2.5), json_type(None), json_type(True)
    ('a string', 'a list', 'an integer', 'a number', 'null', 'a boolean')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
