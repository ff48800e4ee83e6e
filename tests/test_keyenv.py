"""`--api-key-env` takes a variable's name: a key typed there is refused and never printed."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ltrl_cli.errors import UsageError
from ltrl_cli.keyenv import check_key_env

KEYS = ["sk-proj-Zx81kQ0rT5vB2nW7yL4mC9aD3fG6hJ1e", "hf_QwErTy1234567890AsDfGh", "3f9a0c2e7b1d4a5f8e6c0b9a7d2e1f3c",
        "Bearer abc123", "OPENAI_API_KEY=sk-xyz", ""]


@pytest.mark.parametrize("value", KEYS)
def test_a_key_or_a_non_name_is_refused_without_being_repeated(value):
    with pytest.raises(UsageError) as refused:
        check_key_env(value)
    assert refused.value.exit_code == 2
    assert not value or value not in refused.value.message


@pytest.mark.parametrize("value", ["OPENAI_API_KEY", "HF_TOKEN", "my_key", "_K2"])
def test_a_variable_name_passes(value):
    assert check_key_env(value) == value


@pytest.mark.parametrize("argv", [
    ["synth", "--index", "idx", "--backend", "openai", "--api-key-env"],
    ["search-agent", "--index", "idx", "--api-key-env"],
    ["score", "--api-key-env"],
    ["eval", "--benchmark", "mrcr", "--data", "d.jsonl", "--api-key-env"],
    ["eval", "--benchmark", "mrcr", "--data", "d.jsonl", "--judge-api-key-env"],
    ["grpo", "--data", "d.jsonl", "--model", "m", "-o", "run", "--set"],
])
def test_every_command_refuses_a_key_before_doing_anything(argv, tmp_path, monkeypatch):
    from ltrl_cli.cli import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.jsonl").write_text('{"id": "q", "input_messages": [{"role": "user", "content": "Q"}], "label": "A"}\n')
    for key in KEYS[:2]:  # not a name at all; a name that looks like a key
        value = f"judge_api_key_env={key}" if argv[-1] == "--set" else key
        result = CliRunner().invoke(app, argv + [value], input="")
        assert result.exit_code == 2, result.output
        assert "is not shown" in result.output and key not in result.output
        assert not (tmp_path / "run").exists()  # grpo wrote no settings file with the key in it
