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
from dataclasses import dataclass, field
from typing import (Annotated, Any, Callable, Iterable, Iterator, NotRequired, Required, Union, get_args, get_origin,
                    get_type_hints, is_typeddict)

from ltrl_cli.errors import BadInput

_NONE = type(None)


class NonEmpty:
    """A rule for a string (not blank) or a list (at least one item): `Annotated[str, NON_EMPTY]`."""

    def holds(self, value: Any) -> bool:
        return bool(value.strip()) if isinstance(value, str) else bool(value)

    def got(self, value: Any) -> str:
        return "a blank string" if isinstance(value, str) else "an empty list"

    def describe(self, text: str) -> str:
        return text.replace("a ", "a non-empty ", 1)


@dataclass(frozen=True)
class Length:
    """A rule for a list of exactly `n` items: `Annotated[list[int], Length(2)]`."""

    n: int

    def holds(self, value: Any) -> bool:
        return len(value) == self.n

    def got(self, value: Any) -> str:
        return f"a list of {len(value)}"

    def describe(self, text: str) -> str:
        return text.replace("a list of ", f"a list of {self.n} ", 1)


NON_EMPTY = NonEmpty()


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
    test: Callable[[Any], tuple[str, Any, Any] | None] = field(default=lambda v: None, compare=False, repr=False)
    passes: Callable[[dict], bool] = field(default=lambda r: False, compare=False, repr=False)

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
                 rename: dict[str, str] | None = None, rules: Iterable[Callable[[dict], str | None]] = ()):
        self.layout = layout
        self.rules = tuple(rules)  # record-wide: run on a record whose fields passed; a message or None
        self._required = tuple(required)
        self._optional = tuple(p for p in optional if p not in self._required)
        self._rename = dict(rename or {})
        self.fields: tuple[Field, ...] = tuple(
            _field(layout, path, self._rename.get(path, path), path in self._required)
            for path in self._required + self._optional
        )

    def adjusted(self, *, rename: dict[str, str] | None = None, required: Iterable[str] = (),
                 without: Iterable[str] = (), rules: Iterable[Callable[[dict], str | None]] = ()) -> "Reads":
        """The same reads with some fields found under other paths (score's --label-key;
        named by their layout path), some optional ones required, some left out, and more
        record-wide rules (eval's --benchmark, export's slime format)."""
        without = set(without)
        required = tuple(p for p in self._required + tuple(required) if p not in without)
        optional = tuple(p for p in self._optional if p not in without)
        return Reads(self.layout, required=tuple(dict.fromkeys(required)), optional=optional,
                     rename={**self._rename, **(rename or {})}, rules=self.rules + tuple(rules))

    def check(self, record: dict) -> None:
        """Raise BadInput (without a line; the reader adds it) at the first wrong field, or
        the first record-wide rule that fails."""
        for f in self.fields:
            problem = _check_field(record, f)
            if problem is not None:
                raise BadInput(problem + _record_note(record))
        for rule in self.rules:
            problem = rule(record)
            if problem is not None:
                raise BadInput(problem + _record_note(record))


def _record_note(record: dict) -> str:
    rid = record.get("id")
    return f" (record {rid!r})" if isinstance(rid, (str, int)) and not isinstance(rid, bool) else ""


# ---------------------------------------------------------------- resolving paths in layouts


def _field(layout: type, path: str, found_at: str, required: bool) -> Field:
    parts = path.split(".")
    lists: list[bool] = []
    node: Any = layout
    for depth, part in enumerate(parts):
        if not is_typeddict(node):
            raise TypeError(f"{layout.__name__}: {'.'.join(parts[:depth])} is not an object layout")
        hints = field_types(node)
        if part not in hints:
            raise TypeError(f"{layout.__name__} has no field {'.'.join(parts[:depth + 1])!r}")
        node = hints[part]
        if depth < len(parts) - 1:
            while get_origin(node) is Annotated:  # the rules of a container apply when it is read whole
                node = get_args(node)[0]
            inner = _list_item(node)
            lists.append(inner is not None)
            node = inner if inner is not None else node
    found = tuple(found_at.split("."))
    if found_at != path:  # found elsewhere (a --*-key option): a plain path of objects
        lists = [False] * (len(found) - 1)
    made = Field(found_at, found, tuple(lists), node, required, _compile(node))
    object.__setattr__(made, "passes", _fast_path(made))
    return made


