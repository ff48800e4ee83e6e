"""Rewards for GRPO from `ltrl_cli.reward.rules`, in two halves split by the cross-rank gather.

A group of G completions of one prompt can be spread over several ranks, so the reward is
computed in two passes:

1. on each rank, for its own completions (`judge_outcomes`): the outcome verdict, the one
   expensive part (an LLM judge call), so the ranks share that work;
2. after every rank's completions are gathered, on every rank alike (`shape_batch`): the
   group shaping of `rewards.score_group` (rubric recall, group-max normalisation, the
   combination), over whole groups, so a split group is shaped exactly as on one rank.

With `punish_ill_formed` (the train script's rule, form.py) an ill-formed completion is not
judged: it scores 0 and enters its group's rubric maximum as 0.

Nothing here imports torch; the trainer (trainer.py) does the gathering.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

from ltrl_cli.reward import rules as R
from ltrl_cli.reward.judge import Judge, Verdict
from ltrl_cli.grpo import form


@dataclass
class Scored:
    """One completion as its rank saw it: what crosses the gather."""

    text: str
    outcome: float | None  # the judge's verdict; None: none could be obtained
    truncated: bool  # generation hit max_completion_length
    rubrics: list[str]
    judge_error: str | None = None
    prompt_id: str | None = None
    ill_formed: tuple[str, ...] = ()  # form.REASONS that hold; non-empty: reward 0, not judged


def judge_outcomes(
    judge: Judge,
    texts: Sequence[str],
    labels: Sequence[str],
    questions: Sequence[str | None],
    *,
    thinking: bool = True,
    concurrency: int = 32,
    skip: Sequence[bool] | None = None,
) -> list[Verdict]:
    """Judge each completion's final content against its label (this rank's share).

    A completion with no final content, or one marked in `skip` (ill-formed), is not sent
    to the judge: the method scores it 0.

    >>> from ltrl_cli.reward.judge import make_judge
    >>> [v.correct for v in judge_outcomes(make_judge("exact"), ["</think>Paris", "</think>Rome", "..."],
    ...                                    ["paris"] * 3, [None] * 3)]
    [True, False, False]
    """
    from ltrl_cli.concurrency import bounded_map

    parts = [R.split_response(t, thinking=thinking) for t in texts]

    async def one(i: int) -> Verdict:
        if parts[i].empty_content or (skip is not None and skip[i]):
            return Verdict(correct=False, error=None, answer="")
        return await judge.judge(questions[i], parts[i].content, labels[i])

    return list(bounded_map(one, range(len(texts)), concurrency=concurrency))


def shape_batch(
    batch: Sequence[Scored],
    group_size: int,
    *,
    mode: str = R.DEFAULT_MODE,
    alpha: float = R.DEFAULT_ALPHA,
    rubric_on: str = "content",
    thinking: bool = True,
) -> list[R.Reward]:
    """Score a gathered batch, group by group (groups are consecutive runs of `group_size`).

    >>> items = [Scored("</think>a b", 1.0, False, ["a", "b"]), Scored("</think>a", 1.0, False, ["a", "b"]),
    ...          Scored("</think>b", None, False, ["x"]), Scored("</think>x", 0.0, False, ["x"])]
    >>> [r.reward for r in shape_batch(items, 2)]
    [1.0, 0.85, None, 0.0]
    """
    if len(batch) % group_size:
        raise ValueError(f"a batch of {len(batch)} completions does not split into groups of {group_size}")
    out: list[R.Reward] = []
    for start in range(0, len(batch), group_size):
        out += _shape_group(batch[start:start + group_size], mode=mode, alpha=alpha, rubric_on=rubric_on,
                            thinking=thinking)
    return out


def _shape_group(group: Sequence[Scored], **how: Any) -> list[R.Reward]:
    """One group: the well-formed completions shaped together, the ill-formed ones 0.

    An ill-formed completion enters the rubric maximum as 0, which never raises a maximum
    of recalls (all >= 0): shaping the well-formed ones alone gives the same numbers.
    """
    def score(items: Sequence[Scored]) -> list[R.Reward]:
        if not items:
            return []
        return R.score_group([c.text for c in items], [c.outcome for c in items], group[0].rubrics,
                             truncated=[c.truncated for c in items], **how)

    good = [c for c in group if not c.ill_formed]
    bad = [c for c in group if c.ill_formed]
    shaped = iter(score(good))
    zeroed = iter(replace(r, reward=0.0, outcome_reward=0.0, rubric_reward=0.0, rubric_reward_normalized=0.0,
                          excluded=False) for r in score([replace(c, outcome=0.0) for c in bad]))
    return [next(zeroed) if c.ill_formed else next(shaped) for c in group]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def batch_metrics(rewards: Sequence[R.Reward], batch: Sequence[Scored] = ()) -> dict[str, float | None]:
    """Means over one gathered batch; excluded completions count only in `excluded`.

    >>> batch = [Scored("</think>a", 1.0, True, ["a"]), Scored("</think>b", None, False, ["a"])]
    >>> m = batch_metrics(shape_batch(batch, 2), batch)
    >>> m["outcome_accuracy"], m["excluded"], m["excluded_fraction"], m["truncated_fraction"], m["ill_formed"]
    (1.0, 1.0, 0.5, 0.5, 0.0)
    """
    kept = [r for r in rewards if not r.excluded]
    n = max(len(rewards), 1)
    ill = sum(bool(c.ill_formed) for c in batch)
    return {
        "judge_errors": float(sum(c.judge_error is not None for c in batch)),  # excluded, or scored 0 (on_judge_error)
        "ill_formed": float(ill),  # scored 0 by the train script's rule (punish_ill_formed)
        "ill_formed_fraction": ill / n,
        "reward": _mean([r.reward for r in kept]),
        "outcome_accuracy": _mean([r.outcome_reward for r in kept]),
        "rubric_reward": _mean([r.rubric_reward for r in rewards]),
        "rubric_reward_normalized": _mean([r.rubric_reward_normalized for r in kept]),
        "excluded": float(len(rewards) - len(kept)),
        "excluded_fraction": (len(rewards) - len(kept)) / n,
        "malformed_fraction": sum(r.malformed for r in rewards) / n,
        "truncated_fraction": sum(r.truncated for r in rewards) / n,
        "empty_content_fraction": sum(r.empty_content for r in rewards) / n,
    }


def reward_rows(step: int, batch: Sequence[Scored], rewards: Sequence[R.Reward], group_size: int) -> list[dict[str, Any]]:
    """One record per scored completion, for OUTDIR/rewards/rank-<r>.jsonl."""
    return [
        {"step": step, "index": i, "group": i // group_size, "prompt_id": c.prompt_id, "text": c.text,
         "outcome": c.outcome, "judge_error": c.judge_error, "ill_formed": list(c.ill_formed), **r.to_dict()}
        for i, (c, r) in enumerate(zip(batch, rewards))
    ]


class LtrlReward:
    """The reward function TRL holds: the method's reward for a completion on its own.

    TRL needs at least one reward function (it names the `rewards/ltrl/*` metrics after
    it). In training, `LtrlGRPOTrainer` does not call it but uses `local_scores` and the
    group shaping; called directly, it returns the ungrouped reward of each completion
    (`rewards.score_response`: raw rubric recall, as the paper's reward server answers).
    """

    __name__ = "ltrl"

    def __init__(self, settings: Any, judge: Judge, tokenizer: Any):
        self.settings = settings
        self.judge = judge
        self.tokenizer = tokenizer
        self.stop_ids = {i for i in (tokenizer.eos_token_id, tokenizer.pad_token_id) if i is not None}

    def local_scores(self, inputs: list[dict], completion_ids: list[list[int]],
                     stop_ids: set[int] | None = None, *, punish: bool = False) -> list[Scored]:
        """Decode, judge and flag this rank's completions.

        `stop_ids`: the token ids that end a completion (the trainer knows the model's
        full list); a completion that does not end with one was cut by the length limit.
        `punish`: apply the ill-formed rules (training; evaluation scores every completion).
        """
        stops = stop_ids if stop_ids is not None else self.stop_ids
        texts, truncated = self.decode(completion_ids, stops)
        ill = self.ill_formed(completion_ids, stops) if punish else [()] * len(texts)
        verdicts = judge_outcomes(
            self.judge, texts, [x["label"] for x in inputs], [x.get("question") for x in inputs],
            thinking=self.settings.thinking, concurrency=self.settings.judge_concurrency, skip=[bool(r) for r in ill],
        )
        zero = self.settings.on_judge_error == "zero"  # the authors' server: no verdict scores 0
        return [
            Scored(text, 0.0 if bad or (zero and v.outcome is None) else v.outcome, trunc, list(x["rubrics"]),
                   None if bad else v.error, x.get("prompt_id"), bad)
            for text, v, trunc, x, bad in zip(texts, verdicts, truncated, inputs, ill)
        ]

    def decode(self, completion_ids: list[list[int]], stops: set[int]) -> tuple[list[str], list[bool]]:
        """The completions' texts, and whether each was cut (it does not end with a stop token).

        Decoded here: TRL may have parsed reasoning out of its text, and the method splits
        the raw text at its last </think>."""
        texts = self.tokenizer.batch_decode(completion_ids, skip_special_tokens=True)
        return texts, [not ids or ids[-1] not in stops for ids in completion_ids]

    def ill_formed(self, completion_ids: list[list[int]], stops: set[int]) -> list[tuple[str, ...]]:
        """The form.problems of each completion, read with its special tokens kept."""
        rules = form.StopTokens.of(self.tokenizer, stops)
        # Without the final stop token: what is left must be reasoning, </think>, content.
        bodies = [ids[:-1] if ids and ids[-1] in rules.stops else ids for ids in completion_ids]
        raw = self.tokenizer.batch_decode(bodies, skip_special_tokens=False)
        return [tuple(form.problems(ids, text, rules, thinking=self.settings.thinking))
                for ids, text in zip(completion_ids, raw)]

    def __call__(self, prompts, completions, completion_ids, **columns) -> list[float | None]:
        keys = [k for k in ("label", "rubrics", "question", "prompt_id") if k in columns]
        inputs = [{k: columns[k][i] for k in keys} for i in range(len(completion_ids))]
        s = self.settings
        return [
            R.score_response(c.text, c.outcome, c.rubrics, mode=s.reward_mode, alpha=s.alpha, rubric_on=s.rubric_on,
                             truncated=c.truncated, thinking=s.thinking).reward
            for c in self.local_scores(inputs, completion_ids)
        ]
