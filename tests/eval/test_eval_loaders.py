"""The loaders on the real samples in ../shared/data/bench (skipped when absent) and on
fixtures written from the MRCR and LongReason schemas; malformed files name the file,
the row and the field."""

from __future__ import annotations

import json

import pytest

from ltrl_cli.errors import BadInput
from ltrl_cli.eval import aa_lcr, frames, longbench_v2, longreason, mrcr
from tests.eval.eval_fixtures import write_benchmark, write_mrcr_parquet


@pytest.fixture
def bench(shared_data):
    path = shared_data / "bench"
    if not path.is_dir():
        pytest.skip(f"{path} not found")
    return path


# ---------------------------------------------------------------- the shared samples


def test_aa_lcr_real_csv_and_documents_in_listed_order(bench):
    with pytest.raises(BadInput, match=r"question 4: document not found: .*lcr/Academia/ac_hack/2406.14048v1.txt"):
        list(aa_lcr.load(bench / "aa_lcr"))
    items = list(aa_lcr.load(bench / "aa_lcr" / "AA-LCR_Dataset.csv", skip_missing=True))
    assert [i.id for i in items] == ["1", "2", "3"]  # the ac_markets set: the only documents present
    text = items[0].messages[0]["content"]
    assert text.startswith("BEGIN INPUT DOCUMENTS\n\nBEGIN DOCUMENT 1:\n")
    assert text.count("BEGIN DOCUMENT ") == 4 and "END DOCUMENT 4\n\nEND INPUT DOCUMENTS" in text
    listed = ["barriers-to-collaboration-and-commercialisation-iisa.txt", "The-State-of-Competition.txt",
              "FULLTEXT01.txt", "DAF-COMP(2023)14.en.txt"]
    folder = bench / "aa_lcr" / "lcr" / "Academia" / "ac_markets"
    starts = [text.index((folder / name).read_text()[:200]) for name in listed]
    assert starts == sorted(starts)  # concatenated in data_source_filenames order
    assert text.rstrip().endswith(f"START QUESTION\n\n{items[0].question}\n\nEND QUESTION")
    assert items[2].gold == "Medium-sized business" and items[0].buckets == {"category": "Academia"}


def test_aa_lcr_prompt_matches_the_official_token_counts(bench):
    # The CSV's `input_tokens` is the owners' cl100k_base count of their full prompt: ours
    # must come out the same, which pins the template and the document order.
    from ltrl_cli.backends.tokenize import load_tokenizer

    if not (bench.parent / "tiktoken").is_dir():
        pytest.skip("no tiktoken cache in ../shared/data/tiktoken")
    tok = load_tokenizer("tiktoken:cl100k_base")
    items = list(aa_lcr.load(bench / "aa_lcr", skip_missing=True))
    assert [tok.count(i.messages[0]["content"]) for i in items] == [94494, 94485, 94476]


def test_frames_real_tsv(bench):
    items = list(frames.load(bench / "frames" / "test_first100.tsv"))
    assert len(items) == 100 and items[0].id == "0" and items[99].id == "99"
    assert items[0].gold == "Jane Ballou" and items[0].question.startswith("If my future wife")
    assert items[0].messages == [{"role": "user", "content": items[0].question}]  # no articles: the naive prompt
    assert items[0].buckets["reasoning"] == "Multiple constraints"


def test_longbench_v2_real_sample(bench):
    items = list(longbench_v2.load(bench / "longbench_v2"))
    assert [i.gold for i in items] == ["C", "B", "B", "B", "D"]
    assert items[0].buckets == {"difficulty": "hard", "length": "short", "domain": "Multi-Document QA"}
    text = items[0].messages[0]["content"]
    assert text.startswith("Please read the following text and answer the question below.\n\n<text>\nLegal case")
    assert "\n</text>\n\nWhat is the correct answer to this question: What do these two cases have in common?\n" \
           "Choices:\n(A) " in text
    assert text.endswith('Format your response as follows: "The correct answer is (insert answer here)".')


# ---------------------------------------------------------------- schema fixtures


def test_mrcr_jsonl_and_parquet_agree(tmp_path):
    path, _ = write_benchmark("mrcr", tmp_path)
    write_mrcr_parquet(tmp_path / "2needle_0.parquet")
    from_jsonl = list(mrcr.load(path))
    from_parquet = list(mrcr.load(tmp_path / "2needle_0.parquet"))
    assert [i.id for i in from_jsonl] == ["2needle:1", "2needle:2", "2needle:3"]
    assert [i.id for i in from_parquet] == ["2needle_0:1", "2needle_0:2", "2needle_0:3"]
    assert [i.messages for i in from_jsonl] == [i.messages for i in from_parquet]
    first = from_jsonl[0]
    assert len(first.messages) == 7 and first.messages[-1]["content"].startswith("Prepend k2Jd9")
    assert first.grading == {"random_string_to_prepend": "k2Jd9"} and first.gold.startswith("k2Jd9Poem 1")
    assert first.buckets == {"needles": "2", "length": "<=1K chars"}
    assert len(list(mrcr.load(tmp_path))) == 6  # a folder: every data file in it


