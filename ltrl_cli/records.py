"""The record layouts each stage reads and adds, and what each stage reads of them.

Every record carries a stable `id`; every stage passes unknown keys through and adds its
own. Nested keys are namespaced by stage. These TypedDicts are the one written-down
layout: `READS` says which of their fields each stage reads, and `ltrl_cli.schema`
checks those fields' types (from the annotations here) as each line is read, so a
layout changed here is a check changed everywhere (docs/records.md shows them).
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired, TypedDict, Union

from ltrl_cli.schema import NON_EMPTY, Length, Reads

Id = Union[str, int]  # a page or record id (a number is taken as its text)
Answer = Union[str, int, float]  # a gold answer (a number is taken as its text)


class StartRecord(TypedDict, total=False):
    """`ltrl walk --starts` input: a start page by `id` or by `title` (other keys pass on)."""

    id: Id
    title: str


class Anchor(TypedDict):
    text: str  # the link's anchor text
    paragraph_id: int | None  # its paragraph in the page it is on
    paragraph: str  # that paragraph's text ("" when unknown)
    inferred: NotRequired[bool]  # true: found from a title mention (ltrl index --link-mentions)


class Hop(TypedDict):
    id: Id  # page id
    title: str
    anchor: NotRequired[Anchor]  # the link followed into this page


class WalkRecord(TypedDict):
    """`ltrl walk` output."""

    id: Id
    path: list[Hop]  # hops + 1 pages: the start and each page a link led to
    walk: dict[str, Any]  # {"seed", "hops", "start"}


class QuestionRecord(WalkRecord):
    """`ltrl synth` output: a walk with the question written from it."""

    question: Annotated[str, NON_EMPTY]
    answer: Answer
    gold_entities: list[str]  # the chain's entities: the rubric
    synth: SynthInfo


class AgentRecord(QuestionRecord):
    """`ltrl search-agent` output."""

    rollouts: list[Rollout]
    agent: dict[str, Any]  # {"backend", "model", "protocol", "rollouts", "judge", ..., "correct_rollouts", ..., "usage"?}


class TieredRecord(AgentRecord):
    """`ltrl tier` output."""

    tiers: Tiers


class ScoreInput(TypedDict, total=False):
    """What `ltrl score` reads (the key of each can be changed with its --*-key option):
    a group per line (`responses`) or one response per line (`response`)."""

    id: Id  # the group key of one-response lines (--group-key)
    label: Answer
    rubrics: list[str] | list[int]  # needed unless alpha is 0; ints: chunk ids (--as-server --mode longrlvr)
    question: str
    responses: list[str]
    response: str
    truncated: bool | list[bool]  # one flag for all, or one per response


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
    judge: dict[str, Any]  # {"name", "correct", "answer", "attempts", "raw"?, "usage"?} or {"name", "skipped"}
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
    usage: NotRequired[dict[str, Any]]  # this sample's requests and tokens by role (model, judge)
    rule: NotRequired[str | None]  # LongBench v2: "official" or "tolerant" extraction
    has_prefix: NotRequired[bool]  # MRCR: the response starts with the random string


class EvalRecord(TypedDict):
    """`ltrl eval` output: one benchmark question, its K graded samples and their mean."""

    id: Id
    benchmark: str  # aa-lcr, mrcr, frames, longbench-v2, longreason
    question: str | None
    gold: Answer
    grading: dict[str, Any]  # what else grading needs (MRCR: random_string_to_prepend; LongReason: letters)
    buckets: dict[str, str]  # breakdown key -> bucket (difficulty, length, needles, category...)
    prompt: dict[str, Any]  # {"truncated", "tokenizer"?, "max_context"?, "tokens"?, "kept_tokens"?, ...}
    model: NotRequired[dict[str, Any]]  # {"backend", "model", "sampling": {...}}
    samples: Annotated[list[EvalSample], NON_EMPTY]
    score: float | None  # mean over graded samples
    metrics: dict[str, float]
    graded: int
    usage: NotRequired[dict[str, Any]]  # requests and tokens by role (docs/usage.md)


class PlacedDoc(TypedDict):
    """One document of an assembled context (`metadata.docs`)."""

    id: Id  # page id
    title: str
    tier: str  # gold, tier1, tier2, search, random
    tokens: int  # tokens of its text and the blank line after it
    truncated: bool  # cut at a token boundary to fill the budget
    span: Annotated[list[int], Length(2)]  # [start, end) characters of its block in the user message


class Message(TypedDict):
    role: str
    content: str


class TrainingMetadata(TypedDict):
    rubrics: list[str]  # the gold entities
    question: str
    docs: list[PlacedDoc]
    tokens: int  # the prompt's exact token count (chat template included)
    target_tokens: int
    strategy: str
    tokenizer: str
    seed: int
    gold_entities: NotRequired[list[str]]  # other datasets' name for rubrics (ltrl grpo reads it)
    extra_reward_info: NotRequired[RewardInfo]  # for the authors' slime reward server


class TrainingRecord(TypedDict):
    """`ltrl assemble` output: the released dataset's layout (slime)."""

    id: Id
    source: str  # "longqa"
    input_messages: Annotated[list[Message], NON_EMPTY]  # one user turn: documents, then the question
    label: Answer  # the gold answer
    metadata: TrainingMetadata


