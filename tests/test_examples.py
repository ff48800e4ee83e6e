"""The scripts people run (examples/*.sh), run as they run them, against the test model server.

Each script gets small sizes through its own environment variables and ends with training
records (and, for the model runs, all three exports). The KILT script runs on the shared
Wikispeedia pages and on a sample with KILT markup and no anchors; batch-shards.sh runs
with SHARDS_BACKEND=openai; the demo runs offline. Then the KILT script is killed (SIGKILL
to its process group, as a lost node or a Slurm limit kills a job) during synth, and again
during search-agent, and run once more: the same records as a run never killed, and no
request the server had answered is sent again.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHARED_DATA
from tests.model_server import MODEL, Faults, ModelServer

pytestmark = pytest.mark.slow

WALKS = 12
# Small sizes through the scripts' own settings; tiktoken instead of a hub tokenizer (offline).
KILT_SETTINGS = {"WALKS": str(WALKS), "HOPS": "4", "ROLLOUTS": "2", "TARGET_TOKENS": "65536",
                 "TOKENIZER": "tiktoken:o200k_base", "CONCURRENCY": "8", "THREADS": "8"}
SERVER_SEED = 0
EXPORTS = ("train-slime.jsonl", "train-verl.parquet", "train-trl.parquet")
# Keys that say how a run went (time, cache hits), not what it produced.
VOLATILE = {"time_s", "cached", "cached_turns"}


def script_env(**settings: str) -> dict[str, str]:
    """The environment of a person's shell: ltrl on PATH, offline hubs, the shared tiktoken files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LTRL_"))}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(ROOT),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OPENAI_API_KEY="test-key", **settings)
    if (SHARED_DATA / "tiktoken").is_dir():
        env["TIKTOKEN_CACHE_DIR"] = str(SHARED_DATA / "tiktoken")
    return env