def test_longreason_fixture(tmp_path):
    path, _ = write_benchmark("longreason", tmp_path)
    items = list(longreason.load(path))
    assert [i.id for i in items] == ["64k:0", "64k:1", "64k:2"]
    assert [i.gold for i in items] == ["A", "B", "C"]
    assert items[0].grading == {"letters": "ABCD"} and items[0].buckets == {"length": "64K"}
    assert items[0].messages[0]["content"].startswith("Background: a long story 0.")


def test_frames_long_context_variant_carries_the_articles(tmp_path):
    path = tmp_path / "frames_lc.jsonl"
    record = {"Prompt": "Who?", "Answer": "Ada", "reasoning_types": "Temporal reasoning",
              "articles": [{"title": "Ada Lovelace", "text": "Ada was a mathematician."}, "Second article."]}
    path.write_text(json.dumps(record) + "\n")
    [item] = frames.load(path)
    text = item.messages[0]["content"]
    assert text.startswith("Here are the relevant Wikipedia articles:\nAda Lovelace\nAda was a mathematician.")
    assert "Second article.\n\nBased on all the information, answer the query.\n\nQuery: Who?" in text
    assert item.id == "0" and item.question == "Who?"


# ---------------------------------------------------------------- malformed files


@pytest.mark.parametrize("module,name,row,message", [
    (mrcr, "m.jsonl", {"prompt": "[{\"role\": \"user\"}]", "answer": "a", "random_string_to_prepend": "x"},
     "row 1: field 'prompt': message 0 needs a 'role' and a text 'content'"),
    (mrcr, "m.jsonl", {"prompt": "not json", "answer": "a", "random_string_to_prepend": "x"},
     "row 1: field 'prompt': not a JSON list of messages"),
    (mrcr, "m.jsonl", {"prompt": "[]", "answer": "a"}, "row 1: missing field 'random_string_to_prepend'"),
    (longreason, "r.jsonl", {"prompt": "p", "answer": "maybe"}, "row 1: field 'answer': expected an option letter"),
    (longreason, "r.jsonl", {"answer": "A"}, "row 1: missing field 'prompt'"),
    (longbench_v2, "l.jsonl", {"_id": "1", "question": "q", "answer": "E", "context": "c", "choice_A": "a",
                                "choice_B": "b", "choice_C": "c", "choice_D": "d"},
     "row 1: field 'answer': expected one of A, B, C, D"),
    (frames, "f.jsonl", {"Prompt": "q", "Answer": 3.5, "articles": "x"}, None),
    (frames, "f.jsonl", {"Prompt": "q", "Answer": ["x"]}, "row 1: field 'Answer': expected text, got list"),
])
def test_malformed_rows_name_file_row_and_field(tmp_path, module, name, row, message):
    path = tmp_path / name
    path.write_text("\n" + json.dumps(row) + "\n")  # a blank first line: rows count lines
    if message is None:
        list(module.load(path))  # a number where text is expected is read as its text
        return
    with pytest.raises(BadInput) as caught:
        list(module.load(path))
    assert caught.value.message.startswith(f"{path}: ") and message.replace("row 1", "row 2") in caught.value.message


def test_bad_json_and_bad_csv(tmp_path):
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"prompt": "p", "answer": "A"}\n{oops\n')
    with pytest.raises(BadInput, match=r"x.jsonl: row 2: not valid JSON"):
        list(longreason.load(bad))
    csv_path = tmp_path / "AA-LCR_Dataset.csv"
    csv_path.write_text("question_id,question,answer,document_category,document_set_id\n1,q,a,C,S\n")
    with pytest.raises(BadInput, match=r"AA-LCR_Dataset.csv: row 1: missing field\(s\) 'data_source_filenames'"):
        list(aa_lcr.load(csv_path))
    (tmp_path / "x.txt").write_text("text")
    with pytest.raises(BadInput, match=r"unknown file type '.txt'"):
        list(longreason.load(tmp_path / "x.txt"))
    with pytest.raises(BadInput, match=r"no data file"):
        list(mrcr.load(tmp_path / "empty_dir" if (tmp_path / "empty_dir").mkdir() is None else tmp_path))


def test_gzipped_tables_are_read_as_their_inner_format(tmp_path):
    import gzip

    from ltrl_cli.eval.tables import table_rows

    jsonl = tmp_path / "rows.jsonl.gz"
    jsonl.write_bytes(gzip.compress(b'{"a": 1}\n{"a": 2}\n'))
    tsv = tmp_path / "rows.tsv.gz"
    tsv.write_bytes(gzip.compress("x\ty\n1\t2\n".encode()))
    assert [row for _, row in table_rows(jsonl)] == [{"a": 1}, {"a": 2}]
    assert [row for _, row in table_rows(tsv)] == [{"x": "1", "y": "2"}]
