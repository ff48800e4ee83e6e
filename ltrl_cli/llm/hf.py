"""The `hf` backend: a transformers model in-process, for small local models on CPU.

The tokenizer's chat template builds the prompt (tools included, when the template takes
them), `generate` writes the answer, and the same `<think>` / `<tool_call>` parsing as
the vllm backend reads it. One generation runs at a time (a lock), in a worker thread, so
the event loop stays free; on CPU a batch would not be faster for the small models this
backend is for.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from ltrl_cli.errors import BackendError, check_installed
from ltrl_cli.llm.base import ChatRequest, ChatResponse
from ltrl_cli.llm.text import extract_tool_calls, split_reasoning

DEFAULT_MAX_NEW_TOKENS = 512


class HFChat:
    """LLM over `AutoModelForCausalLM` + `AutoTokenizer` loaded from `model` (a directory or hub id).

    Args:
        model: where to load from; offline runs need a local directory.
        device: a torch device string ("cpu", "cuda:0").
        dtype: a torch dtype name ("float32", "bfloat16"); None keeps the checkpoint's.
    """

    name = "hf"

    def __init__(self, model: str, *, device: str = "cpu", dtype: str | None = None):
        check_installed("transformers", "train", "--backend hf")
        check_installed("torch", "train", "--backend hf")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model = model
        self.device = device
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            kwargs = {"dtype": getattr(torch, dtype)} if dtype else {}
            self.network = AutoModelForCausalLM.from_pretrained(model, **kwargs).to(device).eval()
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot load the model {model!r} for --backend hf: {exc}") from None
        if not getattr(self.tokenizer, "chat_template", None):
            raise BackendError(f"the tokenizer of {model!r} has no chat template; --backend hf needs one")
        self._lock = threading.Lock()
        # Special tokens (eos, pad, turn markers) are dropped from the answer, but the think
        # tags stay even where a tokenizer marks them special: the reasoning split needs them.
        think_ids = {self.tokenizer.convert_tokens_to_ids(tag) for tag in ("<think>", "</think>")}
        special = {i for i, token in self.tokenizer.added_tokens_decoder.items() if token.special}
        self._hidden_ids = (special | set(self.tokenizer.all_special_ids)) - think_ids

    async def chat(self, request: ChatRequest) -> ChatResponse:
        return await asyncio.to_thread(self._generate, request)

    def prompt_ids(self, request: ChatRequest) -> list[int]:
        """The prompt as token ids: the chat template applied, a generation turn opened."""
        text = self.tokenizer.apply_chat_template(
            request.messages, tools=request.tools, add_generation_prompt=True, tokenize=False
        )
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _generate(self, request: ChatRequest) -> ChatResponse:
        import torch

        prompt = self.prompt_ids(request)
        max_new = request.max_tokens or DEFAULT_MAX_NEW_TOKENS
        with self._lock, torch.inference_mode():
            if request.seed is not None:
                torch.manual_seed(request.seed)
            output = self.network.generate(
                torch.tensor([prompt], device=self.device),
                attention_mask=torch.ones(1, len(prompt), dtype=torch.long, device=self.device),
                **self._sampling(request, max_new),
            )
        new_ids = output[0, len(prompt):].tolist()
        return self._response(new_ids, len(prompt), max_new)

    def _sampling(self, request: ChatRequest, max_new: int) -> dict[str, Any]:
        eos = self.tokenizer.eos_token_id
        sample = (request.temperature or 0) > 0  # None (the caller left it to us): greedy
        settings: dict[str, Any] = {
            "max_new_tokens": max_new,
            "do_sample": sample,
            "pad_token_id": self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos,
        }
        if sample:
            settings["temperature"] = request.temperature
            settings["top_p"] = request.top_p if request.top_p is not None else 1.0
            settings["top_k"] = request.top_k if request.top_k is not None else 0
        if request.stop:
            settings.update(stop_strings=request.stop, tokenizer=self.tokenizer)
        return settings

    def _response(self, new_ids: list[int], prompt_tokens: int, max_new: int) -> ChatResponse:
        ended = bool(new_ids) and new_ids[-1] == self.tokenizer.eos_token_id
        text = self.tokenizer.decode([i for i in new_ids if i not in self._hidden_ids], skip_special_tokens=False)
        reasoning, content = split_reasoning(text)
        content, tool_calls = extract_tool_calls(content)
        finish = "length" if len(new_ids) >= max_new and not ended else "stop"
        return ChatResponse(
            content=content,
            reasoning=reasoning,
            tool_calls=tool_calls,
            finish_reason="tool_calls" if tool_calls else finish,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(new_ids),
        )
