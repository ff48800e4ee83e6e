"""The openai backend against a local OpenAI-compatible server on a real socket."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest

from fake_openai import FakeOpenAI, Reply, completion
from ltrl_cli.commands import options as o  # module level: typer resolves the annotations here
from ltrl_cli.concurrency import bounded_map, run_sync
from ltrl_cli.errors import BackendError, UsageError
from ltrl_cli.llm.base import ChatRequest
from ltrl_cli.llm.factory import LLMOptions, make_llm
from ltrl_cli.llm.openai import OpenAIChat, parse_completion

HELLO = ChatRequest([{"role": "user", "content": "hello"}], temperature=0.0, max_tokens=16, seed=7)


@pytest.fixture(scope="module")
def _shared_server():
    # One server for the module: starting and stopping one costs about 0.5 s each time.
    board: dict = {}

    def dispatch(body, count):
        handler = board["handler"]
        return handler(body, count) if handler.__code__.co_argcount >= 2 else handler(body)

    with FakeOpenAI(dispatch) as server:
        yield server, board


@pytest.fixture
def serve(_shared_server):
    """serve(handler) -> the shared server, answering with `handler` and counting from 1."""
    server, board = _shared_server

    def install(handler):
        board["handler"] = handler
        server.requests.clear()
        server.headers.clear()
        return server

    return install


def chat(llm: OpenAIChat, request: ChatRequest = HELLO):
    return run_sync(llm.chat(request))


def client(server: FakeOpenAI, **kwargs) -> OpenAIChat:
    kwargs = {"backoff": 0.01, "timeout": 5.0, **kwargs}
    return OpenAIChat(server.base_url, "fake-model", **kwargs)


def test_success_parses_content_usage_and_sends_the_request(serve):
    server = serve(lambda body: completion("Paris", prompt_tokens=12, completion_tokens=3))
    response = chat(client(server))
    assert response.content == "Paris"
    assert response.reasoning is None
    assert (response.finish_reason, response.prompt_tokens, response.completion_tokens) == ("stop", 12, 3)
    assert response.cached is False
    body = server.requests[0]
    assert body["model"] == "fake-model"
    assert body["messages"] == [{"role": "user", "content": "hello"}]
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.0, 16, 7)


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The client's backoff sleeps, recorded instead of slept."""
    recorded, real_sleep = [], asyncio.sleep

    async def record_sleep(seconds):
        recorded.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr("ltrl_cli.llm.openai.asyncio.sleep", record_sleep)
    return recorded


def test_429_with_retry_after_is_honoured_then_succeeds(serve, waits):

    def handler(body, count):
        if count == 1:
            return Reply({"error": {"message": "slow down"}}, status=429, headers={"Retry-After": "3"})
        return completion("ok")

    server = serve(handler)
    response = chat(client(server))
    assert response.content == "ok"
    assert len(server.requests) == 2
    assert waits == [3.0]  # the server's Retry-After, not our own backoff


def test_500_then_success_and_backoff_grows_with_jitter(serve, waits):
    server = serve(lambda body, n: completion("fine") if n > 3 else Reply("oops", status=500))
    response = chat(client(server, backoff=1.0))
    assert response.content == "fine"
    assert len(server.requests) == 4
    assert len(waits) == 3
    assert all(0 <= w <= 1.0 * 2**i for i, w in enumerate(waits))


def test_unreachable_after_retries_names_the_endpoint_and_tries(serve):
    server = serve(lambda body: Reply("down for maintenance", status=503))
    llm = client(server, max_retries=2)
    with pytest.raises(BackendError) as failure:
        chat(llm)
    assert len(server.requests) == 3
    message = failure.value.message
    assert message.startswith(f"endpoint {server.base_url}/chat/completions unreachable after 3 tries")
    assert "HTTP 503" in message and "down for maintenance" in message


def test_timeout_is_retried(serve):
    def handler(body, count):
        return Reply(completion("late"), delay=1.0) if count == 1 else completion("quick")

    server = serve(handler)
    response = chat(client(server, timeout=0.3))
    assert response.content == "quick"
    assert len(server.requests) == 2


