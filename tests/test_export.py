"""`ltrl export`: slime, verl and TRL layouts, each read back by what a trainer would use."""

from __future__ import annotations

import pytest

from tests.conftest import jsonl, run_ltrl, to_jsonl
from tests.stages.test_stats import assembled

RECORDS = [
    assembled("a", [("gold", "Paris", "Paris is in France."), ("tier1", "Lyon", "Lyon. ü 北京")], ["Paris", "France"]),
    assembled("b", [("gold", "Rome", "Rome."), ("random", "Cats", "Cats.")], [], strategy="random"),
]
for record in RECORDS:
    record["path"] = [{"id": "1"}]  # a pipeline key the released layout does not have


def export(fmt: str, out, records=RECORDS):
    result = run_ltrl("export", "--format", fmt, "-o", str(out), input=to_jsonl(records))
    assert result.returncode == 0, result.stderr.decode()
    return result


def test_slime_is_the_released_layout():
    result = run_ltrl("export", "--format", "slime", input=to_jsonl(RECORDS))
    assert result.returncode == 0, result.stderr.decode()
    back = jsonl(result.stdout)
    want = [{k: r[k] for k in ("id", "source", "input_messages", "label", "metadata")} for r in RECORDS]
    for record in want:  # what the authors' slime rollout reads (tests/test_export_slime.py)
        meta = record["metadata"]
        meta["extra_reward_info"] = {"question": meta["question"], "rubrics": meta["rubrics"], "dataset_name": "longqa"}
    assert back == want


def test_verl_parquet_round_trip(tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "train.parquet"
    export("verl", out)
    rows = pq.read_table(out).to_pylist()
    assert [r["data_source"] for r in rows] == ["longqa", "longqa"]
    for index, (row, record) in enumerate(zip(rows, RECORDS)):
        assert row["prompt"] == record["input_messages"]
        assert row["reward_model"] == {"style": "rule", "ground_truth": record["label"]}
        assert row["ability"] == "long-context-reasoning"
        info = row["extra_info"]
        assert info["index"] == index and info["id"] == record["id"]
        assert info["rubrics"] == record["metadata"]["rubrics"]
        assert info["strategy"] == record["metadata"]["strategy"] and info["tokens"] == record["metadata"]["tokens"]
    assert not (tmp_path / "train.parquet.partial").exists()


@pytest.mark.parametrize("name", ["train.parquet", "train.jsonl"])
def test_trl_dataset_loads_with_datasets(tmp_path, name):
    from datasets import load_dataset

    out = tmp_path / name
    export("trl", out)
    kind = "parquet" if name.endswith(".parquet") else "json"
    data = load_dataset(kind, data_files=str(out), split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert {"prompt", "label", "rubrics"} <= set(data.column_names)
    assert data["prompt"] == [r["input_messages"] for r in RECORDS]
    assert data["label"] == [r["label"] for r in RECORDS]
    assert data["rubrics"] == [r["metadata"]["rubrics"] for r in RECORDS]


def test_verl_needs_a_file_and_bad_records_fail_cleanly(tmp_path):
    result = run_ltrl("export", "--format", "verl", input=to_jsonl(RECORDS))
    assert result.returncode == 2 and "parquet" in result.stderr.decode()
    result = run_ltrl("export", "--format", "csv", input=b"")
    assert result.returncode == 2 and "slime, verl, trl" in result.stderr.decode()
    out = tmp_path / "x.parquet"
    result = run_ltrl("export", "--format", "verl", "-o", str(out), input=to_jsonl(RECORDS + [{"id": "z"}]))
    assert result.returncode == 1 and "line 3: missing field 'input_messages'" in result.stderr.decode()
    assert not out.exists() and not (tmp_path / "x.parquet.partial").exists()


@pytest.mark.parametrize("fmt", ["slime", "verl"])
def test_a_named_pipe_at_the_output_is_written_through(tmp_path, fmt):
    import io
    import os

    import pyarrow.parquet as pq

    from tests.conftest import read_fifo_in_background

    fifo = tmp_path / "out.pipe"
    os.mkfifo(fifo)
    received = read_fifo_in_background(fifo)
    export(fmt, fifo)
    data = received()
    if fmt == "slime":
        assert [r["id"] for r in jsonl(data)] == ["a", "b"]
    else:
        assert pq.read_table(io.BytesIO(data)).num_rows == 2
    assert list(tmp_path.iterdir()) == [fifo] and fifo.is_fifo()


def test_a_character_device_at_the_output_stays_one(char_device):
    import stat

    export("slime", char_device)
    export("verl", char_device)
    assert stat.S_ISCHR(char_device.lstat().st_mode)  # as root, `-o /dev/null` once made it a regular file
    assert list(char_device.parent.iterdir()) == [char_device]


def test_a_directory_with_a_readme_of_its_own_is_refused(tmp_path):
    # An existing folder is a dataset folder now (tests/test_export_card.py); `-o .` in a
    # repository must not overwrite the repository's README.
    (tmp_path / "README.md").write_text("# my project\n")
    result = run_ltrl("export", "--format", "slime", "-o", str(tmp_path), input=to_jsonl(RECORDS))
    assert result.returncode == 2
    assert "holds a README.md that ltrl export did not write" in result.stderr.decode()
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]