def run_script(name: str, *args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(["bash", str(ROOT / "examples" / name), *map(str, args)], env=env, capture_output=True,
                            timeout=900, stdin=subprocess.DEVNULL, cwd=ROOT)
    assert result.returncode == 0, f"{name} exited {result.returncode}:\n{result.stderr.decode()[-4000:]}"
    return result


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def without_volatile(value):
    if isinstance(value, dict):
        return {k: without_volatile(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [without_volatile(v) for v in value]
    return value


def assert_trained_and_exported(work: Path, tokenizer: str = "tiktoken:o200k_base") -> list[dict]:
    train = read_jsonl(work / "train.jsonl")
    assert train, "no training records"
    assert all(r["metadata"]["tokenizer"] == tokenizer for r in train)
    for name in EXPORTS:
        assert (work / name).stat().st_size > 0, f"{name} missing"
    assert len(read_jsonl(work / "train-slime.jsonl")) == len(train)
    assert not list(work.glob("*.partial")), "a stage left a partial file"
    return train


@pytest.fixture(scope="module")
def tiktoken_ready():
    if not (SHARED_DATA / "tiktoken").is_dir():
        pytest.skip(f"{SHARED_DATA / 'tiktoken'} not found")


@pytest.fixture(scope="module")
def wikispeedia_file(tiktoken_ready) -> Path:
    path = SHARED_DATA / "wikispeedia-kilt.jsonl.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="module")
def wikispeedia_run(wikispeedia_file, tmp_path_factory) -> tuple[Path, dict]:
    """kilt-pipeline.sh on the shared Wikispeedia pages, from the index on: (WORK, server counters)."""
    work = tmp_path_factory.mktemp("kilt-wikispeedia")
    with ModelServer(seed=SERVER_SEED) as server:
        env = script_env(KILT=str(wikispeedia_file), BASE_URL=server.base_url, MODEL=MODEL, **KILT_SETTINGS)
        run_script("kilt-pipeline.sh", work, env=env)
        return work, dict(server.stats)


def test_kilt_pipeline_on_wikispeedia(wikispeedia_run):
    work, stats = wikispeedia_run
    assert (work / "index" / "COMPLETE").is_file()
    train = assert_trained_and_exported(work)
    assert len(train) >= WALKS // 2
    assert stats.get("repeats", 0) == 0, stats
    # The server's misbehaviours happened, and the run got through them.
    assert sum(v for k, v in stats.items() if k.startswith("fault ")) > 0, stats
    assert {"role writer", "role agent", "role judge"} <= stats.keys()


HEADINGS = ["History", "Geography", "Culture", "Economy", "Legacy"]


def kilt_markup(page: dict) -> dict:
    """A Wikispeedia page as real KILT writes text, and as KILT-derived samples keep it:
    `{wikipedia_title, text}` only (no anchors, no ids), `text[0]` the title line, headings
    as paragraphs of their own (`Section::::History.`), short `key: value` lines as list items
    (`BULLET::::- `), and the references section near the end."""
    title = page["wikipedia_title"]
    text = [f"{title}\n"]
    for number, paragraph in enumerate(p.strip() for p in page["text"][1:] if p.strip()):
        if number and number % 4 == 0:
            text.append(f"Section::::{HEADINGS[number // 4 % len(HEADINGS)]}.\n")
        text.append(f"BULLET::::- {paragraph}\n" if len(paragraph) < 80 and ":" in paragraph else f"{paragraph}\n")
    text += ["Section::::References.\n", f"BULLET::::- {title}, in the 2007 Schools Wikipedia.\n"]
    return {"wikipedia_title": title, "text": text}


def hf_tokenizer(texts: list[str], where: Path) -> Path:
    """A Hugging Face tokenizer directory (a byte-level BPE with a chat template), as a
    model's own tokenizer is laid out: what TOKENIZER names in a real run, here offline."""
    from transformers import PreTrainedTokenizerFast

    from ltrl_cli.backends.tokenize import train_bpe

    template = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    bpe = train_bpe(texts, 2000, special_tokens=["<|im_start|>", "<|im_end|>"])
    PreTrainedTokenizerFast(tokenizer_object=bpe, chat_template=template).save_pretrained(where)
    return where


def test_kilt_pipeline_on_kilt_markup_without_anchors(wikispeedia_file, tmp_path):
    sample = tmp_path / "kilt-sample.jsonl"
    with gzip.open(wikispeedia_file, "rt") as pages:
        records = [kilt_markup(json.loads(line)) for line in itertools.islice(pages, 500)]
    sample.write_text("".join(json.dumps(r) + "\n" for r in records))
    tokenizer = str(hf_tokenizer(["".join(r["text"]) for r in records[:100]], tmp_path / "tokenizer"))
    work = tmp_path / "work"
    with ModelServer(seed=SERVER_SEED) as server:
        env = script_env(KILT=str(sample), BASE_URL=server.base_url, MODEL=MODEL,
                         **{**KILT_SETTINGS, "TOKENIZER": tokenizer})
        result = run_script("kilt-pipeline.sh", work, env=env)
        assert server.stats.get("repeats", 0) == 0
    assert "inferring links from mentions" in result.stderr.decode()
    assert "with a chat template" in result.stderr.decode()
    train = assert_trained_and_exported(work, tokenizer)
    text = train[0]["input_messages"][0]["content"]
    assert "Section::::" not in text and "BULLET::::" not in text, "KILT markup reaches the training text"


def test_batch_shards_with_a_model_endpoint_here_and_as_array_tasks(wikispeedia_run, tmp_path):
    reference, _ = wikispeedia_run
    here, array = tmp_path / "here", tmp_path / "array"
    for work in (here, array):
        work.mkdir()
        (work / "walks.jsonl").write_bytes((reference / "walks.jsonl").read_bytes())
    settings = dict(SHARDS_BACKEND="openai", MODEL=MODEL, INDEX=str(reference / "index"), ROLLOUTS="2",
                    CONCURRENCY="8", TARGET_TOKENS="65536", TOKENIZER="tiktoken:o200k_base")
    with ModelServer(seed=SERVER_SEED) as server:
        result = run_script("batch-shards.sh", here, "2", env=script_env(BASE_URL=server.base_url, **settings))
        assert "from 2 shards" in result.stderr.decode()
        assert server.stats.get("repeats", 0) == 0, server.stats
    # As Slurm array tasks run it: each shard on its own, then the merge. The shards' caches
    # come along (as on a shared file system), so this run costs no model calls.
    shutil.copytree(here / "cache", array / "cache")
    with ModelServer(seed=SERVER_SEED) as server:
        env = script_env(BASE_URL=server.base_url, **settings)
        for shard in ("0", "1"):
            run_script("batch-shards.sh", array, "2", env={**env, "SHARD": shard})
        assert not (array / "train.jsonl").exists(), "a shard task runs its shard only"
        run_script("batch-shards.sh", array, "2", "merge", env=env)
        assert server.stats.get("requests", 0) == 0, "every answer came from the shards' caches"
    for work in (here, array):
        assert_trained_and_exported(work)
    # Sharding changes where a question runs, not what comes out.
    assert {r["id"] for r in read_jsonl(here / "train.jsonl")} == {r["id"] for r in read_jsonl(reference / "train.jsonl")}
    assert read_jsonl(array / "train.jsonl") == read_jsonl(here / "train.jsonl")


def test_demo_counts_with_o200k_base_and_says_so(tiktoken_ready, tmp_path):
    env = script_env(DEMO_PAGES="300", DEMO_WALKS="6", DEMO_HOPS="3", DEMO_ROLLOUTS="2", DEMO_STEPS="20",
                     DEMO_TARGET_TOKENS="8192")
    env.pop("TIKTOKEN_CACHE_DIR")  # the demo finds ../shared/data/tiktoken by itself
    result = run_script("demo.sh", tmp_path / "demo", env=env)
    stderr = result.stderr.decode()
    assert "tokens are counted with tiktoken:o200k_base" in stderr and "not available offline" not in stderr
    train = read_jsonl(tmp_path / "demo" / "train.jsonl")
    assert train and all(r["metadata"]["tokenizer"] == "tiktoken:o200k_base" for r in train)
    assert (tmp_path / "demo" / "report.html").stat().st_size > 0


# ---------------------------------------------------------------- kill and rerun


def cache_entries(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
            return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def kill_when_held(work: Path, env: dict[str, str], server: ModelServer) -> None:
    """Start the script; once the server holds a request and the client has cached every
    answer it got, SIGKILL the script's whole process group."""
    log = (work.parent / "killed.log").open("ab")
    process = subprocess.Popen(["bash", str(ROOT / "examples" / "kilt-pipeline.sh"), str(work)], env=env,
                               stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=ROOT, start_new_session=True)
    deadline, held_before = time.monotonic() + 600, server.stats["held"]
    try:
        while not (server.stats["held"] > held_before
                   and cache_entries(work / "cache" / "llm.sqlite") >= server.answered_bodies):
            assert process.poll() is None, f"the script ended ({process.returncode}) before the kill point"
            assert time.monotonic() < deadline, "the kill point was never reached"
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        server.release()


def test_killed_during_synth_and_search_agent_then_rerun(wikispeedia_run, tmp_path):
    reference, _ = wikispeedia_run
    work = tmp_path / "work"
    work.mkdir()
    (work / "index").symlink_to(reference / "index")  # the index step is not what this tests
    with ModelServer(seed=SERVER_SEED) as server:
        env = script_env(KILT="(unused: the index is complete)", BASE_URL=server.base_url, MODEL=MODEL,
                         **KILT_SETTINGS)
        # Every role is held, so nothing is answered between the cache check and the kill.
        server.hold_after(WALKS // 2)
        kill_when_held(work, env, server)
        assert (work / "questions.jsonl.partial").exists() and not (work / "questions.jsonl").exists()
        server.hold_after(server.stats["answered"] + 40)  # past the questions left: in search-agent
        kill_when_held(work, env, server)
        assert (work / "trajectories.jsonl.partial").exists() and not (work / "trajectories.jsonl").exists()
        run_script("kilt-pipeline.sh", work, env=env)
        stats = dict(server.stats)
    assert stats["held"] >= 2 and stats.get("repeats", 0) == 0, stats
    assert_trained_and_exported(work)
    for name in ("train.jsonl", "train-slime.jsonl", "tiered.jsonl"):
        assert without_volatile(read_jsonl(work / name)) == without_volatile(read_jsonl(reference / name)), name
