"""What every LLM backend takes and returns.

A backend is anything with `name`, `model` and `async chat(request) -> ChatResponse`:
`openai` (any OpenAI-compatible endpoint), `vllm` (in-process), `hf` (transformers on
CPU), and the offline writers that stand in for a model. Records name the backend and
model that produced them, so an offline stand-in never passes for a real model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ltrl_cli.errors import EXIT_USAGE, BackendError


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, Any]]
    temperature: float | None = 0.0  # None: not sent, the endpoint's own default applies
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] | None = None
    tools: list[dict[str, Any]] | None = None  # OpenAI tool schemas
    extra: dict[str, Any] = field(default_factory=dict)  # passed through to the endpoint body
    # Told apart in the response cache but never sent: (record id, rollout index) keeps K
    # samples of one prompt from sharing one cached answer.
    cache_key: Any = None

    def payload(self) -> dict[str, Any]:
        """The request as JSON-able data (the cache key is a hash of this plus the model)."""
        body: dict[str, Any] = {"messages": self.messages}
        for key in ("temperature", "top_p", "top_k", "max_tokens", "seed", "stop", "tools"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        body.update(self.extra)
        return body


@dataclass
class ChatResponse:
    content: str  # the text after any reasoning (what the model "said")
    reasoning: str | None = None  # `<think>` text or the endpoint's reasoning_content
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # [{"id", "name", "arguments": str}]
    finish_reason: str | None = None  # "stop", "length", "tool_calls", ...
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached: bool = False  # served from the response cache
    latency_s: float | None = None  # seconds the endpoint took (kept by the cache, for estimates)

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


@runtime_checkable
class LLM(Protocol):
    name: str  # backend name: openai, vllm, hf, template, lexical, ...
    model: str

    async def chat(self, request: ChatRequest) -> ChatResponse: ...


class RequestRejected(BackendError):
    """The endpoint refused this one request (HTTP 400, 413, 422: too long, filtered, malformed).

    Unlike a wrong URL, model or key, it says nothing about the next request, so a stage may
    record it against the one item and go on.
    """

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class EndpointUnusable(BackendError):
    """The endpoint checked before the first record does not answer, refuses the key, or does
    not serve the model (exit 2: fix the command line or start the server; nothing was done)."""

    exit_code = EXIT_USAGE


class EndpointDown(BackendError):
    """The endpoint stopped answering for good during a run (see OpenAIChat's outage rule).

    Unlike a failure of one request, no stage records it against an item: the run stops,
    what was written stays whole, and a rerun resumes from the response cache.
    """
