"""The record layouts each stage reads and adds (documentation as types).

Every record carries a stable `id`; every stage passes unknown keys through and adds its
own. Nested keys are namespaced by stage.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class Hop(TypedDict):
    id: str  # page id
    title: str
    # {"text", "paragraph_id", "paragraph"[, "inferred": true]} of the link followed into this page;
    # "inferred": the link was found from a title mention (ltrl index --link-mentions)
    anchor: NotRequired[dict[str, Any]]


class WalkRecord(TypedDict):
    """`ltrl walk` output."""

    id: str
    path: list[Hop]  # hops + 1 pages: the start and each page a link led to
    walk: dict[str, Any]  # {"seed", "hops", "start"}


class ResponseReward(TypedDict):
    """One response's reward, as `ltrl score` writes it (see ltrl_cli.reward.rules.Reward)."""

    reward: float | None  # None: no verdict (excluded; never scored as 0)
    outcome_reward: float | None  # 1.0 / 0.0 from the judge; 0.0 when the response has no final content
    rubric_reward: float  # fraction of gold entities found (raw)
    rubric_reward_normalized: float | None  # divided by the group's max (when > 0)
    malformed: bool  # not exactly one `</think>`
    truncated: bool
    excluded: bool
    empty_content: bool
    judge: dict[str, Any]  # {"name", "correct", "answer", "attempts", "raw"?} or {"name", "skipped"}
    judge_error: NotRequired[str]


class ScoredGroup(TypedDict):
    """`ltrl score` output for a group per line (one-response lines get `reward` instead)."""

    id: str
    label: str
    rubrics: list[str]
    responses: list[str]
    rewards: list[ResponseReward]
    score: dict[str, Any]  # {"mode", "alpha", "rubric_on", "judge", "judge_model"?}


class GrpoStepRecord(TypedDict):
    """`ltrl grpo` stdout: one line per optimizer step, from rank 0 (means over the step's batch)."""

    step: int
    epoch: float | None
    loss: float | None
    grad_norm: float | None
    learning_rate: float | None
    entropy: float | None
    reward: float | None  # mean shaped reward over the scored (not excluded) completions
    reward_std: float | None
    frac_reward_zero_std: float | None  # groups whose rewards are all equal (no learning signal)
    outcome_accuracy: float | None  # mean outcome over the scored completions
    rubric_reward: float | None  # mean raw rubric recall
    rubric_reward_normalized: float | None  # mean after the group-max normalisation
    excluded: float | None  # completions without a verdict: zero advantage, counted here
    excluded_fraction: float | None
    malformed_fraction: float | None
    truncated_fraction: float | None
    empty_content_fraction: float | None
    completion_length_mean: float | None  # tokens
    completion_length_min: float | None
    completion_length_max: float | None
    clip_fraction: float | None  # tokens whose ratio was clipped (low or high)
    clip_fraction_low: float | None
    clip_fraction_high: float | None
    tokens: float | None  # prompt + completion tokens seen so far, all ranks
    step_time_s: float  # wall time of the step: generation, reward and update
    tokens_per_s: float | None  # (prompt + completion) tokens of this step / step_time_s, all ranks
    tokens_per_s_per_device: float | None
    world_size: int


class EvalSample(TypedDict):
    """One sampled response of `ltrl eval`, graded."""

    index: int
    seed: int
    response: str  # `<think>reasoning</think>content` as the model wrote it (reasoning dropped with --drop-reasoning)
    content: str  # the final answer: the text after the last `</think>` ("" when thinking never finished)
    extracted: str | None  # the letter or answer the grader read
    score: float | None  # in [0, 1]; None: no judge verdict (left out of the mean)
    judge: dict[str, Any] | None  # {"correct", "error", "raw", "attempts", "model", "prompt"} (AA-LCR, FRAMES)
    metrics: dict[str, float]  # secondary metrics (FRAMES: substring_match)
    finish_reason: str | None
    truncated: bool
    completion_tokens: int | None
    prompt_tokens: int | None
    cached: bool
    rule: NotRequired[str | None]  # LongBench v2: "official" or "tolerant" extraction
    has_prefix: NotRequired[bool]  # MRCR: the response starts with the random string


class EvalRecord(TypedDict):
    """`ltrl eval` output: one benchmark question, its K graded samples and their mean."""

    id: str
    benchmark: str  # aa-lcr, mrcr, frames, longbench-v2, longreason
    question: str | None
    gold: str
    grading: dict[str, Any]  # what else grading needs (MRCR: random_string_to_prepend; LongReason: letters)
    buckets: dict[str, str]  # breakdown key -> bucket (difficulty, length, needles, category...)
    prompt: dict[str, Any]  # {"truncated", "tokenizer"?, "max_context"?, "tokens"?, "kept_tokens"?, ...}
    model: NotRequired[dict[str, Any]]  # {"backend", "model", "sampling": {...}}
    samples: list[EvalSample]
    score: float | None  # mean over graded samples
    metrics: dict[str, float]
    graded: int


class PlacedDoc(TypedDict):
    """One document of an assembled context (`metadata.docs`)."""

    id: str  # page id
    title: str
    tier: str  # gold, tier1, tier2, search, random
    tokens: int  # tokens of its text and the blank line after it
    truncated: bool  # cut at a token boundary to fill the budget
    span: list[int]  # [start, end) characters of its block in the user message


