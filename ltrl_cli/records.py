"""The record layouts each stage reads and adds (documentation as types).

Every record carries a stable `id`; every stage passes unknown keys through and adds its
own. Nested keys are namespaced by stage.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class Hop(TypedDict):
    id: str  # page id
    title: str
    anchor: NotRequired[dict[str, Any]]  # {"text", "paragraph_id", "paragraph"} of the link followed into this page


class WalkRecord(TypedDict):
    """`ltrl walk` output."""

    id: str
    path: list[Hop]  # hops + 1 pages: the start and each page a link led to
    walk: dict[str, Any]  # {"seed", "hops", "start"}
