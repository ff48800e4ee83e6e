"""The one `<think>` splitter: a reasoning model's text -> (reasoning, content).

The rule (METHOD.md, the authors' release): cut at a `</think>`; the reasoning is the part
before it less a leading `<think>`, stripped; the content is the part after it, stripped.
Two choices vary by consumer, and are arguments rather than copies of the function:

- `at`: which `</think>` to cut at. "last" (the default) keeps any stray `</think>` in the
  reasoning, which is what a reader of the final answer wants (the model backends,
  `ltrl score`, `ltrl grpo`); "first" is the authors' reward server in response mode.
- `unclosed`: what a text without `</think>` is. "content" (the default: a model that does
  not think, and the authors' server), "reasoning" (a reasoning model that never finished
  thinking: no final content), or "opened" (reasoning only when the text opens with
  `<think>`: what a model backend sees when generation stopped mid-thought).

The functions here never copy the reasoning unless asked: on ~32K-token responses whose
rubric is searched in the final content only, copying and stripping the reasoning cost more
than the search (issue 17).

Ground floor: no ltrl imports, so model clients and reward rules can both stand on it.
"""

from __future__ import annotations

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
AT = ("first", "last")
UNCLOSED = ("content", "reasoning", "opened")


def think_cut(text: str, at: str = "last") -> int:
    """Index of the `</think>` the split happens at, or -1 when the text has none.

    >>> think_cut("a</think>b</think>c"), think_cut("a</think>b</think>c", "first"), think_cut("abc")
    (10, 1, -1)
    """
    if at == "last":
        return text.rfind(THINK_CLOSE)
    if at == "first":
        return text.find(THINK_CLOSE)
    raise ValueError(f"at must be one of {', '.join(AT)}, got {at!r}")


def reasoning_of(head: str) -> str:
    """The reasoning from the text before the cut: a leading `<think>` removed, then stripped.

    >>> reasoning_of("<think>\\n  Paris is in France\\n")
    'Paris is in France'
    """
    return head.removeprefix(THINK_OPEN).strip()


def is_unclosed_reasoning(text: str, unclosed: str) -> bool:
    """Whether a text without `</think>` counts as all reasoning under the `unclosed` rule."""
    if unclosed == "content":
        return False
    if unclosed == "reasoning":
        return True
    if unclosed == "opened":
        return text.lstrip().startswith(THINK_OPEN)
    raise ValueError(f"unclosed must be one of {', '.join(UNCLOSED)}, got {unclosed!r}")


def content_of(text: str, *, at: str = "last", unclosed: str = "content") -> str:
    """Only the final content (the reasoning is never copied).

    >>> content_of("<think>long thought</think>  Paris "), content_of("no tags"), content_of("<think>x", unclosed="opened")
    ('Paris', 'no tags', '')
    """
    cut = think_cut(text, at)
    if cut >= 0:
        return text[cut + len(THINK_CLOSE):].strip()
    return "" if is_unclosed_reasoning(text, unclosed) else text.strip()


def split_think(text: str, *, at: str = "last", unclosed: str = "content") -> tuple[str | None, str]:
    """(reasoning, content); reasoning is None when the text holds no reasoning at all.

    >>> split_think("<think>hmm</think> Paris")
    ('hmm', 'Paris')
    >>> split_think("Paris")
    (None, 'Paris')
    >>> split_think("<think>still thinking", unclosed="opened")
    ('still thinking', '')
    >>> split_think("a</think>b</think>c"), split_think("a</think>b</think>c", at="first")
    (('a</think>b', 'c'), ('a', 'b</think>c'))
    """
    cut = think_cut(text, at)
    if cut >= 0:
        return reasoning_of(text[:cut]), text[cut + len(THINK_CLOSE):].strip()
    if is_unclosed_reasoning(text, unclosed):
        return reasoning_of(text.lstrip()), ""
    return None, text.strip()