class TrainingInput(TrainingRecord, total=False):
    """What `ltrl grpo` reads: the assemble layout, or a dataset with the rubric and the
    question at the top level."""

    question: str
    gold_entities: list[str]
    rubrics: list[str]


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
    seen: list[Id]  # every id shown in search results
    opened: list[Id]  # subset of seen (unless --allow-open-any)
    cited: list[Id]  # subset of opened
    answer: str | None
    stop: str  # answered, step_budget, token_budget, context_budget, rejected, error
    turns: int
    tokens: dict[str, int]  # {"prompt", "completion"} (estimated for offline policies)
    cached_turns: int  # turns answered from the response cache
    time_s: float
    correct: bool | None  # None: the rollout failed, or the judge gave no verdict
    judge: dict[str, Any]  # {"name", "answer"?, "error"?, "raw"?, "attempts"?, "skipped"?}
    error: NotRequired[str]  # the endpoint's failure after retries (stop == "error")
    usage: NotRequired[dict[str, Any]]  # this rollout's requests and tokens by role (agent, judge)


class Tiers(TypedDict):
    """`ltrl tier` adds `tiers`: page ids, most-visited first, the three lists disjoint."""

    gold: list[Id]  # the chain's pages, then pages cited by correct rollouts
    tier1: list[Id]  # opened by correct rollouts, not cited, not gold
    tier2: list[Id]  # seen by correct rollouts, never opened, not gold
    solved: bool  # False only with --keep-unsolved
    rollouts_used: int


class SynthCheck(TypedDict):
    """One check of a synthesised question (shortcut adds `top_hit`, the title search put first;
    needs_chain adds where a search entered the chain, or how many searches found no way in)."""

    passed: bool
    top_hit: NotRequired[str | None]
    entity: NotRequired[str]  # needs_chain failed: the chain entity found ("E5")
    title: NotRequired[str]
    rank: NotRequired[int]
    query: NotRequired[str]  # "sentence 4", or "the question without its first sentence"
    searches: NotRequired[int]  # needs_chain passed: searches made
    k: NotRequired[int]  # needs_chain passed: results looked at per search


class SynthInfo(TypedDict):
    """`ltrl synth` adds `synth` (and `question`, `answer`, `gold_entities` when it wrote a question)."""

    backend: str  # openai, vllm, hf, template
    model: str  # the served model, or "template (offline question writer, not an LLM)"
    accepted: bool
    reason: NotRequired[str]  # why not: a failed check's name, unparseable, no_attribute, request_rejected, page_missing, short_path
    checks: NotRequired[dict[str, SynthCheck]]  # answer_in_page, answer_not_in_question, final_entity_hidden, shortcut?, needs_chain?
    final_entity: NotRequired[str]  # the title of the last page, whose attribute is the answer
    attempts: int  # model calls made (2 when the first answer's JSON could not be read)
    cached: bool  # every call was answered from the response cache
    gold_source: NotRequired[str]  # LLM writers: "model" (the entities it named) or "chain" (it named none)
    attribute: NotRequired[str]  # template: the attribute line asked about, or "cloze"
    reasoning: NotRequired[str]  # with --keep-think
    error: NotRequired[str]  # request_rejected: the endpoint's message
    usage: NotRequired[dict[str, Any]]  # requests and tokens by role (docs/usage.md)


