"""`ltrl grpo --report-to`: the method's metrics, and `--eval-data`'s scores, in the trackers.

One 2-step run of the tiny random Qwen3 on CPU, trained from ltrl's TRL parquet export,
evaluated at step 2 on a JSONL file, reporting to TensorBoard, to W&B in its offline mode
and to trackio's local database (no network). Each is read back from its files:
TensorBoard's with its own event reader, W&B's run file with a reader of its record log
written here (wandb 0.31 ships none), trackio's SQLite database with sqlite3.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ltrl_cli.stages import export
from tests.conftest import jsonl, run_ltrl, to_jsonl
from tests.grpo.conftest import RECORDS, TINY_SETTINGS

pytestmark = pytest.mark.slow

# The method's metrics, as TRL logs them (TensorBoard and W&B prefix train/ and eval/).
METHOD = ("ltrl/reward", "ltrl/outcome_accuracy", "ltrl/rubric_reward", "ltrl/rubric_reward_normalized",
          "rewards/ltrl/mean", "ltrl/ill_formed", "ltrl/truncated_fraction", "ltrl/excluded",
          "completions/mean_length")


@pytest.fixture(scope="module")
def run(tiny_model, tmp_path_factory):
    pytest.importorskip("tensorboard", reason="the tensorboard extra")
    pytest.importorskip("wandb", reason="the wandb extra")
    pytest.importorskip("trackio", reason="the trackio extra")
    tmp = tmp_path_factory.mktemp("grpo-trackers")
    export.write_parquet(export.rows(RECORDS, "trl"), tmp / "train.parquet", "trl")
    (tmp / "dev.jsonl").write_bytes(to_jsonl(RECORDS[:2]))
    (tmp / "tiny.yaml").write_text(TINY_SETTINGS)
    env = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_API_KEY": "", "WANDB_DISABLE_GIT": "true"}
    result = run_ltrl("grpo", "--data", str(tmp / "train.parquet"), "--model", str(tiny_model), "-o", str(tmp / "run"),
                      "--config", str(tmp / "tiny.yaml"), "--max-steps", "2", "--eval-data", str(tmp / "dev.jsonl"),
                      "--eval-every", "2", "--report-to", "tensorboard", "--report-to", "wandb",
                      "--report-to", "trackio",
                      "--run-name", "tiny-a", "--logging-dir", str(tmp / "logs"), "--set", "lr_scheduler_type=linear",
                      env=env)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return SimpleNamespace(result=result, logs=tmp / "logs", out=tmp / "run")


def test_stdout_stays_the_jsonl_and_stderr_gives_the_evaluation(run):
    assert [r["step"] for r in jsonl(run.result.stdout)] == [1, 2]
    assert b"evaluating 2 prompts every 2 steps" in run.result.stderr
    assert b"grpo: evaluation at step 2: ltrl/outcome_accuracy " in run.result.stderr


def test_tensorboard_events_hold_the_methods_metrics_and_the_evaluation(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run.logs))  # --logging-dir: the event files are here
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {f"train/{key}" for key in METHOD} <= scalars
    assert {f"eval/{key}" for key in METHOD} <= scalars
    assert [e.step for e in events.Scalars("train/ltrl/outcome_accuracy")] == [1, 2]
    assert [e.step for e in events.Scalars("eval/ltrl/outcome_accuracy")] == [2]
    # the values are the step records' (float32 in the event file)
    records = jsonl(run.result.stdout)
    assert [round(e.value, 5) for e in events.Scalars("train/ltrl/rubric_reward")] == \
        [round(r["rubric_reward"], 5) for r in records]
    # evaluation scores the outcome alone (eta 0, as the authors' evaluation)
    assert events.Scalars("eval/reward")[0].value == events.Scalars("eval/ltrl/outcome_accuracy")[0].value


def wandb_records(path):
    """The protobuf records of a W&B run file: a 7-byte header (`:W&B`, magic, version),
    then LevelDB's log format: 32 KiB blocks of chunks, each with a 7-byte header (CRC,
    little-endian length, type: 1 full, 2 first, 3 middle, 4 last)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        if left < 7 or kind == 0:  # the block's zero padding
            pos += left
            continue
        pending += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def test_wandb_offline_run_holds_the_methods_metrics_and_the_run_name(run):
    [path] = run.logs.glob("wandb/offline-run-*/run-*.wandb")  # --logging-dir is W&B's folder too
    history, names = [], []
    for record in wandb_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            history.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                            for item in record.history.item})
        elif kind == "run":
            names.append(record.run.display_name)
    assert names and set(names) == {"tiny-a"}
    logged = set().union(*history)
    assert {f"train/{key}" for key in METHOD} <= logged and {f"eval/{key}" for key in METHOD} <= logged
    steps = [h["train/global_step"] for h in history if "train/ltrl/outcome_accuracy" in h]
    assert steps == [1, 2]
    assert [h["train/global_step"] for h in history if "eval/ltrl/outcome_accuracy" in h] == [2]


def test_the_settings_file_keeps_the_trackers_and_the_trl_fields(run):
    from ltrl_cli.grpo.config import CONFIG_NAME, load

    settings = load(run.out / CONFIG_NAME)
    assert settings.trl["report_to"] == ["tensorboard", "wandb", "trackio"] and settings.trl["run_name"] == "tiny-a"
    assert settings.trl["lr_scheduler_type"] == "linear" and settings.trl["eval_steps"] == 2


def test_trackio_database_holds_the_methods_metrics_and_the_run_name(run):
    import sqlite3

    [path] = run.logs.glob("*.db")  # --logging-dir is trackio's folder: one database per project
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT run_name, step, metrics FROM metrics ORDER BY id").fetchall()
    assert rows and {name for name, _, _ in rows} == {"tiny-a"}
    logged = [(step, json.loads(metrics)) for _, step, metrics in rows]
    keys = set().union(*(m for _, m in logged))
    assert {f"train/{key}" for key in METHOD} <= keys and {f"eval/{key}" for key in METHOD} <= keys
    assert [step for step, m in logged if "train/ltrl/outcome_accuracy" in m] == [1, 2]
    # one evaluation, after the second step (trackio numbers its own rows: the evaluation's
    # row comes after step 2's, and carries the trainer's step as train/global_step)
    [(step, evaluation)] = [(step, m) for step, m in logged if "eval/ltrl/outcome_accuracy" in m]
    assert step >= 2 and evaluation.get("train/global_step", 2) == 2
