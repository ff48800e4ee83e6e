"""Fit a prompt into `--max-context` tokens by cutting its middle, as LongBench v2's own
script does: keep the first half and the last half of the token budget.

The question and the instructions sit at the two ends of a long-context prompt and the
bulk of the documents in the middle, so the middle is what can go. A multi-turn chat
(MRCR) is cut the same way on the conversation: whole turns are dropped from the middle,
in user/assistant pairs so the turns still alternate, and the final request is kept.

Tokenizers come from `ltrl_cli.backends.tokenize` (`tiktoken:<encoding>`, a
`tokenizer.json`, or a Hugging Face tokenizer folder); only its `encode` and `prefix`
are used, so the cut falls on token boundaries without a decode round trip.
"""

from __future__ import annotations

from typing import Any, Protocol


class Cutter(Protocol):
    name: str

    def encode(self, text: str) -> list[int]: ...

    def prefix(self, text: str, max_tokens: int) -> str: ...


def cut_middle(text: str, tokenizer: Cutter, budget: int) -> tuple[str, int]:
    """(text cut to `budget` tokens, keeping the first and last halves; its original count).

    >>> class Chars:
    ...     name = "chars"
    ...     def encode(self, text): return list(text)
    ...     def prefix(self, text, n): return text[:n]
    >>> cut_middle("abcdefghij", Chars(), 4)
    ('abij', 10)
    >>> cut_middle("abc", Chars(), 4)
    ('abc', 3)
    """
    total = len(tokenizer.encode(text))
    if total <= budget:
        return text, total
    head = budget // 2
    tail = budget - head
    # The tail starts where the first (total - tail) tokens end.
    tail_start = len(tokenizer.prefix(text, total - tail))
    return tokenizer.prefix(text, head) + text[tail_start:], total


def fit_messages(messages: list[dict[str, Any]], tokenizer: Cutter, budget: int) -> tuple[list[dict], dict]:
    """Messages cut to `budget` tokens of content, and a record of what was done.

    The count is over message contents (the chat template's few tokens per turn are the
    caller's margin). One message is cut in its middle; a conversation loses whole turns
    from its middle. Long prompts are encoded three times in all (count, head, tail): at
    128K tokens that is the cost that matters.
    """
    info: dict[str, Any] = {"tokenizer": tokenizer.name, "max_context": budget}
    if len(messages) == 1:
        text, total = cut_middle(str(messages[0].get("content") or ""), tokenizer, budget)
        info.update(tokens=total, truncated=total > budget)
        if total <= budget:
            return messages, info
        info["kept_tokens"] = budget
        return [{**messages[0], "content": text}], info
    counts = [len(tokenizer.encode(str(m.get("content") or ""))) for m in messages]
    info.update(tokens=sum(counts), truncated=sum(counts) > budget)
    if sum(counts) <= budget:
        return messages, info
    fitted, kept = _drop_middle_turns(messages, counts, budget)
    info.update(dropped_messages=len(messages) - len(fitted), kept_tokens=kept)
    return fitted, info


def _drop_middle_turns(messages: list[dict], counts: list[int], budget: int) -> tuple[list[dict], int]:
    # Keep a leading system turn and the final request; drop (user, assistant) pairs
    # from the middle of what lies between until the rest fits.
    first = 1 if messages[0].get("role") == "system" else 0
    keep = list(range(len(messages)))
    total = sum(counts)
    while total > budget:
        body = keep[first:-1]
        if len(body) < 2:
            break
        middle = len(body) // 2
        middle -= middle % 2  # an even offset keeps each (user, assistant) pair together
        for index in body[middle:middle + 2]:
            keep.remove(index)
            total -= counts[index]
    return [messages[i] for i in keep], total
