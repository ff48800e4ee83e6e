"""`ltrl check`: loads each named setting, says what it found, exits 0 or 2."""

from __future__ import annotations

import pytest

from tests.conftest import SHARED_DATA, run_ltrl


@pytest.fixture
def tiktoken_cache():
    if not (SHARED_DATA / "tiktoken").is_dir():
        pytest.skip(f"{SHARED_DATA / 'tiktoken'} not found")


def test_a_tokenizer_and_an_index_that_load_pass(tiktoken_cache, demo_index):
    result = run_ltrl("check", "--tokenizer", "tiktoken:o200k_base", "--index", str(demo_index))
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert result.stdout == b""
    assert "tokenizer: ok: tiktoken:o200k_base loaded (TIKTOKEN_CACHE_DIR=" in stderr
    assert "tokens in a" in stderr
    assert f"index: ok: {demo_index}: 400 pages" in stderr


def test_every_failing_setting_is_named_and_exit_is_2(tmp_path):
    result = run_ltrl("check", "--tokenizer", "tiktoken:o200k_base", "--index", str(tmp_path / "nope"),
                      env={"TIKTOKEN_CACHE_DIR": str(tmp_path)})
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 2
    assert any(line.startswith("ltrl check: tokenizer: --tokenizer tiktoken:o200k_base: the encoding is neither "
                               "cached nor downloadable") for line in lines), lines
    assert any(line.startswith("ltrl check: index: index ") and "not found" in line for line in lines), lines


def test_a_tokenizer_file_that_is_not_one_fails(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{}")
    result = run_ltrl("check", "--tokenizer", str(bad))
    assert result.returncode == 2
    assert "not a tokenizer.json file" in result.stderr.decode()


def test_nothing_to_check_is_a_usage_error():
    result = run_ltrl("check")
    assert result.returncode == 2
    assert "nothing to check" in result.stderr.decode()


def test_the_model_endpoint_is_checked_as_every_model_stage_checks_it():
    from tests.fake_openai import FakeOpenAI, completion
    from tests.test_endpoint import dead_url

    with FakeOpenAI(lambda body: completion("unused"), models=("Qwen/Qwen3-8B",)) as server:
        served = run_ltrl("check", "--base-url", server.base_url, "--model", "Qwen/Qwen3-8B")
        wrong = run_ltrl("check", "--base-url", server.base_url, "--model", "m")
    where = server.base_url.split("//")[1].split("/")[0]
    assert served.returncode == 0, served.stderr
    assert served.stderr.decode().strip() == f"check: endpoint: ok: {where} serves 'Qwen/Qwen3-8B'"
    assert wrong.returncode == 2 and b"does not serve --model 'm'; it serves 'Qwen/Qwen3-8B'" in wrong.stderr
    dead = run_ltrl("check", "--base-url", dead_url(), "--model", "m")
    assert dead.returncode == 2 and b"ltrl check: endpoint: nothing answers at endpoint 127.0.0.1:" in dead.stderr