class TrainingRecord(TypedDict):
    """`ltrl assemble` output: the released dataset's layout (slime)."""

    id: str
    source: str  # "longqa"
    input_messages: list[dict[str, str]]  # one user turn: documents, then the question
    label: str  # the gold answer
    metadata: dict[str, Any]  # rubrics, question, extra_reward_info (RewardInfo), docs (list[PlacedDoc]), tokens, ...


class RewardInfo(TypedDict):
    """`metadata.extra_reward_info`: what the authors' slime rollout hands the reward server.

    The rollout adds `rubric_reward_ratio` (eta; 0 in evaluation) and the two
    `rubric_use_*` switches itself, unless the record already holds them, so the data
    leaves them out.
    """

    question: str
    rubrics: list[str]
    dataset_name: str  # "longqa"; "longrlvr" would switch the server to its chunk-id F-beta rule


class AgentStep(TypedDict):
    """One action of a search-agent rollout."""

    turn: int  # the model turn it came from (a turn may carry several actions)
    action: str  # search, open, cite, answer; or the unknown name / "none" when malformed
    arguments: dict[str, Any]
    result_ids: list[str]  # search: the hits; open: the id read; cite: the ids accepted
    error: NotRequired[str]  # why the action was refused (the model saw it as an observation)
    reasoning: NotRequired[str]  # the turn's thinking, on its first step (--keep-think)


class Rollout(TypedDict):
    """One of the K rollouts `ltrl search-agent` adds under `rollouts`."""

    index: int
    seed: int
    steps: list[AgentStep]
    seen: list[str]  # every id shown in search results
    opened: list[str]  # subset of seen (unless --allow-open-any)
    cited: list[str]  # subset of opened
    answer: str | None
    stop: str  # answered, step_budget, token_budget, context_budget, error
    turns: int
    tokens: dict[str, int]  # {"prompt", "completion"} (estimated for offline policies)
    cached_turns: int  # turns answered from the response cache
    time_s: float
    correct: bool | None  # None: the rollout failed, or the judge gave no verdict
    judge: dict[str, Any]  # {"name", "answer"?, "error"?, "raw"?, "attempts"?, "skipped"?}
    error: NotRequired[str]  # the endpoint's failure after retries (stop == "error")


class Tiers(TypedDict):
    """`ltrl tier` adds `tiers`: page ids, most-visited first, the three lists disjoint."""

    gold: list[str]  # the chain's pages, then pages cited by correct rollouts
    tier1: list[str]  # opened by correct rollouts, not cited, not gold
    tier2: list[str]  # seen by correct rollouts, never opened, not gold
    solved: bool  # False only with --keep-unsolved
    rollouts_used: int


class SynthCheck(TypedDict):
    """One check of a synthesised question (shortcut adds `top_hit`, the title search put first)."""

    passed: bool
    top_hit: NotRequired[str | None]


class SynthInfo(TypedDict):
    """`ltrl synth` adds `synth` (and `question`, `answer`, `gold_entities` when it wrote a question)."""

    backend: str  # openai, vllm, hf, template
    model: str  # the served model, or "template (offline question writer, not an LLM)"
    accepted: bool
    reason: NotRequired[str]  # why not: a failed check's name, unparseable, no_attribute, request_rejected, page_missing, short_path
    checks: NotRequired[dict[str, SynthCheck]]  # answer_in_page, answer_not_in_question, final_entity_hidden, shortcut?
    final_entity: NotRequired[str]  # the title of the last page, whose attribute is the answer
    attempts: int  # model calls made (2 when the first answer's JSON could not be read)
    cached: bool  # every call was answered from the response cache
    gold_source: NotRequired[str]  # LLM writers: "model" (the entities it named) or "chain" (it named none)
    attribute: NotRequired[str]  # template: the attribute line asked about, or "cloze"
    reasoning: NotRequired[str]  # with --keep-think
    error: NotRequired[str]  # request_rejected: the endpoint's message


def reward_info(question: str, rubrics: list[str], dataset_name: str = "longqa") -> RewardInfo:
    """A training record's `metadata.extra_reward_info` (assemble and export write the same).

    >>> reward_info("Who?", ["A"])
    {'question': 'Who?', 'rubrics': ['A'], 'dataset_name': 'longqa'}
    """
    return {"question": question, "rubrics": list(rubrics), "dataset_name": dataset_name}


def path_ids(record: dict) -> list[str]:
    """The page ids of a record's chain (`path` hops are {"id", ...} or bare ids).

    >>> path_ids({"path": [{"id": 3, "title": "A"}, "7"]})
    ['3', '7']
    """
    ids = []
    for hop in record.get("path") or []:
        value = hop.get("id") if isinstance(hop, dict) else hop
        if value is not None:
            ids.append(str(value))
    return ids


def unique_ids(ids) -> list[str]:
    """Ids as strings, each once, in the order first seen (rank order is kept).

    >>> unique_ids([3, "3", "1", None])
    ['3', '1']
    """
    return list(dict.fromkeys(str(i) for i in ids or [] if i is not None))
