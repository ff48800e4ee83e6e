"""The `vllm` backend: vLLM in-process, for batch generation on GPUs (`pip install 'ltrl[vllm]'`).

Callers send one request at a time (through bounded_map), but a GPU wants batches. So
requests are gathered while the previous batch runs, then the whole gathering is handed to
`vllm.LLM.chat` in one call (one call per distinct tool list, since `tools` applies to a
whole call). Generation runs in a worker thread; the event loop keeps accepting requests.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from ltrl_cli.errors import check_installed
from ltrl_cli.llm.base import ChatRequest, ChatResponse
from ltrl_cli.llm.text import extract_tool_calls, split_reasoning

GATHER_SECONDS = 0.005  # lets a burst of concurrent requests land in the first batch


class VLLMChat:
    """LLM over an in-process `vllm.LLM` (the engine loads when this is built).

    Args:
        model: a model directory or hub id.
        max_batch: the most requests handed to vLLM in one call.
        **engine_args: passed to `vllm.LLM` (tensor_parallel_size, max_model_len, ...).
    """

    name = "vllm"

    def __init__(self, model: str, *, max_batch: int = 256, **engine_args: Any):
        check_installed("vllm", "vllm", "--backend vllm")
        from ltrl_cli.io import stdout_to_stderr

        # vLLM logs to stdout, from this process and from the engine processes it starts
        # here (they inherit fd 1): all of it goes to stderr, never among the records.
        with stdout_to_stderr():
            import vllm

            self._engine = vllm.LLM(model=model, **engine_args)
        self.model = model
        self.max_batch = max_batch
        self._vllm = vllm
        self._pending: list[tuple[ChatRequest, asyncio.Future]] = []
        self._driver: asyncio.Task | None = None

    async def chat(self, request: ChatRequest) -> ChatResponse:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        if self._driver is None or self._driver.done():
            self._driver = asyncio.create_task(self._drive())
        return await future

    async def _drive(self) -> None:
        await asyncio.sleep(GATHER_SECONDS)
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch:]
            try:
                responses = await asyncio.to_thread(self._generate, [request for request, _ in batch])
            except Exception as exc:  # every waiter learns why
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), response in zip(batch, responses):
                if not future.done():
                    future.set_result(response)

    def _generate(self, requests: list[ChatRequest]) -> list[ChatResponse]:
        """One vLLM call per distinct tool list; answers come back in request order."""
        groups: dict[bytes, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(orjson.dumps(request.tools), []).append(index)
        responses: list[ChatResponse | None] = [None] * len(requests)
        for indices in groups.values():
            tools = requests[indices[0]].tools
            outputs = self._engine.chat(
                [requests[i].messages for i in indices],
                [self._sampling(requests[i]) for i in indices],
                use_tqdm=False,
                tools=tools,
            )
            for i, output in zip(indices, outputs):
                responses[i] = _response(output)
        return [r for r in responses if r is not None]

    def _sampling(self, request: ChatRequest) -> Any:
        params: dict[str, Any] = {}
        for key in ("temperature", "top_p", "top_k", "max_tokens", "seed", "stop"):
            value = getattr(request, key)
            if value is not None:
                params[key] = value
        return self._vllm.SamplingParams(**params)


def _response(output: Any) -> ChatResponse:
    """A vllm RequestOutput -> ChatResponse (reasoning and tool calls parsed from the text)."""
    completion = output.outputs[0]
    reasoning, content = split_reasoning(completion.text)
    content, tool_calls = extract_tool_calls(content)
    return ChatResponse(
        content=content,
        reasoning=reasoning,
        tool_calls=tool_calls,
        finish_reason="tool_calls" if tool_calls else completion.finish_reason,
        prompt_tokens=len(output.prompt_token_ids or []),
        completion_tokens=len(completion.token_ids or []),
    )
