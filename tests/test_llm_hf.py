"""The hf backend wired to a tiny random Qwen3 and a tokenizer trained here (plumbing, not quality)."""

from __future__ import annotations

import pytest

from ltrl_cli.concurrency import bounded_map, run_sync
from ltrl_cli.errors import MissingDependency, UsageError
from ltrl_cli.llm.base import ChatRequest
from ltrl_cli.llm.factory import LLMOptions, make_llm

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

TEXT = [
    "The capital of France is Paris.",
    "Mount Kilimanjaro is the highest mountain in Africa.",
    "<think>Let me think about the question.</think> The answer is 42.",
    "user assistant system question answer hello world",
] * 20


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A saved Qwen3 with random weights (2 layers, hidden 32) and a BPE tokenizer trained on TEXT."""
    from ltrl_cli.grpo.tiny import build_tiny

    return build_tiny(tmp_path_factory.mktemp("tiny-qwen3"), TEXT)


@pytest.fixture(scope="module")
def hf_llm(tiny_model):
    return make_llm(LLMOptions(backend="hf", model=str(tiny_model), no_cache=True))


def ask(text: str, **kwargs) -> ChatRequest:
    return ChatRequest([{"role": "user", "content": text}], **kwargs)


def test_greedy_generation_through_the_chat_template(hf_llm):
    request = ask("What is the capital of France?", max_tokens=6)
    response = run_sync(hf_llm.chat(request))
    assert (hf_llm.name, type(response.content)) == ("hf", str)
    assert response.prompt_tokens == len(hf_llm.prompt_ids(request))
    assert 1 <= response.completion_tokens <= 6
    assert response.finish_reason in ("stop", "length")
    # the prompt is the template's rendering: the question sits inside a user turn
    prompt_text = hf_llm.tokenizer.decode(hf_llm.prompt_ids(request))
    assert prompt_text.startswith("<|im_start|>user\nWhat is the capital of France?<|im_end|>")
    assert prompt_text.endswith("<|im_start|>assistant\n")
    # greedy decoding is deterministic
    assert run_sync(hf_llm.chat(request)).content == response.content


def test_sampling_with_a_seed_is_reproducible(hf_llm):
    request = ask("hello", temperature=1.0, max_tokens=8, seed=123)
    first = run_sync(hf_llm.chat(request))
    assert run_sync(hf_llm.chat(request)) == first


def test_length_limit_is_reported_as_truncation(hf_llm, monkeypatch):
    # A random model rarely stops by itself; with eos made unreachable it always runs out.
    response = hf_llm._response([5, 6, 7], prompt_tokens=4, max_new=3)
    assert response.truncated and response.completion_tokens == 3


def test_think_and_tool_call_text_is_parsed(hf_llm):
    ids = hf_llm.tokenizer.encode(
        '<think>Let me think</think> hello <tool_call>{"name": "search", "arguments": {"query": "Paris"}}</tool_call>'
    )
    response = hf_llm._response(ids + [hf_llm.tokenizer.eos_token_id], prompt_tokens=1, max_new=100)
    assert response.reasoning == "Let me think"
    assert response.content == "hello"
    assert response.tool_calls == [{"id": "call_0", "name": "search", "arguments": '{"query": "Paris"}'}]
    assert response.finish_reason == "tool_calls"


def test_concurrent_callers_are_served_one_at_a_time(hf_llm):
    async def answer(word):
        return (await hf_llm.chat(ask(word, max_tokens=3))).completion_tokens

    assert all(1 <= n <= 3 for n in bounded_map(answer, ["a", "b", "c", "d"], concurrency=4))


def test_hf_needs_a_model_and_vllm_says_how_to_install():
    with pytest.raises(UsageError, match="--backend hf needs --model"):
        make_llm(LLMOptions(backend="hf"))
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependency, match=r"pip install 'ltrl\[vllm\]'"):
            make_llm(LLMOptions(backend="vllm", model="some/model"))
    else:
        pytest.skip("vllm is installed here")


def test_synth_stage_runs_on_the_hf_backend(hf_llm):
    # A random model writes no JSON: the stage must ask twice, then reject, saying why.
    from ltrl_cli.backends.base import MemoryIndex
    from ltrl_cli.stages.synth import synth
    from ltrl_cli.synth.prompt import LLMWriter
    from ltrl_cli.synth.questions import SynthOptions

    pages = [{"wikipedia_id": str(i), "wikipedia_title": f"Page {i}", "text": [f"Page {i}\n", "Founded: 1820\n"],
              "anchors": []} for i in range(3)]
    walk = {"id": "w", "path": [{"id": "0", "title": "Page 0"}, {"id": "1", "title": "Page 1"}]}
    options = SynthOptions(max_tokens=4)
    [out] = synth([walk], pages=MemoryIndex(pages), writer=LLMWriter(hf_llm, options), options=options)
    assert (out["synth"]["backend"], out["synth"]["model"]) == ("hf", hf_llm.model)
    assert (out["synth"]["accepted"], out["synth"]["reason"], out["synth"]["attempts"]) == (False, "unparseable", 2)


def test_vllm_engine_args_come_from_the_environment(monkeypatch):
    from ltrl_cli.llm.factory import vllm_engine_args

    monkeypatch.delenv("LTRL_VLLM_ARGS", raising=False)
    assert vllm_engine_args() == {}
    monkeypatch.setenv("LTRL_VLLM_ARGS", '{"tensor_parallel_size": 4}')
    assert vllm_engine_args() == {"tensor_parallel_size": 4}
    monkeypatch.setenv("LTRL_VLLM_ARGS", "[4]")
    with pytest.raises(UsageError, match="LTRL_VLLM_ARGS must be a JSON object"):
        vllm_engine_args()
