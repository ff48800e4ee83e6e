"""`ltrl export --format slime` read as the authors' slime reads it, scored by `ltrl score --serve`.

What slime does with a record (METHOD.md, "Trainer"; their slime/utils/data.py,
rollout/sglang_rollout.py, rollout/rollout_skip_illform.py, rollout/rm_hub): the loader
looks the record's `source` up in the source config, renders `input_messages` with the
named message processor and keeps `metadata` (plus the reward-model entry); the rollout
adds eta and the two rubric switches to `metadata.extra_reward_info` (eta 0 in
evaluation), appends the parsed assistant turn to the chat as `metadata.history`, and its
`remote_rm` posts {key: the sample's attribute, else metadata[key]} for each input key.
The helpers below do those steps in this test's own code, then post the body.
"""

from __future__ import annotations

import copy
import json

import pytest

from tests.conftest import run_ltrl, to_jsonl
from tests.reward.test_server import Server
from tests.stages.test_stats import assembled

QWEN3 = "slime.rollout.message_processor_hub.qwen3_message_processor.Qwen3MessageProcessor"
RECORDS = [
    assembled("a", [("gold", "Paris", "Paris is in France."), ("tier1", "Lyon", "Lyon.")], ["Paris", "France"]),
    assembled("b", [("gold", "Rome", "Rome."), ("random", "Cats", "Cats.")], ["Rome", "Italy", "Tiber"]),
]


@pytest.fixture(scope="module")
def server():
    srv = Server("--judge", "contains")
    yield srv
    srv.stop()


def load_like_slime(lines: list[str], config: dict) -> list[dict]:
    """The loader with a source config: one sample per record, routed by `source`."""
    samples = []
    for line in lines:
        if not line.strip():
            continue
        data = json.loads(line)
        assert "source" in data, "without `source` slime falls back to its plain loader"
        entry = config[data["source"]]  # theirs asserts the source is in the config
        metadata = data.get("metadata", {})
        metadata["input_messages"] = data["input_messages"]
        metadata["reward_model_info"] = copy.deepcopy(entry["reward_model"])
        samples.append({"label": data.get("label"), "metadata": metadata,
                        "processor": entry["message_processor"]["class"]})
    return samples


def qwen3_turn(raw: str) -> dict:
    """The Qwen3 processor's split of a completion: a finished one (stop token at its end) is
    split at its last </think>; a cut one is kept whole under `truncated_content`."""
    if not raw.endswith("<|im_end|>"):
        return {"role": "assistant", "truncated_content": raw}
    body = raw.removesuffix("<|im_end|>")
    reasoning, content = body.rsplit("</think>", 1)
    return {"role": "assistant", "reasoning_content": reasoning.removesuffix("\n"), "content": content.removeprefix("\n\n")}


def rollout_body(sample: dict, raw: str, *, eta: float, evaluation: bool = False) -> tuple[str, dict]:
    """What the rollout posts for one completion, and where."""
    meta = sample["metadata"]
    info = meta["extra_reward_info"]  # a KeyError here is the failure issue 12 reported
    info.setdefault("rubric_reward_ratio", 0 if evaluation else eta)
    info.setdefault("rubric_use_reasoning_content", False)
    info.setdefault("rubric_use_content", True)
    meta["history"] = copy.deepcopy(meta["input_messages"]) + [qwen3_turn(raw)]
    rm = meta["reward_model_info"]
    assert rm["function"] == "remote_rm"
    payload = {key: sample[key] if key in ("label",) else meta[key] for key in rm["kwargs"]["input_keys"]}
    return rm["kwargs"]["remote_url"], payload


def export_slime(tmp_path, url: str, *extra: str):
    out, config = tmp_path / "slime.jsonl", tmp_path / "source.json"
    result = run_ltrl("export", "--format", "slime", "-o", str(out), "--source-config", str(config),
                      "--reward-url", url, *extra, input=to_jsonl(RECORDS))
    assert result.returncode == 0, result.stderr.decode()
    return out.read_text().splitlines(), json.loads(config.read_text())