def test_timeout_every_time_fails_clearly(serve):
    server = serve(lambda body: Reply(completion("late"), delay=1.0))
    with pytest.raises(BackendError, match=r"unreachable after 2 tries: no answer within 0.2s"):
        chat(client(server, timeout=0.2, max_retries=1))


def test_malformed_json_is_retried(serve):
    server = serve(lambda body, n: Reply('{"choices": [', status=200) if n == 1 else completion("ok"))
    response = chat(client(server))
    assert response.content == "ok"
    assert len(server.requests) == 2


def test_dropped_connection_is_retried(serve):
    server = serve(lambda body, n: Reply(drop=True) if n == 1 else completion("ok"))
    assert chat(client(server)).content == "ok"


def test_connection_refused_fails_after_retries():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    llm = OpenAIChat(f"http://127.0.0.1:{port}/v1", "m", backoff=0.01, max_retries=1, timeout=2)
    with pytest.raises(BackendError, match="unreachable after 2 tries"):
        chat(llm)


def test_4xx_is_not_retried_and_says_why(serve):
    server = serve(lambda body: Reply({"error": {"message": "model 'x' not found"}}, status=404))
    with pytest.raises(BackendError, match=r"rejected the request \(HTTP 404\): model 'x' not found"):
        chat(client(server))
    assert len(server.requests) == 1


def test_a_400_is_a_per_request_rejection_and_404_is_not(serve):
    from ltrl_cli.llm.base import RequestRejected

    server = serve(lambda body: Reply({"error": {"message": "prompt is too long"}}, status=400))
    with pytest.raises(RequestRejected, match=r"HTTP 400\): prompt is too long") as failure:
        chat(client(server))
    assert failure.value.status == 400 and len(server.requests) == 1
    server = serve(lambda body: Reply({"error": {"message": "no such model"}}, status=404))
    with pytest.raises(BackendError) as failure:
        chat(client(server))
    assert not isinstance(failure.value, RequestRejected)


def test_think_block_in_content_is_split_off(serve):
    body = completion("<think>\nThe capital of France is Paris.\n</think>\n\nParis")
    server = serve(lambda b: body)
    response = chat(client(server))
    assert response.content == "Paris"
    assert response.reasoning == "The capital of France is Paris."


def test_reasoning_content_field_and_reasoning_field():
    response = parse_completion(json.dumps(completion("Paris", reasoning="thinking...")).encode())
    assert (response.content, response.reasoning) == ("Paris", "thinking...")
    body = completion("Rome")
    body["choices"][0]["message"]["reasoning"] = "other servers call it this"
    response = parse_completion(json.dumps(body).encode())
    assert response.reasoning == "other servers call it this"


def test_truncated_think_keeps_reasoning_and_reports_length():
    body = completion("<think>still going and going", finish_reason="length")
    response = parse_completion(json.dumps(body).encode())
    assert (response.content, response.reasoning, response.truncated) == ("", "still going and going", True)


def test_tool_calls_are_parsed(serve):
    calls = [{"name": "search", "arguments": {"query": "Eiffel tower"}}]
    server = serve(lambda b: completion(None, tool_calls=calls))
    tools = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]
    response = chat(client(server), ChatRequest([{"role": "user", "content": "go"}], tools=tools))
    assert response.content == ""
    assert response.finish_reason == "tool_calls"
    assert response.tool_calls == [{"id": "call_0", "name": "search", "arguments": '{"query": "Eiffel tower"}'}]
    assert server.requests[0]["tools"] == tools


def test_api_key_is_sent_but_never_shown(serve, monkeypatch):
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("LTRL_TEST_KEY", secret)
    # The server echoes the Authorization header back in its error: the message must not.
    server = serve(lambda body: Reply({"error": {"message": f"bad key {secret}"}}, status=401))
    llm = client(server, api_key_env="LTRL_TEST_KEY")
    with pytest.raises(BackendError) as failure:
        chat(llm)
    assert server.headers[0]["Authorization"] == f"Bearer {secret}"
    assert secret not in failure.value.message and "***" in failure.value.message
    assert "--api-key-env" in failure.value.message
    assert secret not in repr(llm)