def reward_info(question: str, rubrics: list[str], dataset_name: str = "longqa") -> RewardInfo:
    """A training record's `metadata.extra_reward_info` (assemble and export write the same).

    >>> reward_info("Who?", ["A"])
    {'question': 'Who?', 'rubrics': ['A'], 'dataset_name': 'longqa'}
    """
    return {"question": question, "rubrics": list(rubrics), "dataset_name": dataset_name}


def path_ids(record: dict) -> list[str]:
    """The page ids of a record's chain (`path`, checked by the stage's READS).

    >>> path_ids({"path": [{"id": 3, "title": "A"}, {"id": "7", "title": "B"}]})
    ['3', '7']
    """
    return [str(hop["id"]) for hop in record.get("path") or []]


def unique_ids(ids) -> list[str]:
    """Ids as strings, each once, in the order first seen (rank order is kept).

    >>> unique_ids([3, "3", "1", None])
    ['3', '1']
    """
    return list(dict.fromkeys(str(i) for i in ids or [] if i is not None))


# ---------------------------------------------------------------- what each stage reads
# Required fields must be there; optional ones are checked when present. A path through
# a list of objects is checked in every item (`rollouts.seen`). Rules look at the whole
# record once its fields passed.


def has_gold_pages(record: dict) -> str | None:
    """There are gold pages: `tiers.gold` when there is one, else the `path`."""
    tiers = record.get("tiers") or {}
    if not (tiers["gold"] if "gold" in tiers else record.get("path")):
        return "no gold pages (needs a non-empty 'tiers.gold' or 'path')"
    return None


def samples_have_text(record: dict) -> str | None:
    """Every sample has a text to grade (`content` or `response`)."""
    for i, sample in enumerate(record["samples"]):
        if sample.get("content") is None and sample.get("response") is None:
            return f"samples[{i}] has neither 'content' nor 'response'"
    return None


_ROLLOUT = ("rollouts.correct", "rollouts.stop", "rollouts.seen", "rollouts.opened", "rollouts.cited")

READS: dict[str, Reads] = {
    "walk": Reads(StartRecord, optional=("id", "title")),
    "synth": Reads(WalkRecord, required=("path.id",),
                   optional=("id", "path.title", "path.anchor.text", "path.anchor.paragraph")),
    "search-agent": Reads(QuestionRecord, required=("id", "question", "answer")),
    "tier": Reads(AgentRecord, required=("rollouts",), optional=("id", "path.id") + _ROLLOUT),
    # --strategy traj-*: `tiers` is required as well (READS["assemble"].adjusted(required=("tiers",)))
    "assemble": Reads(TieredRecord, required=("id", "question", "answer"),
                      optional=("gold_entities", "path.id", "tiers", "tiers.gold", "tiers.tier1", "tiers.tier2"),
                      rules=(has_gold_pages,)),
    "stats": Reads(TrainingRecord, required=("input_messages", "input_messages.content", "metadata.docs.span"),
                   optional=("id", "metadata.rubrics", "metadata.tokens", "metadata.target_tokens",
                             "metadata.strategy", "metadata.docs.id", "metadata.docs.tier", "metadata.docs.tokens",
                             "metadata.docs.truncated")),
    "export": Reads(TrainingRecord, required=("id", "input_messages.role", "input_messages.content", "label"),
                    optional=("source", "metadata", "metadata.question", "metadata.rubrics", "metadata.tokens",
                              "metadata.strategy", "metadata.extra_reward_info",
                              "metadata.extra_reward_info.question", "metadata.extra_reward_info.rubrics")),
    # the keys are --label-key, --rubrics-key, ... (READS["score"].adjusted(rename=...))
    "score": Reads(ScoreInput, required=("label",),
                   optional=("rubrics", "question", "responses", "response", "truncated")),
    # --score-only: a previous run's output
    "eval": Reads(EvalRecord, required=("id", "gold", "samples"),
                  optional=("benchmark", "question", "grading", "buckets", "samples.content", "samples.response"),
                  rules=(samples_have_text,)),
    "grpo": Reads(TrainingInput, required=("input_messages.content", "label"),
                  optional=("id", "input_messages.role", "metadata.question", "metadata.rubrics",
                            "metadata.gold_entities", "question", "gold_entities", "rubrics")),
}
