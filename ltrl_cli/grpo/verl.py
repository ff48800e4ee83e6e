"""The method's reward as verl reward functions, for data from `ltrl export --format verl`.

verl loads a reward function from a file (`custom_reward_function.path` / `.name`) and
passes `custom_reward_function.reward_kwargs` to every call. This file is that file:

    python -c "import ltrl_cli.grpo.verl as m; print(m.__file__)"    # its path

Two entry points, for verl's two ways of calling:

- `compute_score(data_source, solution_str, ground_truth, extra_info)`: one response,
  called by verl's per-sample reward managers (`naive`, the default of verl 0.9's reward
  loop). One response cannot see its group: the reward combines the outcome with the raw
  rubric recall (no group-max normalisation), as `ltrl grpo`'s reward function does when
  called on its own.
- `compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos)`: a whole
  batch, called by verl's `batch` reward manager. verl repeats each prompt n times in a
  row, so consecutive responses with the same `extra_info.id` are one group, shaped as
  `ltrl score` shapes a group: rubric / group max, then the combination.

reward_kwargs (all optional) are `ltrl grpo` settings: `judge` (exact | contains | llm),
`judge_base_url`, `judge_model`, `judge_api_key_env`, `judge_concurrency`, `reward_mode`,
`alpha`, `rubric_on`, `thinking`; plus `on_judge_error`: `error` (default: a verdict
that cannot be obtained stops the step with its cause, never a silent 0) or `zero` (score
0 and count it in the `judge_error` column).

verl decodes responses without special tokens, so the stop token is not visible here:
the ill-formed rule of `ltrl grpo` (`punish_ill_formed`) has no counterpart; the
`</think>` and content rules of the reward still apply.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

from ltrl_cli.errors import BackendError, UsageError
from ltrl_cli.grpo import shaping
from ltrl_cli.grpo.config import GrpoSettings, merge
from ltrl_cli.reward import rules as R

ON_JUDGE_ERROR = ("error", "zero")
# What verl's reward loop adds to the call when a reward model is also configured; not ours.
VERL_OWN = ("reward_router_address", "reward_model_tokenizer")


def compute_score(data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None,
                  **reward_kwargs: Any) -> dict[str, Any]:
    """One response's reward, with the raw rubric recall (no group).

    >>> compute_score("longqa", "<think>hm</think>Paris, France", "Paris", {"rubrics": ["France", "Seine"]},
    ...               judge="contains")["score"]
    0.85
    """
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], group=False,
                               **reward_kwargs)[0]


def compute_score_batch(data_sources: Sequence[str], solution_strs: Sequence[str], ground_truths: Sequence[str],
                        extra_infos: Sequence[dict | None], *, group: bool = True,
                        **reward_kwargs: Any) -> list[dict[str, Any]]:
    """Rewards for a batch; consecutive responses with the same `extra_info.id` form a group.

    >>> [r["score"] for r in compute_score_batch(
    ...     ["longqa"] * 2, ["</think>Paris, France", "</think>Paris"], ["Paris"] * 2,
    ...     [{"id": "q1", "rubrics": ["France", "Seine"]}] * 2, judge="contains")]
    [1.0, 0.7]
    """
    settings, judge, on_error = _setup(reward_kwargs)
    infos = [info or {} for info in extra_infos]
    verdicts = shaping.judge_outcomes(
        judge, solution_strs, [str(g) for g in ground_truths], [i.get("question") for i in infos],
        thinking=settings.thinking, concurrency=settings.judge_concurrency,
    )
    scored = [shaping.Scored(text, v.outcome, False, _rubrics(info), v.error, str(info.get("id", "")))
              for text, v, info in zip(solution_strs, verdicts, infos)]
    failed = [c for c in scored if c.outcome is None]
    if failed and on_error == "error":
        raise BackendError(f"the judge gave no verdict for {len(failed)} of {len(scored)} responses "
                           f"({failed[0].judge_error}); reward_kwargs on_judge_error: zero scores them 0")
    scored = [c if c.outcome is not None else _zero(c) for c in scored]
    how = {"mode": settings.reward_mode, "alpha": settings.alpha, "rubric_on": settings.rubric_on,
           "thinking": settings.thinking}
    if group:
        rewards = [r for run in _runs(scored) for r in shaping.shape_batch(run, len(run), **how)]
    else:
        rewards = [R.score_response(c.text, c.outcome, c.rubrics, **how) for c in scored]
    return [_row(r, c) for r, c in zip(rewards, scored)]


def _zero(c: shaping.Scored) -> shaping.Scored:
    from dataclasses import replace

    return replace(c, outcome=0.0)


def _row(reward: R.Reward, c: shaping.Scored) -> dict[str, Any]:
    """verl's reward dict: `score`, plus columns it logs (numbers only)."""
    return {
        "score": float(reward.reward),
        "outcome_reward": float(reward.outcome_reward),
        "rubric_reward": float(reward.rubric_reward),
        "rubric_reward_normalized": float(reward.rubric_reward_normalized
                                          if reward.rubric_reward_normalized is not None else reward.rubric_reward),
        "malformed": float(reward.malformed),
        "judge_error": float(c.judge_error is not None),
    }


def _runs(scored: list[shaping.Scored]) -> list[list[shaping.Scored]]:
    """Consecutive runs of the same prompt id (verl lays each prompt's n responses in a row)."""
    runs: list[list[shaping.Scored]] = []
    for c in scored:
        if runs and runs[-1][0].prompt_id == c.prompt_id and c.prompt_id:
            runs[-1].append(c)
        else:
            runs.append([c])
    return runs


def _rubrics(info: dict) -> list[str]:
    rubrics = info.get("rubrics")
    if rubrics is None:
        return []
    if isinstance(rubrics, str) or not all(isinstance(r, str) for r in rubrics):
        raise UsageError("extra_info.rubrics must be a list of entity names (ltrl export --format verl writes it)")
    return list(rubrics)  # parquet hands back a numpy array


def _setup(reward_kwargs: dict[str, Any]) -> tuple[GrpoSettings, Any, str]:
    """The settings, the judge and the judge-error rule that reward_kwargs ask for."""
    kwargs = {k: v for k, v in reward_kwargs.items() if k not in VERL_OWN}
    on_error = kwargs.pop("on_judge_error", "error")
    if on_error not in ON_JUDGE_ERROR:
        raise UsageError(f"reward_kwargs on_judge_error: expected error or zero, got {on_error!r}")
    settings, judge = _built(tuple(sorted(kwargs.items())))
    return settings, judge, on_error


@lru_cache(maxsize=8)
def _built(items: tuple) -> tuple[GrpoSettings, Any]:
    """One judge per process and settings (verl calls once per response or batch)."""
    from ltrl_cli.grpo.recipe import build_judge

    settings = merge(GrpoSettings(), dict(items))
    return settings, build_judge(settings)
