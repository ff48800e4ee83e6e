"""Usage accounting, the estimate and the budget, against a local server that reports usage.

The server answers each role (question writer, agent, judge) with fixed token counts, so
every figure below is known in advance: 100+20 tokens a writer request, 50+10 an agent
turn, 30+5 a judge ask.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest

from tests.conftest import jsonl, run_ltrl, to_jsonl
from tests.fake_openai import FakeOpenAI, completion

WRITER, AGENT, JUDGE = (100, 20), (50, 10), (30, 5)


def role_of(body: dict) -> str:
    text = " ".join(str(m.get("content") or "") for m in body["messages"])
    if "[correct_answer]" in text:
        return "judge"
    return "agent" if body.get("tools") else "writer"


def by_role(body: dict) -> dict:
    """Writer: a JSON question from the final page; agent: answers at once; judge: yes."""
    role = role_of(body)
    if role == "judge":
        return completion("extracted_final_answer: 1879\nreasoning: same\ncorrect: yes",
                          prompt_tokens=JUDGE[0], completion_tokens=JUDGE[1])
    if role == "agent":
        return completion(None, tool_calls=[{"name": "answer", "arguments": {"text": "1879"}}],
                          prompt_tokens=AGENT[0], completion_tokens=AGENT[1])
    prompt = body["messages"][1]["content"]
    text = prompt.split("Final page: ", 1)[1]
    title, body_text = text.split("\n", 1)
    answer = next(w for w in body_text.split() if w[:1].isdigit()) if any(
        w[:1].isdigit() for w in body_text.split()) else body_text.split()[0]
    question = {"question": "Which value does the record give for the place reached through the chain?",
                "answer": answer.strip(".,;()"), "gold_entities": []}
    return completion(orjson.dumps(question).decode(), prompt_tokens=WRITER[0], completion_tokens=WRITER[1])


@pytest.fixture(scope="module")
def walks(demo_index) -> list[dict]:
    result = run_ltrl("walk", "--index", str(demo_index), "-n", "6", "--seed", "3")
    assert result.returncode == 0, result.stderr
    return jsonl(result.stdout)


def synth_args(demo_index, server, cache, *extra: str) -> list[str]:
    return ["synth", "--index", str(demo_index), "--backend", "openai", "--base-url", server.base_url,
            "--model", "writer-7b",
            "--cache", str(cache), "--no-chain-check", "--max-retries", "0", *extra]


# ---------------------------------------------------------------- the meter itself


def test_cached_replies_keep_their_usage_and_count_as_cached(tmp_path):
    from ltrl_cli.concurrency import run_sync
    from ltrl_cli.llm.base import ChatRequest
    from ltrl_cli.llm.cache import CachedLLM, ResponseCache
    from ltrl_cli.llm.openai import OpenAIChat
    from ltrl_cli.llm.usage import MeteredLLM, Usage, record_scope

    usage = Usage()
    with FakeOpenAI(lambda body: completion("ok", prompt_tokens=7, completion_tokens=3)) as server:
        llm = MeteredLLM(CachedLLM(OpenAIChat(server.base_url, "m"), ResponseCache(tmp_path / "c.sqlite")),
                         usage, "judge")

        async def twice():
            with record_scope() as first:
                await llm.chat(ChatRequest([{"role": "user", "content": "hi"}]))
            with record_scope() as second:
                await llm.chat(ChatRequest([{"role": "user", "content": "hi"}]))
            return first, second

        first, second = run_sync(twice())
        assert len(server.requests) == 1
    assert first.as_dict() == {"judge": {"requests": 1, "cached": 0, "prompt_tokens": 7, "completion_tokens": 3}}
    assert second.as_dict() == {"judge": {"requests": 1, "cached": 1, "prompt_tokens": 7, "completion_tokens": 3}}
    summary = usage.as_dict()
    assert summary["total"]["sent"] == 1 and summary["total"]["spent_prompt_tokens"] == 7
    assert summary["roles"]["judge"]["prompt_tokens"] == 14 and summary["records"] == 2
    assert summary["per_record"]["judge"] == {"requests": 1.0, "prompt_tokens": 7.0, "completion_tokens": 3.0}


def test_tokens_a_server_does_not_report_are_estimated_and_marked():
    from ltrl_cli.llm.base import ChatRequest, ChatResponse
    from ltrl_cli.llm.usage import MeteredLLM, Usage, record_scope

    class Silent:
        name, model = "openai", "m"

        async def chat(self, request):
            return ChatResponse(content="x" * 40)

    usage = Usage()

    async def ask():
        with record_scope() as used:
            await MeteredLLM(Silent(), usage, "agent").chat(ChatRequest([{"role": "user", "content": "y" * 400}]))
        return used

    used = asyncio.run(ask())
    assert used.as_dict()["agent"] == {"requests": 1, "cached": 0, "prompt_tokens": 100, "completion_tokens": 10,
                                       "estimated": 1}
    assert "(estimated)" in usage.line()

    async def counted():  # with the stage's tokenizer (eval's --tokenizer), its count
        with record_scope() as used:
            await MeteredLLM(Silent(), usage, "agent", tokenizer=lambda text: 7).chat(
                ChatRequest([{"role": "user", "content": "y" * 400}]))
        return used

    assert asyncio.run(counted()).as_dict()["agent"]["prompt_tokens"] == 7


def test_prices_and_the_budget_options_are_checked():
    from ltrl_cli.errors import UsageError
    from ltrl_cli.llm.usage import Prices

    assert Prices.parse(["1,2"]).cost("judge", 1e6, 1e6) == 3.0
    for bad in ("1", "a,b", "-1,2", "critic=1,2"):
        with pytest.raises(UsageError):
            Prices.parse([bad])


# ---------------------------------------------------------------- synth: usage, budget, estimate


def test_synth_records_usage_per_record_and_in_the_summary(walks, demo_index, tmp_path):
    with FakeOpenAI(by_role) as server:
        result = run_ltrl(*synth_args(demo_index, server, tmp_path / "c.sqlite", "--usage", str(tmp_path / "u.json"),
                                      "--price-per-mtok", "1,4"), input=to_jsonl(walks))
    assert result.returncode == 0, result.stderr
    for record in jsonl(result.stdout):
        assert record["synth"]["usage"] == {"writer": {"requests": 1, "cached": 0, "prompt_tokens": 100,
                                                       "completion_tokens": 20}}
    assert b"usage: writer 6 req, 600+120 tok, 1 req 100+20/record" in result.stderr
    summary = orjson.loads((tmp_path / "u.json").read_bytes())
    assert summary["records"] == 6 and summary["total"]["sent"] == 6
    assert summary["cost"]["total"] == pytest.approx((600 * 1 + 120 * 4) / 1e6)


def test_a_budget_stops_cleanly_and_a_larger_one_resumes_from_the_cache(walks, demo_index, tmp_path):
    cache = tmp_path / "c.sqlite"
    with FakeOpenAI(by_role) as server:
        args = synth_args(demo_index, server, cache, "--concurrency", "1", "--usage", str(tmp_path / "u.json"))
        stopped = run_ltrl(*args, "--max-requests", "3", input=to_jsonl(walks))
        assert stopped.returncode == 75, stopped.stderr
        assert len(server.requests) == 3
        written = jsonl(stopped.stdout)  # every line whole
        assert 1 <= len(written) <= 3
        assert b"budget reached: --max-requests 3" in stopped.stderr and b"usage: writer 3 req" in stopped.stderr
        assert orjson.loads((tmp_path / "u.json").read_bytes())["budget"]["stopped"] == "--max-requests 3"
        resumed = run_ltrl(*args, "--max-requests", "3", input=to_jsonl(walks))
        assert resumed.returncode == 0, resumed.stderr
        assert len(server.requests) == 6, "the first three came from the cache"
    out = jsonl(resumed.stdout)
    assert [r["id"] for r in out] == [w["id"] for w in walks]
    assert [r["synth"]["cached"] for r in out[:3]] == [True] * 3
    assert b"usage: writer 6 req (3 cached)" in resumed.stderr


def test_the_token_budget_counts_sent_tokens(walks, demo_index, tmp_path):
    with FakeOpenAI(by_role) as server:
        result = run_ltrl(*synth_args(demo_index, server, tmp_path / "c.sqlite", "--concurrency", "1",
                                      "--max-total-tokens", "240"), input=to_jsonl(walks))
        assert result.returncode == 75 and len(server.requests) == 2  # 120 tokens each


def test_estimate_projects_the_whole_file_from_a_sample(walks, demo_index, tmp_path):
    source = tmp_path / "walks.jsonl"
    source.write_bytes(to_jsonl(walks))
    with FakeOpenAI(by_role) as server, open(source, "rb") as stdin:
        import subprocess
        import sys

        from tests.conftest import ROOT

        args = synth_args(demo_index, server, tmp_path / "c.sqlite", "--estimate", "2", "--usage",
                          str(tmp_path / "u.json"), "--price-per-mtok", "1,4")
        result = subprocess.run([sys.executable, "-m", "ltrl_cli", *args], stdin=stdin, capture_output=True,
                                env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
        assert len(server.requests) == 2
    assert result.returncode == 0, result.stderr
    assert len(jsonl(result.stdout)) == 2
    estimate = orjson.loads((tmp_path / "u.json").read_bytes())["estimate"]
    assert estimate["total_records"] == 6 and estimate["sample_records"] == 2
    assert estimate["requests"]["projected"] == 6 and estimate["prompt_tokens"]["projected"] == 600
    assert estimate["requests"]["low"] == estimate["requests"]["high"] == 6  # no spread: every record alike
    assert estimate["cost"]["projected"] == pytest.approx(6 * (100 + 80) / 1e6)
    assert estimate["wall_s"] is not None
    assert b"estimate: 2 of 6 records sampled" in result.stderr


def test_estimate_from_a_pipe_needs_the_total(walks, demo_index, tmp_path):
    with FakeOpenAI(by_role) as server:
        result = run_ltrl(*synth_args(demo_index, server, tmp_path / "c.sqlite", "--estimate", "2"),
                          input=to_jsonl(walks))
        told = run_ltrl(*synth_args(demo_index, server, tmp_path / "c.sqlite", "--estimate", "2", "--total", "600"),
                        input=to_jsonl(walks))
    assert result.returncode == 2 and b"give --total N" in result.stderr
    assert told.returncode == 0 and b"estimate: 2 of 600 records" in told.stderr
    assert b"requests           600" in told.stderr


# ---------------------------------------------------------------- search-agent and score: roles


QUESTIONS = [{"id": f"q{i}", "question": f"When was the astronomer {i} born?", "answer": "1879"} for i in range(3)]


def test_search_agent_counts_the_agent_and_its_judge_apart(demo_index, tmp_path):
    with FakeOpenAI(by_role) as server:
        result = run_ltrl("search-agent", "--index", str(demo_index), "-k", "2", "--backend", "openai",
                          "--base-url", server.base_url, "--model", "agent", "--judge", "llm", "--cache",
                          str(tmp_path / "c.sqlite"), "--usage", str(tmp_path / "u.json"), input=to_jsonl(QUESTIONS))
    assert result.returncode == 0, result.stderr
    for record in jsonl(result.stdout):
        assert record["agent"]["usage"] == {
            "agent": {"requests": 2, "cached": 0, "prompt_tokens": 100, "completion_tokens": 20},
            # both rollouts answered the same: the second verdict is the first's (sent once, counted cached)
            "judge": {"requests": 2, "cached": 1, "prompt_tokens": 60, "completion_tokens": 10}}
        assert record["rollouts"][0]["usage"]["judge"]["requests"] == 1
        assert record["rollouts"][0]["judge"]["usage"]["judge"]["prompt_tokens"] == 30
    summary = orjson.loads((tmp_path / "u.json").read_bytes())
    assert summary["per_record"]["agent"]["requests"] == 2 and summary["per_record"]["judge"]["prompt_tokens"] == 60
    assert b"usage: agent 6 req" in result.stderr and b"judge 6 req" in result.stderr


def test_score_records_the_judge_usage_of_each_line(tmp_path):
    lines = [{"id": "g", "label": "1879", "question": "When?", "rubrics": [], "response": f"<think>hm</think>{r}"}
             for r in ("1879", "in 1879", "1880")]
    with FakeOpenAI(by_role) as server:
        result = run_ltrl("score", "--judge", "llm", "--base-url", server.base_url, "--model", "j", "--cache",
                          str(tmp_path / "c.sqlite"), "--usage", str(tmp_path / "u.json"), input=to_jsonl(lines))
    assert result.returncode == 0, result.stderr
    for record in jsonl(result.stdout):
        assert record["reward"]["judge"]["usage"] == {"judge": {"requests": 1, "cached": 0, "prompt_tokens": 30,
                                                                "completion_tokens": 5}}
    summary = orjson.loads((tmp_path / "u.json").read_bytes())
    assert summary["records"] == 3 and summary["roles"]["judge"]["requests"] == 3


# ---------------------------------------------------------------- eval: per question, estimate, budget


def test_eval_counts_the_model_and_its_judge_per_question_and_estimates(tmp_path):
    from tests.eval.eval_fixtures import Oracle, invoke, write_benchmark

    data, answers = write_benchmark("frames", tmp_path / "data")
    with FakeOpenAI(Oracle("frames", answers)) as server:
        common = ("eval", "-b", "frames", "--data", str(data), "--base-url", server.base_url, "--model", "m",
                  "--samples", "2", "--cache", str(tmp_path / "c.sqlite"))
        sampled = invoke(*common, "--estimate", "1", "--usage", str(tmp_path / "u.json"))
        asked = len(server.requests)
        full = invoke(*common, "--summary", str(tmp_path / "s.json"))
    assert sampled.returncode == 0, sampled.stderr
    assert asked == 3  # 2 samples of one question, each judged; the same answer is judged once (sent once)
    estimate = orjson.loads((tmp_path / "u.json").read_bytes())["estimate"]
    questions = len(answers)
    assert estimate["total_records"] == questions and estimate["requests"]["projected"] == 4 * questions
    assert full.returncode == 0, full.stderr
    records = jsonl(full.stdout)
    assert set(records[0]["usage"]) == {"agent", "judge"} and records[0]["usage"]["agent"]["requests"] == 2
    assert records[0]["usage"]["agent"]["cached"] == 2  # the estimate's sample was not paid twice
    usage = orjson.loads((tmp_path / "s.json").read_bytes())["usage"]
    assert usage["records"] == questions and usage["total"]["requests"] == 4 * questions
    assert usage["total"]["sent"] <= 4 * questions - 4


def test_eval_stops_at_its_budget(tmp_path):
    from tests.eval.eval_fixtures import Oracle, invoke, write_benchmark

    data, answers = write_benchmark("frames", tmp_path / "data")
    with FakeOpenAI(Oracle("frames", answers)) as server:
        stopped = invoke("eval", "-b", "frames", "--data", str(data), "--base-url", server.base_url, "--model", "m",
                         "--samples", "2", "--concurrency", "1", "--no-cache", "--max-requests", "5")
        assert len(server.requests) == 5
    assert stopped.returncode == 75 and b"budget reached: --max-requests 5" in stopped.stderr
    assert len(jsonl(stopped.stdout)) == 1  # the first question (4 requests) is whole; the second is not written


# ---------------------------------------------------------------- the test model server: every role, with faults


def test_search_agent_budget_resumes_without_asking_the_server_twice(demo_index, tmp_path):
    """Against the vLLM-like test server (retries, 429s and dropped connections included):
    a budget stop, then a larger budget; the server never answers one body twice."""
    from tests.model_server import ModelServer

    questions = [{"id": f"q{i}", "question": f"When was the astronomer {i} of the northern region born?",
                  "answer": "1879"} for i in range(6)]
    with ModelServer(seed=1) as server:
        args = ["search-agent", "--index", str(demo_index), "-k", "2", "--backend", "openai", "--base-url",
                server.base_url, "--model", server.model, "--judge", "llm", "--max-steps", "4", "--concurrency", "2",
                "--cache", str(tmp_path / "c.sqlite"), "--usage", str(tmp_path / "u.json")]
        stopped = run_ltrl(*args, "--max-requests", "10", input=to_jsonl(questions))
        assert stopped.returncode == 75, stopped.stderr
        assert orjson.loads((tmp_path / "u.json").read_bytes())["total"]["sent"] == 10
        first = server.stats["answered"]
        done = run_ltrl(*args, "--max-requests", "1000", input=to_jsonl(questions))
        assert done.returncode == 0, done.stderr
        assert server.stats["repeats"] == 0, "a resumed run sent a request already answered"
    assert [r["id"] for r in jsonl(done.stdout)] == [q["id"] for q in questions]
    assert all(line.get("agent", {}).get("usage") for line in jsonl(stopped.stdout))  # whole records only
    summary = orjson.loads((tmp_path / "u.json").read_bytes())
    assert summary["total"]["cached"] >= first - 10 and summary["roles"]["judge"]["requests"] == 12


def test_budget_and_estimate_options_are_checked(walks, demo_index):
    cases = [(["--max-cost", "1"], b"--max-cost needs --price-per-mtok"),
             (["--total", "10"], b"--total is the input size for --estimate"),
             (["--price-per-mtok", "cheap"], b"expected IN,OUT"),
             (["--estimate", "2", "--total", "10", "--no-chain-check"], b"the sample made no model call")]  # template
    for extra, message in cases:
        result = run_ltrl("synth", "--index", str(demo_index), *extra, input=to_jsonl(walks))
        assert result.returncode == 2 and message in result.stderr, (extra, result.stderr)
