"""`ltrl export -o DIR/`: a Hugging Face dataset folder with its card, loaded back with `datasets`."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import run_ltrl, to_jsonl
from tests.test_export import RECORDS

datasets = pytest.importorskip("datasets")


def export_folder(fmt: str, folder, *args: str):
    result = run_ltrl("export", "--format", fmt, "-o", f"{folder}/", *args, input=to_jsonl(RECORDS))
    assert result.returncode == 0, result.stderr.decode()
    return result


def header(folder) -> dict:
    text = (folder / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


@pytest.mark.parametrize("fmt", ["trl", "verl", "slime"])
def test_the_folder_loads_with_datasets_and_carries_its_card(tmp_path, fmt, caplog):
    from huggingface_hub import DatasetCard

    folder = tmp_path / "longqa"
    export_folder(fmt, folder, "--corpus", "demo corpus (ltrl corpus demo, seed 7)")
    data = datasets.load_dataset(str(folder), split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert "Ignoring" not in caplog.text  # every part of the card's dataset_info was taken
    assert data.num_rows == len(RECORDS)
    assert data.info.splits["train"].num_examples == len(RECORDS)  # the header's split was read
    if fmt == "trl":
        assert data["label"] == [r["label"] for r in RECORDS]
        assert data["prompt"] == [r["input_messages"] for r in RECORDS]
    head = header(folder)
    assert head["configs"] == [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}]
    [split] = head["dataset_info"]["splits"]
    assert split["name"] == "train" and split["num_examples"] == 2 and split["num_bytes"] > 0
    assert head["size_categories"] == ["n<1K"] and head["pretty_name"] == "longqa"
    if fmt != "slime":
        assert data.features == datasets.Features._from_yaml_list(head["dataset_info"]["features"])
    card = DatasetCard.load(str(folder / "README.md"))
    assert card.data.to_dict()["configs"] == head["configs"]
    body = card.text
    assert "demo corpus (ltrl corpus demo, seed 7)" in body
    assert "strategy: traj-tiered (1), random (1)" in body  # the method's settings, from the records
    assert "| tier1 |" in body and "context tokens: min" in body  # ltrl stats' figures
    assert "ltrl export --format" in body


def test_a_second_export_replaces_the_first_whole(tmp_path):
    folder = tmp_path / "ds"
    export_folder("slime", folder)
    export_folder("trl", folder, "--name", "LongQA demo")
    assert sorted(p.name for p in (folder / "data").iterdir()) == ["train-00000-of-00001.parquet"]
    assert header(folder)["pretty_name"] == "LongQA demo"


def test_records_without_what_stats_reads_still_export_and_the_card_says_why(tmp_path):
    bare = [{"id": "x", "input_messages": [{"role": "user", "content": "Q?"}], "label": "A",
             "metadata": {"question": "Q?", "rubrics": ["B"]}}]
    folder = tmp_path / "bare"
    result = run_ltrl("export", "--format", "trl", "-o", f"{folder}/", input=to_jsonl(bare))
    assert result.returncode == 0, result.stderr.decode()
    assert "not computed: record 'x' has no 'docs' for ltrl stats" in (folder / "README.md").read_text()


def test_a_file_output_is_still_a_file_without_a_card(tmp_path):
    result = run_ltrl("export", "--format", "trl", "-o", str(tmp_path / "t.parquet"), input=to_jsonl(RECORDS))
    assert result.returncode == 0 and [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_a_failed_export_leaves_no_data_and_no_card(tmp_path):
    folder = tmp_path / "bad"
    result = run_ltrl("export", "--format", "verl", "-o", f"{folder}/", input=to_jsonl(RECORDS + [{"id": "z"}]))
    assert result.returncode == 1
    assert not (folder / "README.md").exists() and list((folder / "data").iterdir()) == []
