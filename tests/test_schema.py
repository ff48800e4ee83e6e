"""The entrance check: every field each stage reads (ltrl_cli.records.READS), fed a wrong type.

The cases are made from the schema itself: a valid record is built from the layouts'
annotations, then each field a stage reads is given each value of another type in turn.
A field added to READS (or a type changed in a layout) is covered without touching this
file. Each command is run in-process on the bad record: one line on stderr naming the
line, the field and the record, exit 1; with --skip-bad the line is skipped and counted.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Union, get_args, get_origin, is_typeddict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltrl_cli.errors import BadInput
from ltrl_cli.records import READS
from ltrl_cli.schema import Field, Length, Reads, _mismatch, _problem, describe, json_type
from tests.conftest import to_jsonl

# Values of every JSON type; a field is fed each one its type does not allow.
WRONG: list[Any] = [["a", "b"], "text", {"k": "v"}, 7, 2.5, True, None, [3], " ", []]
RECORD_ID = "q-1"


def example(tp: Any) -> Any:
    """A value of type `tp` (the first option of a union)."""
    origin = get_origin(tp)
    if origin is Annotated:  # a rule: Length(n) wants n items
        value = example(get_args(tp)[0])
        n = next((rule.n for rule in tp.__metadata__ if isinstance(rule, Length)), None)
        return value * n if n else value
    if origin in (Union, types.UnionType):
        return example(get_args(tp)[0])
    if origin is list:
        return [example(get_args(tp)[0])]
    if origin is dict or tp is dict or is_typeddict(tp):
        return {}
    if origin is typing.Literal:
        return get_args(tp)[0]
    return {str: "x", int: 1, float: 1.5, bool: True, type(None): None}.get(tp, "x")


def put(record: dict, f: Field, value: Any, *, only_first: bool = False) -> None:
    """Set the field in `record` (in every item of the lists on its way, or the first)."""

    def walk(node: dict, depth: int) -> None:
        part = f.parts[depth]
        if depth == len(f.parts) - 1:
            node[part] = value
            return
        if f.lists[depth]:
            items = node.setdefault(part, [{}])
            for item in items[:1] if only_first else items:
                walk(item, depth + 1)
        else:
            walk(node.setdefault(part, {}), depth + 1)

    walk(record, 0)


def valid_record(reads: Reads) -> dict:
    record: dict = {}
    for f in sorted(reads.fields, key=lambda f: len(f.parts)):  # containers before what is in them
        put(record, f, example(f.type))
    if "id" not in record:
        record["id"] = RECORD_ID
    if isinstance(record["id"], str):
        record["id"] = RECORD_ID
    return record


def cases() -> list[tuple[str, Field, Any]]:
    out = []
    for stage, reads in READS.items():
        for f in reads.fields:
            for wrong in WRONG:
                if _mismatch(wrong, f.type) is not None:
                    out.append((stage, f, wrong))
    return out


def bad_record(stage: str, f: Field, wrong: Any) -> tuple[dict, str]:
    """A record of `stage` with `wrong` at the field, and the message that must name it."""
    record = valid_record(READS[stage])
    put(record, f, wrong, only_first=True)
    problem = _mismatch(wrong, f.type)
    expected = f"field '{f.example()}{problem[0]}' must be {describe(problem[1])}, got {problem[2]}"
    rid = record.get("id")
    if isinstance(rid, (str, int)) and not isinstance(rid, bool):
        expected += f" (record {rid!r})"
    return record, expected


CASES = cases()


def case_id(case) -> str:
    stage, f, wrong = case
    return f"{stage}:{f.path}={json_type(wrong).replace(' ', '_')}"


def test_the_schema_covers_every_stage_and_its_fields():
    assert set(READS) == {"walk", "synth", "search-agent", "tier", "assemble", "stats", "export", "score", "eval",
                          "grpo"}
    for stage, reads in READS.items():
        READS[stage].check(valid_record(reads))  # the record the cases start from is valid
        assert all(any(c[0] == stage and c[1] is f for c in CASES) for f in reads.fields), stage


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_each_wrong_type_is_named_with_its_field_and_record(case):
    stage, f, wrong = case
    record, expected = bad_record(stage, f, wrong)
    with pytest.raises(BadInput) as caught:
        READS[stage].check(record)
    assert caught.value.message == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["id", "x"]), inner, max_size=2),
    max_leaves=6)
FIELDS = [(stage, f) for stage, reads in READS.items() for f in reads.fields]


@settings(max_examples=300, deadline=None)
@given(which=st.sampled_from(FIELDS), value=json_values, drop=st.booleans(), first_only=st.booleans())
def test_the_fast_path_never_passes_what_the_full_walk_refuses(which, value, drop, first_only):
    stage, f = which
    record = valid_record(READS[stage])
    put(record, f, value, only_first=first_only)
    if drop:
        record.pop(f.parts[0], None)
    if f.passes(record):
        assert _problem(record, f) is None


def test_required_fields_are_named_when_missing():
    with pytest.raises(BadInput, match=r"^missing field 'question' \(record 'q-1'\)$"):
        READS["search-agent"].check({"id": "q-1", "answer": "Paris"})
    with pytest.raises(BadInput, match=r"^missing field 'path\[1\]\.id'"):
        READS["synth"].check({"path": [{"id": "1"}, {"title": "B"}]})


def test_issue_cases_are_errors_not_data():
    """The wrong types that used to become data or a traceback (issue 15)."""
    for stage, record, text in [
        ("assemble", {"id": "q", "question": "Q?", "answer": "A", "gold_entities": "Paris"},
         "field 'gold_entities' must be a list of strings, got a string (record 'q')"),
        ("export", {"id": "q", "input_messages": [{"role": "user", "content": "c"}], "label": ["a", "b"]},
         "field 'label' must be a string or a number, got a list (record 'q')"),
        ("search-agent", {"id": "q", "question": "Q?", "answer": ["a"]},
         "field 'answer' must be a string or a number, got a list (record 'q')"),
        ("tier", {"id": "q", "path": 7, "rollouts": []}, "field 'path' must be a list of objects, got an integer (record 'q')"),
        ("tier", {"id": "q", "rollouts": [{"seen": 3}]},
         "field 'rollouts[0].seen' must be a list of strings or integers, got an integer (record 'q')"),
        ("assemble", {"id": "q", "question": "Q?", "answer": "A", "tiers": "gold"},
         "field 'tiers' must be an object, got a string (record 'q')"),
        ("stats", {"id": "q", "input_messages": [{"content": "c"}], "metadata": {"docs": "d"}},
         "field 'metadata.docs' must be a list of objects, got a string (record 'q')"),
    ]:
        with pytest.raises(BadInput) as caught:
            READS[stage].check(record)
        assert caught.value.message == text, stage


def test_quoted_values_are_bounded():
    with pytest.raises(BadInput) as caught:
        READS["tier"].check({"id": "x" * 100_000, "rollouts": "no"})
    assert len(caught.value.message) < 300


# ---------------------------------------------------------------- the commands, in-process


@pytest.fixture(scope="module")
def tokenizer_file(demo_pages, tmp_path_factory) -> str:
    from tests.test_tokenize import train_tokenizer

    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer(["\n".join(p["text"]) for p in demo_pages[:40]], vocab_size=300).save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def command_args(demo_index, tokenizer_file) -> dict[str, list[str]]:
    index = str(demo_index)
    return {
        "walk": ["walk", "--index", index, "--starts", "-"],
        "synth": ["synth", "--index", index, "--backend", "template"],
        "search-agent": ["search-agent", "--index", index, "--backend", "lexical", "-k", "1"],
        "tier": ["tier"],
        "assemble": ["assemble", "--index", index, "--tokenizer", tokenizer_file, "--target-tokens", "2000"],
        "stats": ["stats"],
        "export": ["export", "--format", "slime"],
        "score": ["score", "--judge", "contains"],
        "eval": ["eval", "-b", "longreason", "--score-only"],
    }


def run_stage(stage: str, args: list[str], data: bytes, skip_bad: bool) -> tuple[int, str, bytes]:
    if stage == "grpo":  # no command to run offline: the trainer's data loader
        return _load_grpo(data, skip_bad)
    from typer.testing import CliRunner

    from ltrl_cli.cli import app

    result = CliRunner().invoke(app, args + (["--skip-bad"] if skip_bad else []), input=data)
    return result.exit_code, result.stderr, result.stdout_bytes


def _load_grpo(data: bytes, skip_bad: bool) -> tuple[int, str, bytes]:
    import contextlib
    import io
    import tempfile

    from ltrl_cli.grpo.data import iter_rows
    from ltrl_cli.stats import Stats

    with tempfile.NamedTemporaryFile(suffix=".jsonl") as handle:
        handle.write(data)
        handle.flush()
        err, stats = io.StringIO(), Stats()
        with contextlib.redirect_stderr(err):
            try:
                rows = list(iter_rows(handle.name, skip_bad=skip_bad, stats=stats))
            except BadInput as exc:  # as `ltrl grpo` reports it, without the file name
                return 1, f"ltrl grpo: {exc.message.split(': ', 1)[1]}\n", b""
        stats.update("out", len(rows))
        warnings = err.getvalue().replace(f"{handle.name}: ", "")  # the file name is the temporary one
        return 0, warnings + stats.summary("grpo") + "\n", b""


@pytest.mark.parametrize("stage", sorted(READS))
def test_every_command_refuses_each_wrong_type_and_skips_it_with_skip_bad(stage, command_args):
    args = command_args.get(stage, [])
    done = set()
    for case in CASES:  # the first wrong value of each field (the test above tries them all)
        case_stage, f, wrong = case
        if case_stage != stage or f.path in done:
            continue
        done.add(f.path)
        record, expected = bad_record(stage, f, wrong)
        code, stderr, stdout = run_stage(stage, args, to_jsonl([record]), skip_bad=False)
        assert code == 1, (case_id(case), stderr)
        assert stderr.strip().splitlines()[-1] == f"ltrl {stage}: line 1: {expected}", case_id(case)
        assert stdout == b""
        code, stderr, stdout = run_stage(stage, args, to_jsonl([record]), skip_bad=True)
        assert f"skipping line 1: {expected}" in stderr, (case_id(case), stderr)
        assert "Traceback" not in stderr, (case_id(case), stderr)
        # The one line skipped leaves nothing to work on: a failure that says why, no output.
        last = stderr.strip().splitlines()[-1]
        if stage in ("walk", "eval"):  # in their own words
            assert code == 1 and last.endswith("(1 bad line(s) skipped)"), stderr
        elif stage == "grpo":  # the data check alone (training refuses an empty set later)
            assert code == 0 and "1 skipped" in last, (case_id(case), stderr)
        else:
            assert code == 1 and last.endswith("every line was bad and skipped (1); nothing to do"), stderr
        assert stdout == b"", case_id(case)


def test_records_reference_is_current():
    from ltrl_cli.manpages import records_reference
    from tests.conftest import ROOT

    assert (ROOT / "docs" / "records.md").read_text() == records_reference(), \
        "docs/records.md out of date; run: python -m ltrl_cli.manpages man"
