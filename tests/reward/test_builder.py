"""The one judge builder: the same options give the same judge in every command."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ltrl_cli.errors import UsageError
from ltrl_cli.llm.factory import LLMOptions
from ltrl_cli.reward.builder import JudgeOptions, build_judge
from ltrl_cli.reward.judge import LLMJudge, RuleJudge


class Made:
    """Stands in for make_llm: records the options each model was built from."""

    def __init__(self):
        self.built: list[LLMOptions] = []

    def __call__(self, options):
        self.built.append(options)
        return type("Model", (), {"name": options.backend, "model": options.model})()


COMMAND = LLMOptions(backend="openai", base_url="http://gen/v1", model="gen", api_key_env="GEN_KEY", timeout=9.0,
                     temperature=1.0)


@pytest.mark.parametrize("name", ["exact", "contains"])
def test_rule_judges_need_nothing(name):
    judge = build_judge(JudgeOptions(name=name), make_llm=Made())
    assert isinstance(judge, RuleJudge) and judge.name == name


def test_unknown_judge_is_a_usage_error():
    with pytest.raises(UsageError, match="choose one of exact, contains, llm"):
        build_judge(JudgeOptions(name="vibes"))


@pytest.mark.parametrize("given, expected", [
    ({"base_url": "http://j/v1"}, ("http://j/v1", "gen", "GEN_KEY")),
    ({"model": "big"}, ("http://gen/v1", "big", "GEN_KEY")),  # --judge-model alone switches too
    ({"api_key_env": "JUDGE_KEY"}, ("http://gen/v1", "gen", "JUDGE_KEY")),  # and the key alone
    ({"base_url": "http://j/v1", "model": "big", "api_key_env": "JUDGE_KEY"}, ("http://j/v1", "big", "JUDGE_KEY")),
])
def test_any_judge_endpoint_option_gives_the_judge_its_own_endpoint(given, expected):
    made = Made()
    agent = type("Agent", (), {"name": "vllm", "model": "gen"})()
    judge = build_judge(JudgeOptions(name="llm", **given), COMMAND, llm=agent, make_llm=made)
    [options] = made.built
    assert (options.base_url, options.model, options.api_key_env) == expected
    assert options.backend == "openai" and options.timeout == 9.0 and options.temperature is None
    assert isinstance(judge, LLMJudge) and judge.llm is not agent


def test_without_judge_options_the_command_model_judges():
    made = Made()
    agent = type("Agent", (), {"name": "openai", "model": "gen"})()
    assert build_judge(JudgeOptions(name="llm"), COMMAND, llm=agent, make_llm=made).llm is agent
    assert made.built == []
    build_judge(JudgeOptions(name="llm"), COMMAND, make_llm=made)  # score: its model options are the judge's
    assert made.built == [replace(COMMAND, role="judge")]  # its calls are counted as the judge's


def test_an_offline_stand_in_cannot_judge():
    lexical = type("Lexical", (), {"name": "lexical", "model": "lexical"})()
    with pytest.raises(UsageError, match="--judge-base-url and --judge-model"):
        build_judge(JudgeOptions(name="llm"), COMMAND, llm=lexical, make_llm=Made())


def test_judge_settings_reach_the_judge(tmp_path):
    prompt = tmp_path / "p.txt"
    prompt.write_text("{question}|{correct_answer}|{response}")
    judge = build_judge(JudgeOptions(name="llm", parser="tolerant", no_think="none", max_tokens=99, prompt_file=prompt),
                        COMMAND, make_llm=Made())
    request = judge.request("q", "r", "a")
    assert request.messages[0]["content"] == "q|a|r" and request.payload() == {"messages": request.messages,
                                                                               "max_tokens": 99}
    prompt.write_text("{question} {response}")
    with pytest.raises(UsageError, match=r"lacks the placeholder\(s\) \{correct_answer\}"):
        build_judge(JudgeOptions(name="llm", prompt_file=prompt), COMMAND, make_llm=Made())
