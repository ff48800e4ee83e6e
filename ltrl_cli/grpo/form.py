"""What a rollout may be: the total-length cut and the train script's ill-formed rules.

The authors' trainer gives a completion reward 0, without asking the reward server, when
it is not a clean single turn of a thinking model (METHOD.md, "Trainer"). ltrl checks the
same things on the completion's token ids:

- `truncated`: it does not end with a stop token (it ran into max_completion_length or
  max_total_length);
- `wrong_stop`: it ended with a stop token other than the model's end-of-turn token
  (Qwen3 stopping on `<|endoftext|>` instead of `<|im_end|>`);
- `think_count`: not exactly one `</think>` (thinking models only);
- `empty_reasoning`, `empty_content`: nothing before or after the `</think>`;
- `special_token`: a special token (`<|im_start|>`, `<|im_end|>`, `<|endoftext|>`, ...)
  left inside the final content.

Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ltrl_cli.reward import rules as R
from ltrl_cli.think import THINK_CLOSE, THINK_OPEN

REASONS = ("truncated", "wrong_stop", "think_count", "empty_reasoning", "empty_content", "special_token")


@dataclass(frozen=True)
class StopTokens:
    """The ids that end a completion, and the one that ends it well."""

    end_of_turn: int | None  # the tokenizer's eos token: <|im_end|> for Qwen3 chat models
    stops: frozenset[int]  # every id generation stops on (TRL's eos ids, the pad id)
    special: tuple[str, ...]  # special-token strings that must not appear in the content

    @classmethod
    def of(cls, tokenizer: Any, stop_ids: set[int] | None = None) -> StopTokens:
        """The stop rules of a tokenizer; `stop_ids` are the trainer's (default: eos and pad)."""
        eos = tokenizer.eos_token_id
        stops = stop_ids if stop_ids is not None else {eos, getattr(tokenizer, "pad_token_id", None)}
        # <think> and </think> are ordinary text to the method, even where a tokenizer marks them special.
        special = tuple(t for t in getattr(tokenizer, "all_special_tokens", ()) or ()
                        if t not in (THINK_OPEN, THINK_CLOSE))
        return cls(eos, frozenset(i for i in stops if i is not None), special)


def problems(ids: Sequence[int], raw_text: str, stop: StopTokens, *, thinking: bool = True) -> list[str]:
    """Why a completion is ill-formed (empty list: it is well formed).

    `ids` are the completion's token ids; `raw_text` is their decoding with special tokens
    kept and without the final stop token.

    >>> rules = StopTokens(end_of_turn=2, stops=frozenset({1, 2}), special=("<|im_end|>",))
    >>> problems([5, 2], "hm</think>Paris", rules)
    []
    >>> problems([5, 1], "hm</think>Paris<|im_end|>", rules)
    ['wrong_stop', 'special_token']
    >>> problems([5, 5], "hm</think></think>", rules)
    ['truncated', 'think_count', 'empty_content']
    """
    found = []
    if not ids or ids[-1] not in stop.stops:
        found.append("truncated")
    elif stop.end_of_turn is not None and ids[-1] != stop.end_of_turn:
        found.append("wrong_stop")
    parts = R.split_response(raw_text, thinking=thinking)
    if thinking and parts.think_closes != 1:
        found.append("think_count")
    if thinking and not parts.reasoning:
        found.append("empty_reasoning")
    if not parts.content:
        found.append("empty_content")
    elif any(token in parts.content for token in stop.special):
        found.append("special_token")
    return found


def cut_to_total(prompt_ids: Sequence[Sequence[int]], completion_ids: list[list[int]],
                 logprobs: list[list[float]] | None, total: int) -> tuple[list[list[int]], list | None, int]:
    """Cut each completion where prompt + completion reaches `total` tokens.

    The train script gives each rollout min(max_completion_length, total - prompt length)
    new tokens. TRL has one limit for every prompt, so the completion is generated up to
    max_completion_length and cut here: what is trained on, and its reward (a cut
    completion has no stop token: it is truncated), are what a per-prompt limit gives.
    Returns the completions, their log-probabilities (cut alike) and how many were cut.

    >>> cut_to_total([[0] * 6, [0] * 2], [[1, 2, 3], [1, 2, 3]], [[.1, .2, .3], [.1, .2, .3]], 8)
    ([[1, 2], [1, 2, 3]], [[0.1, 0.2], [0.1, 0.2, 0.3]], 1)
    """
    if len(prompt_ids) != len(completion_ids):
        raise ValueError(f"{len(prompt_ids)} prompts but {len(completion_ids)} completions")
    cut = 0
    out_ids, out_logprobs = [], [] if logprobs is not None else None
    for i, (prompt, ids) in enumerate(zip(prompt_ids, completion_ids)):
        room = max(total - len(prompt), 0)
        cut += len(ids) > room
        out_ids.append(list(ids[:room]))
        if logprobs is not None:
            out_logprobs.append(list(logprobs[i][:room]))
    return out_ids, out_logprobs, cut
