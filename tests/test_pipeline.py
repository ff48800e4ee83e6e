"""The whole data pipeline through the real CLI, as a user's shell runs it.

corpus index (conftest) -> walk -> synth (template) -> search-agent (lexical) -> tier ->
assemble -> stats -> export, each a subprocess reading the previous one's stdout.
"""

from __future__ import annotations

import gzip
import subprocess
import sys

import orjson
import pytest

from ltrl_cli.backends.tokenize import load_tokenizer
from tests.conftest import ROOT, jsonl, run_ltrl, to_jsonl
from tests.test_tokenize import train_tokenizer


def stage(*args: str, input: bytes = b"") -> bytes:
    result = run_ltrl(*args, input=input)
    assert result.returncode == 0, f"ltrl {args[0]} failed: {result.stderr.decode()[-2000:]}"
    jsonl(result.stdout)  # every stdout line is a JSON object
    return result.stdout


@pytest.fixture(scope="module")
def tokenizer_json(demo_pages, tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer(["\n".join(p["text"]) for p in demo_pages[:80]], vocab_size=600).save(str(path))
    return path


@pytest.fixture(scope="module")
def tiered(demo_index) -> bytes:
    index = str(demo_index)
    walks = stage("walk", "--index", index, "-n", "6", "--hops", "3", "--seed", "1")
    questions = stage("synth", "--index", index, "--backend", "template", input=walks)
    trajectories = stage("search-agent", "--index", index, "--backend", "lexical", "-k", "2", input=questions)
    # Kept unsolved too: six questions are few, and the lexical stand-in solves only some.
    return stage("tier", "--keep-unsolved", input=trajectories)


TARGET = "12000"  # four gold pages of the demo corpus (~530 words each) and then some


@pytest.fixture(scope="module")
def assembled(demo_index, tiered, tokenizer_json) -> bytes:
    return stage("assemble", "--index", str(demo_index), "--tokenizer", str(tokenizer_json),
                 "--target-tokens", TARGET, input=tiered)


def test_pipeline_end_to_end(demo_index, tiered, assembled, tokenizer_json, tmp_path):
    questions = jsonl(tiered)
    assert questions and all("tiers" in q and q["question"] for q in questions)
    tok = load_tokenizer(str(tokenizer_json))
    by_strategy = {}
    for strategy in ("traj-tiered", "search"):
        out = assembled if strategy == "traj-tiered" else stage(
            "assemble", "--index", str(demo_index), "--tokenizer", str(tokenizer_json),
            "--target-tokens", TARGET, "--strategy", strategy, input=tiered)
        records = jsonl(out)
        by_strategy[strategy] = out
        assert [r["id"] for r in records] == [q["id"] for q in questions]
        for record, question in zip(records, questions):
            meta = record["metadata"]
            assert record["source"] == "longqa" and record["label"] == question["answer"]
            assert meta["rubrics"] == question["gold_entities"] and meta["strategy"] == strategy
            assert meta["tokens"] == tok.count_prompt(record["input_messages"]) <= int(TARGET)
            assert meta["tokens"] >= 0.97 * int(TARGET)
            placed_gold = {d["id"] for d in meta["docs"] if d["tier"] == "gold"}
            assert placed_gold == set(question["tiers"]["gold"])

    figures = orjson.loads(stage("stats", input=by_strategy["traj-tiered"] + by_strategy["search"]))
    assert set(figures["by_strategy"]) == {"traj-tiered", "search"}
    assert figures["tiers"]["gold"]["docs"] == sum(len(q["tiers"]["gold"]) for q in questions) * 2
    assert figures["fill"]["min"] >= 0.97

    parquet = tmp_path / "train.parquet"
    result = run_ltrl("export", "--format", "verl", "-o", str(parquet), input=by_strategy["traj-tiered"])
    assert result.returncode == 0, result.stderr.decode()
    import pyarrow.parquet as pq

    assert pq.read_table(parquet).num_rows == len(questions)


def test_assemble_head_exits_zero(demo_index, tiered, tokenizer_json):
    command = (f"{sys.executable} -m ltrl_cli assemble --index {demo_index} --tokenizer {tokenizer_json} "
               f"--target-tokens {TARGET} | head -1")
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], input=tiered * 3, capture_output=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr.decode()
    assert len(jsonl(result.stdout)) == 1