def test_missing_key_variable_is_a_usage_error(monkeypatch):
    monkeypatch.delenv("LTRL_NO_SUCH_KEY", raising=False)
    with pytest.raises(UsageError, match="LTRL_NO_SUCH_KEY"):
        OpenAIChat("http://127.0.0.1:9/v1", "m", api_key_env="LTRL_NO_SUCH_KEY")


def test_concurrent_requests_share_one_session_and_overlap(serve):
    in_flight = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def handler(body):
        with lock:
            in_flight["now"] += 1
            in_flight["peak"] = max(in_flight["peak"], in_flight["now"])
        time.sleep(0.05)
        with lock:
            in_flight["now"] -= 1
        return completion(body["messages"][0]["content"].upper())

    server = serve(handler)
    llm = client(server)

    async def ask(word: str) -> str:
        return (await llm.chat(ChatRequest([{"role": "user", "content": word}]))).content

    words = [f"w{i}" for i in range(24)]
    answers = list(bounded_map(ask, words, concurrency=8))
    assert answers == [w.upper() for w in words]
    assert 2 <= in_flight["peak"] <= 8


# -- make_llm and the shared options ------------------------------------------------------
def test_make_llm_openai_needs_base_url_and_model():
    with pytest.raises(UsageError, match=r"--backend openai needs --base-url \(or OPENAI_BASE_URL\) and --model"):
        make_llm(LLMOptions(backend="openai"))
    with pytest.raises(UsageError, match="needs --model"):
        make_llm(LLMOptions(backend="openai", base_url="http://127.0.0.1:9/v1"))
    with pytest.raises(UsageError, match="choose one of openai, vllm, hf, template"):
        make_llm(LLMOptions(backend="gpt"), offline={"template": lambda: None})


def test_make_llm_wraps_in_the_cache_unless_told_not_to(serve, tmp_path):
    from ltrl_cli.llm.cache import CachedLLM
    server = serve(lambda body: completion("cached answer"))
    options = LLMOptions(backend="openai", base_url=server.base_url, model="m", cache=tmp_path / "c.sqlite")
    llm = make_llm(options)
    assert isinstance(llm, CachedLLM) and (llm.name, llm.model) == ("openai", "m")
    assert [chat(llm).cached, chat(llm).cached] == [False, True]
    assert len(server.requests) == 1
    assert isinstance(make_llm(LLMOptions(**{**options.__dict__, "no_cache": True})), OpenAIChat)


def test_make_llm_plugs_in_a_command_offline_backend():
    made = make_llm(LLMOptions(backend="template", concurrency=3), offline={"template": lambda opts: opts.concurrency})
    assert made == 3
    assert make_llm(LLMOptions(backend="lexical"), offline={"lexical": lambda: "no-arg factory"}) == "no-arg factory"


def test_shared_options_parse_in_a_command():
    import typer
    from typer.testing import CliRunner

    app = typer.Typer()

    @app.command()
    def cmd(backend: o.Backend = "template", base_url: o.BaseUrl = None, model: o.Model = None,
            api_key_env: o.ApiKeyEnv = None, concurrency: o.Concurrency = 16, timeout: o.Timeout = 120.0,
            max_retries: o.MaxRetries = 6, temperature: o.Temperature = None, max_tokens: o.MaxTokens = None,
            cache: o.CachePath = None, no_cache: o.NoCache = False, keep_order: o.KeepOrder = True,
            keep_think: o.KeepThink = False) -> None:
        print(LLMOptions.pick(locals()))

    result = CliRunner().invoke(app, ["--backend", "openai", "--base-url", "http://x/v1", "--model", "m",
                                      "--concurrency", "64", "--no-keep-order", "--keep-think", "--no-cache"])
    assert result.exit_code == 0, result.output
    assert ("backend='openai'" in result.stdout and "concurrency=64" in result.stdout
            and "keep_order=False" in result.stdout and "keep_think=True" in result.stdout)
    assert CliRunner().invoke(app, ["--concurrency", "0"]).exit_code == 2
