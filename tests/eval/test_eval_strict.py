"""Benchmark files that are wrong in the ways real downloads are: each is an error that names
the file and the row, never a score."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

from ltrl_cli.errors import BadInput
from ltrl_cli.eval import aa_lcr, frames, longbench_v2, longreason, mrcr
from ltrl_cli.eval.tables import table_rows, unique_items
from tests.conftest import SHARED_DATA, jsonl
from tests.eval.eval_fixtures import Oracle, invoke, write_benchmark
from tests.fake_openai import FakeOpenAI


def run_eval(server, benchmark, data, *args, input=None):
    return invoke("eval", "-b", benchmark, "--data", str(data), "--base-url", server.base_url, "--model", "fake",
                  "--samples", "1", "--no-cache", *args, input=input)


@pytest.mark.parametrize("own, other", [("aa-lcr", "frames"), ("frames", "longbench-v2"), ("mrcr", "longreason"),
                                        ("longbench-v2", "longreason"), ("longreason", "mrcr")])
def test_another_benchmarks_file_is_refused_by_name(tmp_path, own, other):
    data, _ = write_benchmark(own, tmp_path / "data")
    module = {"frames": frames, "longbench-v2": longbench_v2, "longreason": longreason, "mrcr": mrcr}[other]
    target = data / "AA-LCR_Dataset.csv" if own == "aa-lcr" else data
    with pytest.raises(BadInput, match=f"this looks like .* data .*: use --benchmark {own}$"):
        list(module.load(target))


def test_the_real_aa_lcr_file_is_not_frames():
    path = SHARED_DATA / "bench" / "aa_lcr" / "AA-LCR_Dataset.csv"
    if not path.exists():
        pytest.skip(f"{path} not present")
    with pytest.raises(BadInput, match="this looks like AA-LCR data .* not FRAMES: use --benchmark aa-lcr"):
        list(frames.load(path))


def test_a_file_without_the_benchmarks_columns_names_them(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"question": "q?", "gold": "x"}) + "\n")
    with pytest.raises(BadInput, match=r"q.jsonl: row 1: missing field\(s\) 'Answer' \(frames files have Prompt/prompt/question, Answer"):
        list(frames.load(path))


def test_empty_header_only_and_all_skipped_are_exit_1(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    header = tmp_path / "header.tsv"
    header.write_text("\tPrompt\tAnswer\treasoning_types\n")
    data, answers = write_benchmark("aa-lcr", tmp_path / "aa")
    shutil.rmtree(data / "lcr")
    with FakeOpenAI(Oracle("aa-lcr", answers)) as server:
        results = [run_eval(server, "longreason", empty), run_eval(server, "frames", header),
                   run_eval(server, "aa-lcr", data, "--skip-missing")]
    assert [r.returncode for r in results] == [1, 1, 1]
    assert f"no longreason questions in {empty}" in results[0].stderr.decode()
    assert f"no frames questions in {header}" in results[1].stderr.decode()
    assert "--skip-missing left out every question" in results[2].stderr.decode()
    assert all(r.stdout == b"" for r in results)


def test_score_only_with_no_records_is_exit_1_and_reads_gz(tmp_path):
    data, answers = write_benchmark("longbench-v2", tmp_path / "d")
    with FakeOpenAI(Oracle("longbench-v2", answers)) as server:
        first = run_eval(server, "longbench-v2", data)
    assert first.returncode == 0, first.stderr
    packed = tmp_path / "run.jsonl.gz"
    packed.write_bytes(gzip.compress(first.stdout))
    again = invoke("eval", "-b", "longbench-v2", "--score-only", "--data", str(packed))
    assert again.returncode == 0, again.stderr
    assert [r["score"] for r in jsonl(again.stdout)] == [r["score"] for r in jsonl(first.stdout)]
    nothing = invoke("eval", "-b", "longbench-v2", "--score-only", input=b"")
    assert nothing.returncode == 1 and "no records in stdin" in nothing.stderr.decode()
    folder = invoke("eval", "-b", "longbench-v2", "--score-only", "--data", str(tmp_path))
    assert folder.returncode == 1 and f"{tmp_path}: is a directory" in folder.stderr.decode()


def test_repeated_ids_across_the_files_of_a_folder_name_both_places(tmp_path):
    original, _ = write_benchmark("longbench-v2", tmp_path / "lb")
    data = original.parent
    copy = data / "copy.jsonl"
    copy.write_text("".join(json.dumps(r) + "\n" for _, r in table_rows(original)))
    with pytest.raises(BadInput) as caught:
        list(unique_items(longbench_v2.load(data)))
    message = caught.value.message
    assert "appears twice" in message and f"{copy} row 1" in message and f"{original} row 1" in message


def test_truncated_tables_name_the_row(tmp_path):
    short = tmp_path / "short.tsv"
    short.write_text("\tPrompt\tAnswer\treasoning_types\n0\tQ one?\tA\tx\n1\tQ two?\n")
    with pytest.raises(BadInput, match=r"short.tsv: row 2: 2 cells for 4 columns \(the row is cut short\)"):
        list(frames.load(short))
    quote = tmp_path / "AA-LCR_Dataset.csv"
    quote.write_text('document_category,document_set_id,question_id,question,answer,data_source_filenames\n'
                     'C,S,1,"What is cut')
    with pytest.raises(BadInput, match=r"AA-LCR_Dataset.csv: row 1: unexpected end of data \(an unclosed quote"):
        list(aa_lcr.load(quote))


def test_decoding_and_not_a_file_errors_name_file_and_row(tmp_path):
    bad_csv = tmp_path / "bad.tsv"
    bad_csv.write_bytes(b"\tPrompt\tAnswer\n0\tfine\tA\n1\tbroken \xff\tB\n")
    with pytest.raises(BadInput, match=r"bad.tsv: row 2 \(line 3\): not valid UTF-8"):
        list(frames.load(bad_csv))
    bad_jsonl = tmp_path / "bad.jsonl"
    bad_jsonl.write_bytes(b'{"prompt": "p", "answer": "A"}\n{"prompt": "\xff", "answer": "B"}\n')
    with pytest.raises(BadInput, match=r"bad.jsonl: row 2: not valid UTF-8"):
        list(longreason.load(bad_jsonl))
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(b'{"prompt": "p", "answer": "A"}\n' * 50)[:-12])
    with pytest.raises(BadInput, match=r"cut.jsonl.gz: row \d+: the compressed file is cut short"):
        list(longreason.load(cut))
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(BadInput, match=r"folder.csv: is a directory"):
        list(table_rows(tmp_path / "folder.csv"))


def test_aa_lcr_warns_without_100_rows_and_reads_gz_and_a_flat_folder(tmp_path, capsys):
    data, _ = write_benchmark("aa-lcr", tmp_path / "aa")
    flat = data / "lcr"
    for text in list(flat.rglob("*.txt")):  # the extracted texts, all in one folder
        text.rename(flat / text.name)
    for folder in sorted((p for p in flat.rglob("*") if p.is_dir()), reverse=True):
        folder.rmdir()
    csv_path = data / "AA-LCR_Dataset.csv"
    (data / "AA-LCR_Dataset.csv.gz").write_bytes(gzip.compress(csv_path.read_bytes()))
    csv_path.unlink()
    items = list(aa_lcr.load(data))
    assert [i.id for i in items] == ["1", "2", "3"]
    assert "BEGIN DOCUMENT 1:\nDocument b-1.txt" in items[0].messages[0]["content"]
    assert "has 3 question row(s), not the official 100" in capsys.readouterr().err
    (flat / "a-2.txt").unlink()
    with pytest.raises(BadInput, match=r"document not found: .*Lay the documents out beside AA-LCR_Dataset.csv as "
                                       r"lcr/<document_category>/<document_set_id>/<filename>"):
        list(aa_lcr.load(data))


def test_the_shared_benchmark_samples_still_load():
    root = SHARED_DATA / "bench"
    if not root.exists():
        pytest.skip(f"{root} not present")
    assert len(list(unique_items(frames.load(root / "frames" / "test_first100.tsv")))) == 100
    assert len(list(unique_items(longbench_v2.load(root / "longbench_v2")))) == 5
    assert [i.id for i in aa_lcr.load(root / "aa_lcr", skip_missing=True)] == ["1", "2", "3"]


def test_mrcr_and_frames_folders_read_gz(tmp_path):
    data, _ = write_benchmark("mrcr", tmp_path / "m")
    for file in list(data.rglob("*.jsonl")) + list(data.rglob("*.parquet")):
        file.with_name(file.name + ".gz").write_bytes(gzip.compress(file.read_bytes()))
        file.unlink()
    assert len(list(mrcr.load(data))) == 3


def test_an_aa_lcr_document_with_bad_bytes_is_named(tmp_path, capsys):
    data, _ = write_benchmark("aa-lcr", tmp_path / "aa")
    bad = data / "lcr" / "Legal" / "set1" / "a-1.txt"
    bad.write_bytes(b"Caf\xe9 text")
    items = list(aa_lcr.load(data))
    assert "Caf\ufffd text" in items[0].messages[0]["content"]
    assert f"aa-lcr: {bad}: not valid UTF-8 at byte 4" in capsys.readouterr().err