def field_types(layout: type) -> dict[str, Any]:
    """A layout's fields and their types, rules (`Annotated[str, NON_EMPTY]`) kept."""
    out = {}
    for name, tp in get_type_hints(layout, include_extras=True).items():
        while get_origin(tp) in (NotRequired, Required):
            tp = get_args(tp)[0]
        out[name] = tp
    return out


def _list_item(tp: Any) -> Any:
    """X for list[X], else None."""
    return get_args(tp)[0] if get_origin(tp) is list else None


# ---------------------------------------------------------------- checking values


def _check_field(record: dict, f: Field) -> str | None:
    if f.passes(record):  # the usual case, decided without walking item by item in Python
        return None
    return _problem(record, f)


def _problem(record: dict, f: Field) -> str | None:
    """What is wrong with the field in `record` (None: nothing), walking it item by item."""
    for depth, indices, value in _values(record, f, 0, ()):
        if value is _ABSENT:
            if f.required:
                return f"missing field '{_where(f, depth, indices)}'"
            continue
        if type(value) is _Wrong:
            return f"field '{_where(f, depth, indices)}' must be {value.expected}, got {json_type(value.value)}"
        problem = f.test(value)
        if problem is not None:
            suffix, expected, got = problem
            return f"field '{_where(f, depth, indices)}{suffix}' must be {describe(expected)}, got {got}"
    return None


class _Wrong:
    """A container on the way to a field that is not what the layout says."""

    def __init__(self, expected: str, value: Any):
        self.expected, self.value = expected, value


_ABSENT = object()
_NOT_AN_OBJECT = _Wrong("an object", None)


def _values(node: dict, f: Field, depth: int, indices: tuple[int, ...]) -> Iterator[tuple[int, tuple[int, ...], Any]]:
    """(depth reached, list indices on the way, value) of the field in `node`: one per
    item of the lists on its path; _ABSENT or a _Wrong where the path stops early."""
    value = node.get(f.parts[depth], _ABSENT)
    if depth == len(f.parts) - 1 or value is _ABSENT:
        yield depth, indices, value
        return
    if f.lists[depth]:
        if type(value) is not list:
            yield depth, indices, _Wrong("a list of objects", value)
            return
        for i, item in enumerate(value):
            if type(item) is not dict:
                yield depth, indices + (i,), _Wrong("an object", item)
                return
            yield from _values(item, f, depth + 1, indices + (i,))
        return
    if type(value) is not dict:
        yield depth, indices, _Wrong("an object", value)
        return
    yield from _values(value, f, depth + 1, indices)


def _fast_path(f: Field) -> Callable[[dict], bool]:
    """A quick `record -> True` when the field is surely fine (False: look closer), for
    fields behind at most one list: the values are gathered in one comprehension and their
    types compared as a set."""
    marks = [i for i, is_list in enumerate(f.lists) if is_list]
    if len(marks) > 1:
        return lambda record: False
    split = marks[0] + 1 if marks else len(f.parts) - 1
    outer, inner, last = f.parts[:split], f.parts[split:-1], f.parts[-1]  # outer ends at the list, if any
    exact = _exact_types(f.type)
    loose = exact if exact is None or f.required else exact | {object}  # object: the type of _ABSENT

    def down(node: Any, parts: tuple[str, ...]) -> Any:
        """The value at `parts` below `node`; _ABSENT, or _NOT_AN_OBJECT where a step is no object."""
        for part in parts:
            if type(node) is not dict:
                return _NOT_AN_OBJECT
            node = node.get(part, _ABSENT)
            if node is _ABSENT:
                return _ABSENT
        return node

    def leaf(node: Any) -> Any:
        node = down(node, inner)
        if node is _ABSENT or type(node) is _Wrong:
            return node
        return node.get(last, _ABSENT) if type(node) is dict else _NOT_AN_OBJECT

    def fine(values: list) -> bool:
        kinds = set(map(type, values))
        if loose is not None:
            return kinds <= loose
        if _Wrong in kinds or (f.required and object in kinds):
            return False
        return all(value is _ABSENT or f.test(value) is None for value in values)

    if not marks:
        return lambda record: fine([leaf(down(record, outer))])

    def passes_list(record: dict) -> bool:
        items = down(record, outer)
        if items is _ABSENT:
            return not f.required
        return type(items) is list and fine([leaf(item) for item in items])
    return passes_list


def _where(f: Field, depth: int, indices: tuple[int, ...]) -> str:
    """The field's path down to `depth`, with the list indices taken: `rollouts[2].seen`."""
    out, taken = [], iter(indices)
    for j in range(depth + 1):
        index = next(taken, None) if j < len(f.lists) and f.lists[j] else None
        out.append(f.parts[j] if index is None else f"{f.parts[j]}[{index}]")
    return ".".join(out)


