"""One rollout: from the question to an answer, or to the end of a budget.

The loop asks the model for a turn, reads its actions with the protocol, runs them with the
tools, and sends the observations back. Three budgets bound it:

- steps: model turns (the model is told when one turn is left);
- context: an estimate of the prompt's tokens; over it, the oldest observations are
  replaced by their first line (what was searched or opened), newest kept whole;
- tokens: completion tokens summed over the rollout (each turn's max_tokens is capped by
  what is left).

An endpoint that still fails after the LLM layer's retries ends the rollout with `stop:
"error"` and the message; the steps so far stay in the record. A request the endpoint
refuses (HTTP 400: the prompt over its context length) ends it with `stop: "rejected"`:
like a budget, that rollout's alone, and not a failure of the run.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from ltrl_cli.agent.protocols import ToolCallProtocol, TextTagProtocol
from ltrl_cli.agent.tools import Action, AgentTools, Observation
from ltrl_cli.errors import LtrlError
from ltrl_cli.llm.base import LLM, ChatRequest, ChatResponse, EndpointDown, RequestRejected
from ltrl_cli.llm.usage import BudgetExhausted

USER_PROMPT = "Question: {question}"
LAST_TURN = "\n(One turn left: give your answer now.)"
TRIMMED = "[trimmed to save context]"


@dataclass(frozen=True)
class Budgets:
    max_steps: int = 16  # model turns per rollout
    max_context_tokens: int = 32768  # estimated prompt tokens before old observations are trimmed
    max_rollout_tokens: int = 32768  # completion tokens over the whole rollout
    max_tokens_per_turn: int | None = 4096


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_p: float | None = None
    top_k: int | None = None


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """A tokenizer-free estimate (about 4 characters a token, plus a few per message).

    >>> estimate_tokens([{"role": "user", "content": "x" * 400}])
    104
    """
    total = 0
    for message in messages:
        total += 4 + len(message.get("content") or "") // 4
        for call in message.get("tool_calls") or []:
            total += len(call["function"]["arguments"]) // 4 + 4
    return total


def trim_context(messages: list[dict[str, Any]], budget: int) -> bool:
    """Shorten the oldest observations until the estimate fits; False if it cannot fit.

    Observations are the tool and user messages after the question; the newest one is
    never trimmed, and a trimmed one keeps its first line.
    """
    observations = [i for i, m in enumerate(messages) if i >= 2 and m["role"] in ("tool", "user")][:-1]
    for i in observations:
        if estimate_tokens(messages) <= budget:
            break
        content = messages[i].get("content") or ""
        if content.endswith(TRIMMED):
            continue
        messages[i] = {**messages[i], "content": f"{_first_line(content)[:200]}\n{TRIMMED}"}
    return estimate_tokens(messages) <= budget


def _first_line(content: str) -> str:
    """The first line that says something (not an `<observation>` tag)."""
    for line in content.splitlines():
        if line.strip() and line.strip() not in ("<observation>", "</observation>"):
            return line.strip()
    return ""


async def run_rollout(llm: LLM, protocol: ToolCallProtocol | TextTagProtocol, tools: AgentTools, question: str, *,
                      budgets: Budgets = Budgets(), sampling: Sampling = Sampling(), seed: int | None = None,
                      cache_key: Any = None, semaphore: asyncio.Semaphore | None = None,
                      keep_think: bool = False) -> dict[str, Any]:
    """Run one rollout and return its record (without the judge's verdict).

    Only `question` reaches the model: never the gold chain or the answer. With
    `keep_think`, each turn's reasoning is kept on its first step (`reasoning`).
    """
    state = _State(time.perf_counter())
    system = protocol.system_prompt(page_words=tools.config.page_words, max_steps=budgets.max_steps)
    messages: list[dict[str, Any]] = [{"role": "system", "content": system},
                                      {"role": "user", "content": USER_PROMPT.format(question=question)}]
    while state.stop is None:
        state.stop = _budget_stop(state, budgets, messages)
        if state.stop:
            break
        request = ChatRequest(
            messages=list(messages), temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k,
            max_tokens=_turn_tokens(state, budgets), seed=seed, tools=protocol.tools,
            cache_key=[*(cache_key or []), state.turns],
        )
        try:
            response = await _chat(llm, request, semaphore)
        except BudgetExhausted:  # the run stops here; the rollout is not a failed one
            raise
        except EndpointDown:
            raise  # the endpoint is gone for every question, not for this rollout: the run stops
        except RequestRejected as exc:
            # The endpoint refused this prompt (over its context length, filtered): the
            # rollout ends there, as at a budget; the next rollout's requests are unaffected.
            state.stop, state.error = "rejected", exc.message
            break
        except LtrlError as exc:
            state.stop, state.error = "error", exc.message
            break
        state.count(response, messages)
        turn = protocol.read(response, state.turns)
        messages.append(turn.message)
        first_step = len(state.steps)
        observations = await _act(tools, turn.actions, state)
        if keep_think and turn.reasoning and len(state.steps) > first_step:
            state.steps[first_step]["reasoning"] = turn.reasoning
        if state.stop is None:
            if state.turns == budgets.max_steps - 1 and observations:
                observations[-1].text += LAST_TURN
            messages.extend(protocol.observation_messages(turn.actions[: len(observations)], observations))
    return state.record(tools, seed)


async def _chat(llm: LLM, request: ChatRequest, semaphore: asyncio.Semaphore | None) -> ChatResponse:
    if semaphore is None:
        return await llm.chat(request)
    async with semaphore:
        return await llm.chat(request)


async def _act(tools: AgentTools, actions: list[Action], state: "_State") -> list[Observation]:
    observations = []
    for action in actions:
        observation = await tools.call(action)
        observations.append(observation)
        state.steps.append(_step(state.turns, action, observation))
        if observation.final:
            state.stop = "answered"
            break
    return observations


def _step(turn: int, action: Action, observation: Observation) -> dict[str, Any]:
    step: dict[str, Any] = {"turn": turn, "action": action.name, "arguments": action.arguments,
                            "result_ids": observation.ids}
    if observation.error:
        step["error"] = observation.error
    return step


def _budget_stop(state: "_State", budgets: Budgets, messages: list[dict]) -> str | None:
    if state.turns >= budgets.max_steps:
        return "step_budget"
    if state.completion_tokens >= budgets.max_rollout_tokens:
        return "token_budget"
    if not trim_context(messages, budgets.max_context_tokens):
        return "context_budget"
    return None


def _turn_tokens(state: "_State", budgets: Budgets) -> int:
    left = budgets.max_rollout_tokens - state.completion_tokens
    return min(left, budgets.max_tokens_per_turn) if budgets.max_tokens_per_turn else left


class _State:
    """What a rollout accumulates as it goes."""

    def __init__(self, started: float):
        self.started = started
        self.turns = 0
        self.steps: list[dict[str, Any]] = []
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cached_turns = 0
        self.stop: str | None = None
        self.error: str | None = None

    def count(self, response: ChatResponse, messages: list[dict]) -> None:
        self.turns += 1
        self.cached_turns += bool(response.cached)
        # Backends that report no usage (offline policies) are counted by the estimate.
        prompt = response.prompt_tokens
        self.prompt_tokens += prompt if prompt is not None else estimate_tokens(messages)
        self.completion_tokens += (response.completion_tokens if response.completion_tokens is not None
                                   else estimate_tokens([{"content": response.content}]) - 4)

    def record(self, tools: AgentTools, seed: int | None) -> dict[str, Any]:
        record: dict[str, Any] = {
            "seed": seed, "steps": self.steps, "seen": list(tools.seen), "opened": list(tools.opened),
            "cited": list(tools.cited), "answer": tools.answer_text, "stop": self.stop, "turns": self.turns,
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            "cached_turns": self.cached_turns, "time_s": round(time.perf_counter() - self.started, 4),
        }
        if self.error:
            record["error"] = self.error
        return record
