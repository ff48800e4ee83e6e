"""A small least-recently-used cache, for pages and token counts that recur."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")

ABSENT = object()  # a `get` default that a stored value (None included) can never be


class LRU(Generic[K, V]):
    """A mapping that keeps at most `maxsize` items, dropping the least recently used.

    Reading a key with `get` or writing it makes it the most recent. None is a value
    like any other (a page known to be missing), so ask with `ABSENT` to tell it apart.

    >>> cache = LRU(2)
    >>> cache["a"], cache["b"] = 1, None
    >>> cache.get("a", ABSENT), cache.get("b", ABSENT)  # "b" is now the most recent
    (1, None)
    >>> cache["c"] = 3  # over maxsize: "a", the least recent, goes
    >>> cache.get("a", ABSENT) is ABSENT, "b" in cache, len(cache)
    (True, True, 2)
    """

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, default: D | None = None) -> V | D | None:
        """The value under `key` (now the most recent), or `default` when there is none."""
        try:
            self._items.move_to_end(key)
        except KeyError:
            return default
        return self._items[key]

    def __setitem__(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)