def test_assemble_cli_errors(demo_index, tiered, tokenizer_json, tmp_path):
    index, tok = str(demo_index), str(tokenizer_json)
    first = jsonl(tiered)[0]
    no_tiers = {k: v for k, v in first.items() if k != "tiers"}
    result = run_ltrl("assemble", "--index", index, "--tokenizer", tok, input=to_jsonl([first, no_tiers]))
    assert result.returncode == 1
    assert "ltrl assemble: line 2: missing field 'tiers'" in result.stderr.decode()
    assert len(jsonl(result.stdout)) == 1  # the good record before it was written whole

    result = run_ltrl("assemble", "--index", index, "--strategy", "bogus", input=b"")
    assert result.returncode == 2 and "traj-tiered" in result.stderr.decode()
    result = run_ltrl("assemble", "--index", index, "--tokenizer", str(tmp_path / "nope"), input=b"")
    assert result.returncode == 1 and "no such file" in result.stderr.decode()
    result = run_ltrl("assemble", "--index", str(tmp_path / "no-index"), "--tokenizer", tok, input=b"")
    assert result.returncode == 1 and "not found" in result.stderr.decode()


def test_a_shard_gets_the_same_contexts_as_the_full_run(demo_index, tiered, assembled, tokenizer_json):
    from ltrl_cli.io import in_shard

    out = stage("assemble", "--index", str(demo_index), "--tokenizer", str(tokenizer_json),
                "--target-tokens", TARGET, "--shard", "1/2", input=tiered)
    full = jsonl(assembled)
    assert jsonl(out) == [r for r in full if in_shard(r["id"], (1, 2))]
    assert 0 < len(jsonl(out)) < len(full) or len(full) < 2


@pytest.mark.slow
def test_wikispeedia_tier1_mentions_gold_far_more_than_random(wikispeedia, tmp_path):
    """The paper's confusability measure on real Wikipedia text (traj-tiered 50%, random 1.35%).

    A 2,000-page slice of Wikispeedia keeps the index build short; questions come from
    3-hop walks (4 gold pages fit a 40K-token context). The lexical stand-in agent solves
    few of them, so unsolved questions are kept: their tiers still hold what a search agent
    opened and saw, which is what the measure is about.
    """
    if not (wikispeedia.parent / "tiktoken").is_dir():
        pytest.skip(f"tiktoken cache not found at {wikispeedia.parent / 'tiktoken'}")
    corpus = tmp_path / "ws.jsonl"
    with gzip.open(wikispeedia) as src, open(corpus, "wb") as dst:
        for number, line in enumerate(src):
            if number == 2000:
                break
            dst.write(line)
    index = str(tmp_path / "idx")
    stage("index", str(corpus), "-o", index)
    walks = stage("walk", "--index", index, "-n", "40", "--hops", "3", "--seed", "1")
    # A real page's sentence, quoted with its names masked, is still found by a search, so
    # needs_chain rejects most template questions on real text; the measure here is about
    # the tiers a search agent leaves, so they are kept, and the agent gets the demo's turns.
    questions = stage("synth", "--index", index, "--backend", "template", "--no-chain-check", input=walks)
    trajectories = stage("search-agent", "--index", index, "--backend", "lexical", "-k", "4", "--max-steps", "60",
                         "--max-rollout-tokens", "131072", input=questions)
    tiered = stage("tier", "--keep-unsolved", input=trajectories)
    contexts = b"".join(stage("assemble", "--index", index, "--target-tokens", "40000", "--strategy", s, input=tiered)
                        for s in ("traj-tiered", "random"))
    figures = orjson.loads(stage("stats", input=contexts))["by_strategy"]
    tier1 = figures["traj-tiered"]["tiers"]["tier1"]["mention_rate"]
    random_fill = figures["random"]["tiers"]["random"]["mention_rate"]
    # The stand-in follows the whole chain on real pages now and opens few pages it does not
    # cite there (a handful of Tier-1 documents out of 40 questions); the rate is what counts.
    assert figures["traj-tiered"]["tiers"]["tier1"]["docs"] >= 5
    assert tier1 >= 0.15 and tier1 >= 3 * random_fill, (tier1, random_fill)
