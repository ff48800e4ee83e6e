"""The verl reward entry points on `ltrl export --format verl` data, called as verl calls them.

verl is not installed here (it would move transformers down; docs/grpo.md): the calls use
verl's documented keyword signatures. With LTRL_VERL_PYTHON set to an interpreter that has
verl, the last test drives verl's own reward managers on the same batch.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess

import pytest

from ltrl_cli.errors import BackendError
from ltrl_cli.grpo import verl as V
from ltrl_cli.reward import rules as R
from tests.conftest import ROOT, jsonl, run_ltrl, to_jsonl
from tests.fake_openai import FakeOpenAI, completion
from tests.stages.test_stats import assembled

pytest.importorskip("pyarrow")

RECORDS = [
    assembled("a", [("gold", "Paris", "Paris is in France."), ("tier1", "Lyon", "Lyon.")], ["France", "Seine", "Lyon"]),
    assembled("b", [("gold", "Rome", "Rome."), ("random", "Cats", "Cats.")], ["Rome", "Tiber"]),
]
RESPONSES = {  # n = 4 per prompt; every label is "Paris"
    "a": ["<think>x</think>Paris, on the Seine in France", "<think>Lyon?</think>Paris", "<think>y</think>Lyon, France",
          "no thinking at all"],
    "b": ["<think>Rome</think>Paris", "<think>z</think>Paris, not Rome by the Tiber", "<think>q</think>Rome",
          "<think>a</think>b</think>Paris, Rome"],
}
N = 4


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """The exported rows, each repeated n times in a row (as verl's trainer lays out a batch)."""
    import pyarrow.parquet as pq

    out = tmp_path_factory.mktemp("verl") / "train.parquet"
    result = run_ltrl("export", "--format", "verl", "-o", str(out), input=to_jsonl(RECORDS))
    assert result.returncode == 0, result.stderr.decode()
    rows = [row for row in pq.read_table(out).to_pylist() for _ in range(N)]
    return {
        "data_sources": [r["data_source"] for r in rows],
        "solution_strs": [text for r in pq.read_table(out).to_pylist() for text in RESPONSES[r["extra_info"]["id"]]],
        "ground_truths": [r["reward_model"]["ground_truth"] for r in rows],
        "extra_infos": [r["extra_info"] for r in rows],
        "parquet": out,
    }


def ltrl_score_groups() -> list[dict]:
    """`ltrl score` on the same groups: the reference."""
    groups = [{"id": r["id"], "label": r["label"], "rubrics": r["metadata"]["rubrics"],
               "question": r["metadata"]["question"], "responses": RESPONSES[r["id"]]} for r in RECORDS]
    result = run_ltrl("score", "--judge", "contains", input=to_jsonl(groups))
    assert result.returncode == 0, result.stderr.decode()
    return [reward for record in jsonl(result.stdout) for reward in record["rewards"]]


def test_batch_entry_point_shapes_whole_groups_as_ltrl_score(batch):
    keys = ("data_sources", "solution_strs", "ground_truths", "extra_infos")
    got = V.compute_score_batch(**{k: batch[k] for k in keys}, judge="contains")  # verl's batch manager's call
    want = ltrl_score_groups()
    assert [g["score"] for g in got] == pytest.approx([w["reward"] for w in want])
    assert [g["rubric_reward_normalized"] for g in got] == pytest.approx([w["rubric_reward_normalized"] for w in want])
    assert [g["outcome_reward"] for g in got] == [w["outcome_reward"] for w in want]
    assert all(isinstance(v, float) for g in got for v in g.values())  # verl logs each key as a column


def test_per_sample_entry_point_has_verls_signature_and_no_group(batch):
    params = list(inspect.signature(V.compute_score).parameters)
    assert params[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]
    for i in range(len(batch["solution_strs"])):
        got = V.compute_score(data_source=batch["data_sources"][i], solution_str=batch["solution_strs"][i],
                              ground_truth=batch["ground_truths"][i], extra_info=batch["extra_infos"][i],
                              judge="contains", alpha=0.3)
        text, rubrics = batch["solution_strs"][i], list(batch["extra_infos"][i]["rubrics"])
        want = R.score_response(text, float("Paris" in R.split_response(text).content), rubrics)
        assert got["score"] == pytest.approx(want.reward) and got["rubric_reward"] == want.rubric_reward


def test_a_missing_verdict_stops_the_step_unless_asked_to_score_it_zero(batch):
    kwargs = {k: batch[k][:N] for k in ("data_sources", "solution_strs", "ground_truths", "extra_infos")}
    with FakeOpenAI(lambda body: completion("I cannot tell.")) as server:
        judge = {"judge": "llm", "judge_base_url": server.base_url, "judge_model": "j"}
        with pytest.raises(BackendError, match=r"no verdict for 3 of 4 responses .*on_judge_error: zero"):
            V.compute_score_batch(**kwargs, **judge)
        got = V.compute_score_batch(**kwargs, **judge, on_judge_error="zero")
    assert [g["score"] for g in got] == [0.0] * 4
    assert [g["judge_error"] for g in got] == [1.0, 1.0, 1.0, 0.0]  # the last has no content: never asked


def test_bad_reward_kwargs_name_the_key(batch):
    from ltrl_cli.errors import UsageError

    with pytest.raises(UsageError, match="unknown setting 'judg'"):
        V.compute_score("longqa", "x", "y", {}, judg="exact")
    with pytest.raises(UsageError, match="on_judge_error: expected error or zero"):
        V.compute_score("longqa", "x", "y", {}, on_judge_error="skip")
    # verl's own additions to the call (a reward model configured beside) are not settings
    assert V.compute_score("longqa", "</think>y", "y", {}, reward_router_address="h:1",
                           reward_model_tokenizer=None)["score"] == 0.7


VERL_DRIVER = r"""
import json, sys
from functools import partial
import numpy as np, torch, pyarrow.parquet as pq
from verl import DataProto
from verl.utils.import_utils import load_extern_object
from verl.workers.reward_manager.batch import BatchRewardManager

class CharTokenizer:  # ids are character codes; 0 pads
    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(int(i)) for i in ids if int(i))

path, parquet, responses, n = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
rows = [r for r in pq.read_table(parquet).to_pylist() for _ in range(n)]
texts = [t for r in pq.read_table(parquet).to_pylist() for t in responses[r["extra_info"]["id"]]]
width = max(map(len, texts))
resp = torch.tensor([[ord(c) for c in t] + [0] * (width - len(t)) for t in texts])
prompts = torch.ones(len(texts), 3, dtype=torch.long)
mask = torch.cat([torch.ones_like(prompts), (resp != 0).long()], dim=1)
data = DataProto.from_dict(
    tensors={"prompts": prompts, "responses": resp, "attention_mask": mask},
    non_tensors={"data_source": np.array([r["data_source"] for r in rows], dtype=object),
                 "reward_model": np.array([r["reward_model"] for r in rows], dtype=object),
                 "extra_info": np.array([r["extra_info"] for r in rows], dtype=object)})
fn = load_extern_object(module_path=path, object_name="compute_score_batch")
manager = BatchRewardManager(CharTokenizer(), 0, partial(fn, judge="contains"))
out = manager(data, return_dict=True)
lengths = (resp != 0).sum(dim=1)
batched = [out["reward_tensor"][i, lengths[i] - 1].item() for i in range(len(texts))]
# verl 0.9's reward loop: the per-sample `naive` manager, one response at a time
from omegaconf import OmegaConf
from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager
naive = NaiveRewardManager(OmegaConf.create({}), CharTokenizer(),
                           partial(load_extern_object(module_path=path, object_name="compute_score"), judge="contains"))
single = [naive.loop.run_until_complete(naive.run_single(data[i:i + 1]))["reward_score"] for i in range(len(texts))]
print(json.dumps({"batch": batched, "single": single}))
"""


@pytest.mark.skipif(not os.environ.get("LTRL_VERL_PYTHON"), reason="set LTRL_VERL_PYTHON to a Python with verl")
def test_verls_own_batch_manager_gives_ltrl_scores_rewards(batch):
    result = subprocess.run(
        [os.environ["LTRL_VERL_PYTHON"], "-c", VERL_DRIVER, V.__file__, str(batch["parquet"]), json.dumps(RESPONSES),
         str(N)], capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    got = json.loads(result.stdout.decode().strip().splitlines()[-1])
    assert got["batch"] == pytest.approx([w["reward"] for w in ltrl_score_groups()])
    singles = [V.compute_score("longqa", t, "Paris", info, judge="contains")["score"]
               for t, info in zip(batch["solution_strs"], batch["extra_infos"])]
    assert got["single"] == pytest.approx(singles)