def test_the_export_loads_and_its_history_body_scores_on_the_server(tmp_path, server):
    lines, config = export_slime(tmp_path, server.url)
    assert set(config) == {"longqa"} and config["longqa"]["message_processor"]["class"] == QWEN3
    assert config["longqa"]["reward_model"] == {"function": "remote_rm", "kwargs": {
        "remote_url": server.url + "/evaluate", "input_keys": ["label", "extra_reward_info", "history"]}}
    samples = load_like_slime(lines, config)
    assert [s["metadata"]["extra_reward_info"] for s in samples] == [
        {"question": "Where?", "rubrics": ["Paris", "France"], "dataset_name": "longqa"},
        {"question": "Where?", "rubrics": ["Rome", "Italy", "Tiber"], "dataset_name": "longqa"}]
    # record a: right answer naming one of the two rubric entities in its content
    url, payload = rollout_body(samples[0], "The capital.\n</think>\n\nParis<|im_end|>", eta=0.3)
    assert url == server.url + "/evaluate" and set(payload) == {"label", "extra_reward_info", "history"}
    status, reply = server.post("/evaluate", payload)
    assert status == 200, reply
    assert (reply["outcome_reward"], reply["rubric_reward"]) == (1.0, 0.5)
    assert reply["reward"] == pytest.approx(0.7 * 1.0 + 0.3 * 0.5)


def test_an_evaluation_body_is_the_outcome_alone(tmp_path, server):
    lines, config = export_slime(tmp_path, server.url + "/")
    sample = load_like_slime(lines, config)[1]
    url, payload = rollout_body(sample, "Tiber river\n</think>\n\nParis (not Rome)<|im_end|>", eta=0.3, evaluation=True)
    assert payload["extra_reward_info"]["rubric_reward_ratio"] == 0
    status, reply = server.post("/evaluate", payload)
    assert status == 200 and reply["outcome_reward"] == 1.0 and reply["reward"] == 1.0
    # an evaluation sample cut by the length limit still reaches the server (training
    # scores it 0 before asking): the answer is 0, not an error that would end the run
    sample = load_like_slime(lines, config)[0]
    _, payload = rollout_body(sample, "Paris is in Fr", eta=0.3, evaluation=True)
    assert "content" not in payload["history"][-1]
    status, reply = server.post("/evaluate", payload)
    assert status == 200 and (reply["outcome_reward"], reply["rubric_reward"], reply["reward"]) == (0, 0, 0)


def test_message_processor_and_option_errors(tmp_path):
    _, config = export_slime(tmp_path, "http://rm:9000/evaluate", "--message-processor", "deepseek-r1-distill")
    assert config["longqa"]["message_processor"]["class"].endswith(".DeepSeekR1DistillMessageProcessor")
    assert config["longqa"]["reward_model"]["kwargs"]["remote_url"] == "http://rm:9000/evaluate"
    for args, message in [
        (["--source-config", "x.json"], "--source-config and --reward-url go together"),
        (["--source-config", "x.json", "--reward-url", "rm:9000"], "--reward-url 'rm:9000': expected http://"),
        (["--source-config", "x.json", "--reward-url", "http://rm", "--message-processor", "llama"],
         "--message-processor 'llama': choose qwen3, deepseek-r1-distill"),
    ]:
        result = run_ltrl("export", "--format", "slime", *args, input=to_jsonl(RECORDS), cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr.decode(), result.stderr.decode()
        assert not (tmp_path / "x.json").exists()
    result = run_ltrl("export", "--format", "verl", "-o", "t.parquet", "--reward-url", "http://rm",
                      input=to_jsonl(RECORDS), cwd=tmp_path)
    assert result.returncode == 2 and "are for --format slime" in result.stderr.decode()


def test_a_record_without_its_question_is_refused(tmp_path):
    record = copy.deepcopy(RECORDS[0])
    del record["metadata"]["question"]
    result = run_ltrl("export", "--format", "slime", input=to_jsonl([record]))
    assert result.returncode == 1
    assert "ltrl export: line 1: no metadata.question" in result.stderr.decode()
    assert "(record 'a')" in result.stderr.decode()