# The Python types orjson gives for a JSON value of each scalar type (exact: bool is not int).
_EXACT = {str: {str}, int: {int}, float: {int, float}, bool: {bool}, _NONE: {_NONE}, dict: {dict}}


def _exact_types(tp: Any) -> frozenset | None:
    """The set of exact Python types a value of `tp` may have, when that decides it (no lists
    inside); else None."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        sets = [_exact_types(option) for option in get_args(tp)]
        return None if any(s is None for s in sets) else frozenset().union(*sets)
    if origin is dict or is_typeddict(tp):
        return frozenset({dict})
    found = _EXACT.get(None if tp is None else tp)
    return frozenset(found) if found is not None else None


def _compile(tp: Any) -> Callable[[Any], tuple[str, Any, Any] | None]:
    """A fast test for values of `tp`: None when the value has the type, else what
    `_mismatch` says (it is run only to name the problem)."""
    if tp is Any:
        return lambda value: None
    exact = _exact_types(tp)
    if exact is not None:
        return lambda value: None if type(value) in exact else ("", tp, json_type(value))
    if get_origin(tp) is Annotated:
        base, rules = _compile(get_args(tp)[0]), tp.__metadata__

        def test(value: Any) -> tuple[str, Any, Any] | None:
            problem = base(value)
            if problem is not None:
                return problem[0], tp if not problem[0] else problem[1], problem[2]
            broken = next((rule for rule in rules if not rule.holds(value)), None)
            return None if broken is None else ("", tp, broken.got(value))
        return test
    if get_origin(tp) is list:
        items = _exact_types(get_args(tp)[0])
        if items is not None:
            return lambda value: (None if type(value) is list and set(map(type, value)) <= items
                                  else _mismatch(value, tp))
    return lambda value: _mismatch(value, tp)


def _mismatch(value: Any, tp: Any) -> tuple[str, Any, str] | None:
    """None when `value` has type `tp`; else (path suffix, expected type, what it is instead)."""
    if tp is Any:
        return None
    origin = get_origin(tp)
    if origin is Annotated:
        return _compile(tp)(value)  # rare: only on a value already known to be wrong somewhere
    if origin in (Union, types.UnionType):
        if any(_mismatch(value, option) is None for option in get_args(tp)):
            return None
        return "", tp, json_type(value)
    if origin is list:
        if not isinstance(value, list):
            return "", tp, json_type(value)
        item = get_args(tp)[0]
        for i, element in enumerate(value):
            problem = _mismatch(element, item)
            if problem is not None:
                return f"[{i}]{problem[0]}", problem[1], problem[2]
        return None
    if origin is dict or tp is dict or is_typeddict(tp):
        return None if isinstance(value, dict) else ("", tp, json_type(value))
    if origin is typing.Literal:
        return None if value in get_args(tp) else ("", tp, json_type(value))
    if tp is bool:
        return None if isinstance(value, bool) else ("", tp, json_type(value))
    if tp is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else ("", tp, json_type(value))
    if tp is float:
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else ("", tp, json_type(value))
    if tp is _NONE or tp is None:
        return None if value is None else ("", tp, json_type(value))
    return None if isinstance(value, tp) else ("", tp, json_type(value))


_NAMES = {str: ("a string", "strings"), int: ("an integer", "integers"), float: ("a number", "numbers"),
          bool: ("a boolean", "booleans"), _NONE: ("null", "nulls")}


def describe(tp: Any, *, plural: bool = False, link: bool = False) -> str:
    """A type as a message says it (`link`: a layout by its name, as docs/records.md says it).

    >>> describe(list[str]), describe(str | int | float), describe(list[str | int], plural=True)
    ('a list of strings', 'a string or a number', 'lists of strings or integers')
    """
    origin = get_origin(tp)
    if origin is Annotated:
        text = describe(get_args(tp)[0], plural=plural, link=link)
        for rule in tp.__metadata__:
            text = rule.describe(text)
        return text
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


_JSON_NAMES = {_NONE: "null", bool: "a boolean", int: "an integer", float: "a number", str: "a string",
               list: "a list", dict: "an object"}


def json_type(value: Any) -> str:
    """What a JSON value is, as a message says it.

    >>> json_type("x"), json_type(["x"]), json_type(3), json_type(2.5), json_type(None), json_type(True)
    ('a string', 'a list', 'an integer', 'a number', 'null', 'a boolean')
    """
    return _JSON_NAMES.get(type(value), type(value).__name__)
