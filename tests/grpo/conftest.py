"""Fixtures for the GRPO tests: a tiny random Qwen3 built once per session, and tiny data.

No download: the tokenizer is trained here on the prompts, the weights are random.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("trl", reason="ltrl grpo needs the train extra (torch, transformers, trl, peft)")

RECORDS = [
    {"id": "q1", "source": "longqa", "label": "Springfield",
     "input_messages": [{"role": "user", "content": "Doc: Alice was born in Springfield. Q: where was Alice born?"}],
     "metadata": {"rubrics": ["Alice", "e"], "question": "Where was Alice born?"}},
    {"id": "q2", "source": "longqa", "label": "Paris",
     "input_messages": [{"role": "user", "content": "Doc: The capital of France is Paris. Q: capital of France?"}],
     "metadata": {"rubrics": ["a", "t"], "question": "What is the capital of France?"}},
    {"id": "q3", "source": "longqa", "label": "42",
     "input_messages": [{"role": "user", "content": "Doc: The answer is 42. Q: what is the answer?"}],
     "metadata": {"rubrics": ["i", "o", "n"], "question": "What is the answer?"}},
    {"id": "q4", "source": "longqa", "label": "Bob",
     "input_messages": [{"role": "user", "content": "Doc: The film was directed by Bob. Q: who directed it?"}],
     "metadata": {"rubrics": ["s", "r"], "question": "Who directed the film?"}},
]

# Two LongBench v2 rows (the owners' columns), short enough for the tiny model: evaluation
# on an `ltrl eval` benchmark (--eval-benchmark longbench-v2).
LONGBENCH = [{"_id": f"lb{i}", "question": "Who was born in Springfield?", "choice_A": "Alice", "choice_B": "Bob",
              "choice_C": "Paris", "choice_D": "42", "answer": "A", "context": "Alice was born in Springfield.",
              "difficulty": "easy", "length": "short", "domain": "test"} for i in range(2)]

# Small enough for seconds per step on a CPU; `thinking: false` so the random model's text
# is all content (a thinking model's content would be empty without a </think>), and
# single-letter rubrics so recall varies within a group and the group max matters. The
# random model's 12 tokens are nearly always truncated, so the first run turns the
# ill-formed rule off (rewards vary); the resumed run turns it back on.
TINY_SETTINGS = """\
num_generations: 4
prompts_per_step: 1
per_device_batch_size: 4
max_completion_length: 12
max_prompt_length: 512
thinking: false
reward_mode: neg-only
gradient_checkpointing: false
log_rewards: true
punish_ill_formed: false
"""


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from ltrl_cli.grpo.tiny import build_tiny

    texts = [m["content"] for r in RECORDS for m in r["input_messages"]]
    return build_tiny(tmp_path_factory.mktemp("tiny-qwen3"), texts)

