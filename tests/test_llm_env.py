"""Endpoints from the environment (OPENAI_BASE_URL, OPENAI_API_KEY, LTRL_JUDGE_*): defaults
for every model stage and the judge; flags win; keys never printed."""

from __future__ import annotations

import pytest

from ltrl_cli.errors import UsageError
from ltrl_cli.llm.factory import LLMOptions, make_llm
from ltrl_cli.reward.builder import JudgeOptions, build_judge
from tests.conftest import jsonl, run_ltrl, to_jsonl
from tests.fake_openai import FakeOpenAI, completion

SECRET = "sk-test-ltrl-env-0123456789abcdef"


# tests/conftest.py clears the five variables before every test.
def test_openai_base_url_and_key_fill_what_no_flag_gives(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env.example:8000/v1")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    llm = make_llm(LLMOptions(model="m", no_cache=True))
    assert llm.base_url == "http://env.example:8000/v1" and llm._api_key == SECRET
    assert SECRET not in repr(llm)
    flagged = make_llm(LLMOptions(model="m", base_url="http://flag:1/v1", no_cache=True))
    assert flagged.base_url == "http://flag:1/v1"  # the flag wins


def test_without_the_variable_the_message_names_both_ways():
    with pytest.raises(UsageError, match=r"needs --base-url \(or OPENAI_BASE_URL\)"):
        make_llm(LLMOptions(model="m", no_cache=True))


def test_offline_backends_ignore_the_variables(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env.example:8000/v1")
    assert make_llm(LLMOptions(backend="template"), offline={"template": lambda: "stand-in"}) == "stand-in"


def test_judge_variables_give_the_judge_its_own_endpoint(monkeypatch):
    monkeypatch.setenv("LTRL_JUDGE_BASE_URL", "http://judge.example/v1")
    monkeypatch.setenv("LTRL_JUDGE_MODEL", "judge-m")
    monkeypatch.setenv("LTRL_JUDGE_API_KEY", SECRET)
    made = []
    build_judge(JudgeOptions(name="llm"), LLMOptions(base_url="http://gen/v1", model="gen"),
                make_llm=lambda o: made.append(o) or object())
    [options] = made
    assert (options.base_url, options.model, options.api_key_env) == ("http://judge.example/v1", "judge-m",
                                                                         "LTRL_JUDGE_API_KEY")
    made.clear()  # flags win
    build_judge(JudgeOptions(name="llm", base_url="http://flag/v1", model="fm"), None,
                make_llm=lambda o: made.append(o) or object())
    assert (made[0].base_url, made[0].model) == ("http://flag/v1", "fm")


def test_score_judges_at_openai_base_url_with_the_key_never_printed():
    record = {"id": "q", "label": "Paris", "question": "Which city?", "rubrics": [],
              "responses": ["</think>Paris"]}
    with FakeOpenAI(lambda body: completion("extracted_final_answer: Paris\ncorrect: yes")) as server:
        result = run_ltrl("score", "--judge", "llm", "--model", "j", "--no-cache", "--eval", "-v",
                          input=to_jsonl([record]), env={"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": SECRET})
        assert result.returncode == 0, result.stderr.decode()
        assert server.headers[0]["Authorization"] == f"Bearer {SECRET}"
    assert jsonl(result.stdout)[0]["rewards"][0]["outcome_reward"] == 1.0
    assert SECRET.encode() not in result.stdout + result.stderr


def test_grpo_takes_the_judge_endpoint_from_the_environment(monkeypatch):
    from ltrl_cli.grpo.config import GrpoSettings, validate

    with pytest.raises(UsageError, match="LTRL_JUDGE_BASE_URL and LTRL_JUDGE_MODEL"):
        validate(GrpoSettings(judge="llm"))
    monkeypatch.setenv("LTRL_JUDGE_BASE_URL", "http://judge.example/v1")
    monkeypatch.setenv("LTRL_JUDGE_MODEL", "j")
    validate(GrpoSettings(judge="llm"))
