"""`--data` and `--eval-data`: JSONL, ltrl's parquet exports, save_to_disk folders, hub names."""

from __future__ import annotations

import pytest

from ltrl_cli.errors import BadInput
from ltrl_cli.grpo.data import data_kind, load_rows
from ltrl_cli.stages import export
from tests.conftest import run_ltrl, to_jsonl
from tests.grpo.conftest import LONGBENCH, RECORDS

WANT = [{"prompt": r["input_messages"], "label": r["label"], "rubrics": r["metadata"]["rubrics"],
         "question": r["metadata"]["question"], "prompt_id": r["id"]} for r in RECORDS]


def _parquet(tmp_path, fmt: str):
    path = tmp_path / f"{fmt}.parquet"
    export.write_parquet(export.rows(RECORDS, fmt), path, fmt)
    return str(path)


@pytest.mark.parametrize("fmt", ["trl", "verl"])
def test_ltrls_parquet_exports_read_as_the_jsonl_they_came_from(tmp_path, fmt):
    (tmp_path / "train.jsonl").write_bytes(to_jsonl(RECORDS))
    assert load_rows(str(tmp_path / "train.jsonl")) == WANT
    assert load_rows(_parquet(tmp_path, fmt)) == WANT


def test_save_to_disk_folders_dataset_or_train_split(tmp_path):
    import datasets

    rows = list(export.rows(RECORDS, "trl"))
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "flat"))
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows),
                          "test": datasets.Dataset.from_list(rows[:1])}).save_to_disk(str(tmp_path / "splits"))
    assert load_rows(str(tmp_path / "flat")) == WANT
    assert load_rows(str(tmp_path / "splits")) == WANT  # the train split
    (tmp_path / "plain").mkdir()
    with pytest.raises(BadInput, match="plain: cannot load it from a dataset folder"):
        load_rows(str(tmp_path / "plain"))


@pytest.mark.parametrize("fmt", ["trl", "verl"])
def test_ltrl_export_dataset_folders_with_their_card(tmp_path, fmt):
    result = run_ltrl("export", "--format", fmt, "-o", f"{tmp_path}/out/", input=to_jsonl(RECORDS))
    assert result.returncode == 0, result.stderr.decode()
    assert data_kind(str(tmp_path / "out")) == "folder"
    assert load_rows(str(tmp_path / "out")) == WANT


def test_a_bad_row_names_its_source_and_number(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([{"prompt": "not a chat", "label": "A"}]), tmp_path / "bad.parquet")
    with pytest.raises(BadInput, match=r"bad.parquet: row 1: "):
        load_rows(str(tmp_path / "bad.parquet"))


def test_a_hub_name_offline_is_one_line_exit_1(tmp_path):
    (tmp_path / "m").mkdir()
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    result = run_ltrl("grpo", "--data", "someorg/some-dataset", "--model", str(tmp_path / "m"),
                      "-o", str(tmp_path / "run"), "--dry-run", env=env)
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode().splitlines()[-1] == (
        "ltrl grpo: someorg/some-dataset: cannot load it from the Hugging Face hub (ConnectionError: Couldn't "
        "reach 'someorg/some-dataset' on the Hub (OfflineModeIsEnabled))")
    assert not (tmp_path / "run").exists()  # nothing written before the data was read


def test_an_eval_benchmark_is_read_and_graded_as_ltrl_eval_does(tmp_path):
    from ltrl_cli.grpo.benchmark import BenchmarkGrader
    from ltrl_cli.grpo.config import GrpoSettings

    (tmp_path / "lb.jsonl").write_bytes(to_jsonl(LONGBENCH))
    rows = load_rows(str(tmp_path / "lb.jsonl"), benchmark="longbench-v2")
    assert [r["prompt_id"] for r in rows] == ["lb0", "lb1"] and rows[0]["label"] == "A"
    assert "Alice was born in Springfield." in rows[0]["prompt"][0]["content"]  # the owners' template
    grader = BenchmarkGrader(GrpoSettings(eval_benchmark="longbench-v2", thinking=True))
    texts = ["x</think>The correct answer is (A)", "x</think>The correct answer is (B)", "no think, no answer"]
    scored = grader.local_scores([rows[0]] * 3, texts, [False, False, True])
    assert [c.outcome for c in scored] == [1.0, 0.0, 0.0] and [c.truncated for c in scored] == [False, False, True]


@pytest.mark.parametrize("args, message", [
    (["--eval-benchmark", "nope"], "ltrl grpo: --eval-benchmark 'nope': expected one of aa-lcr, mrcr, frames, "
                                   "longbench-v2, longreason"),
    (["--eval-benchmark", "longbench-v2"], "ltrl grpo: --eval-benchmark longbench-v2 needs --eval-data"),
    (["--eval-benchmark", "aa-lcr", "--eval-data", "x"], "ltrl grpo: --eval-benchmark aa-lcr is graded by an LLM "
                                                         "judge: give --judge-base-url and --judge-model"),
])
def test_eval_benchmark_usage_errors(tmp_path, monkeypatch, args, message):
    from typer.testing import CliRunner

    from ltrl_cli.cli import app

    for name in ("LTRL_JUDGE_BASE_URL", "LTRL_JUDGE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "d.jsonl").write_bytes(to_jsonl(RECORDS))
    result = CliRunner().invoke(app, ["grpo", "--data", str(tmp_path / "d.jsonl"), "--model", "m",
                                      "-o", str(tmp_path / "run"), *args])
    assert result.exit_code == 2 and result.stderr.splitlines()[0].startswith(message), result.stderr
