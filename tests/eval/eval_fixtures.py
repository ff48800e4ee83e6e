"""Tiny benchmark files in each official layout, and a fake model that knows the answers.

`write_benchmark(name, folder)` writes three questions of a benchmark in its official
format and returns (the --data path, {marker: gold}) where a marker is text that occurs
in exactly one item's prompt. `Oracle(answers, mode)` is a FakeOpenAI handler: asked a
benchmark question it answers with the gold answer (`mode="gold"`) or a wrong one
(`mode="wrong"`), in the format the benchmark asks for; asked to judge (the AA-LCR
checker, the FRAMES auto-rater or the LongTraceRL yes/no prompt) it compares the
candidate with the official answer the prompt quotes. So every benchmark must come out
at 100% with gold answers and 0% with wrong ones, judge calls included.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ltrl_cli.reward.judge import normalize_answer
from tests.fake_openai import completion

QUESTIONS = [  # (marker question, gold answer)
    ("Which river flows through the city of Quillon?", "The Arvane River"),
    ("Who founded the Brightwater guild in the year 1402?", "Matilda Orsk"),
    ("How many bridges does the town of Pell have?", "seventeen"),
]


def write_benchmark(name: str, folder: Path) -> tuple[Path, dict[str, str]]:
    """Write a 3-question benchmark in its official layout; return (data path, marker -> gold)."""
    folder.mkdir(parents=True, exist_ok=True)
    return {"aa-lcr": _aa_lcr, "mrcr": _mrcr, "frames": _frames, "longbench-v2": _longbench_v2,
            "longreason": _longreason}[name](folder)


def _aa_lcr(folder: Path) -> tuple[Path, dict[str, str]]:
    rows = []
    for i, (question, answer) in enumerate(QUESTIONS, start=1):
        docs = folder / "lcr" / "Legal" / f"set{i}"
        docs.mkdir(parents=True)
        names = [f"b-{i}.txt", f"a-{i}.txt"]  # listed out of alphabetical order on purpose
        for n, fname in enumerate(names):
            (docs / fname).write_text(f"Document {fname}. Filler text {n}. The record says: {answer}.\n")
        rows.append({"": i - 1, "document_category": "Legal", "document_set_id": f"set{i}", "question_id": i,
                     "question": question, "answer": answer, "data_source_filenames": ";".join(names),
                     "data_source_urls": "", "input_tokens": 100})
    path = folder / "AA-LCR_Dataset.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder, {q: a for q, a in QUESTIONS}


def _mrcr_rows() -> list[dict]:
    rows = []
    for i, (topic, prefix) in enumerate((("otters", "k2Jd9"), ("kettles", "Zp0qQ"), ("lanterns", "x7Yt1"))):
        messages = []
        for turn in range(3):
            messages.append({"role": "user", "content": f"write a short poem about {topic} number {turn}"})
            messages.append({"role": "assistant", "content": f"Poem {turn} about {topic}: verse {turn}."})
        ask = f"Prepend {prefix} to the 2nd (1 indexed) short poem about {topic}. Do not include any other text."
        messages.append({"role": "user", "content": ask})
        rows.append({"prompt": json.dumps(messages), "answer": f"{prefix}Poem 1 about {topic}: verse 1.",
                     "random_string_to_prepend": prefix, "n_needles": 2 if i < 2 else 4,
                     "desired_msg_index": 3, "total_messages": 7, "n_chars": 300 + i})
    return rows


def _mrcr(folder: Path) -> tuple[Path, dict[str, str]]:
    rows = _mrcr_rows()
    path = folder / "2needle.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, {json.loads(r["prompt"])[-1]["content"]: r["answer"] for r in rows}


def write_mrcr_parquet(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(_mrcr_rows()), path)


def _frames(folder: Path) -> tuple[Path, dict[str, str]]:
    path = folder / "test.tsv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["", "Prompt", "Answer", "wikipedia_link_1", "reasoning_types", "wiki_links"])
        for i, (question, answer) in enumerate(QUESTIONS):
            kind = "Numerical reasoning" if i == 2 else "Multiple constraints"
            writer.writerow([i, question, answer, "https://en.wikipedia.org/wiki/X", kind, "['x']"])
    return path, {q: a for q, a in QUESTIONS}


def _longbench_v2(folder: Path) -> tuple[Path, dict[str, str]]:
    rows = []
    for i, (question, answer) in enumerate(QUESTIONS):
        letter = "BCA"[i]  # "A" is answered as "(a)" by the fake: the tolerant rule
        choices = {f"choice_{c}": (answer if c == letter else f"not {answer} ({c})") for c in "ABCD"}
        rows.append({"_id": f"lb{i}", "domain": "Single-Document QA", "sub_domain": "Legal",
                     "difficulty": "easy" if i else "hard", "length": ["short", "medium", "long"][i],
                     "question": question, **choices, "answer": letter, "context": f"Some long text {i}. {answer}."})
    path = folder / "data.json"
    path.write_text(json.dumps(rows))
    return path, {q: rows[i]["answer"] for i, (q, _) in enumerate(QUESTIONS)}


def _longreason(folder: Path) -> tuple[Path, dict[str, str]]:
    rows = []
    for i, (question, answer) in enumerate(QUESTIONS):
        letter = "ABCD"[i]
        options = "\n".join(f"({c}) {answer if c == letter else 'something else ' + c}" for c in "ABCD")
        inquiry = f"{question} Choose one option."
        prompt = (f"Background: a long story {i}.\n\n{inquiry}\n{options}\n\n"
                  "Your response should end with \"The final answer is [the_answer_letter]\".")
        rows.append({"prompt": prompt, "question": question, "background": f"a long story {i}",
                     "final_inquiry": inquiry, "answer": letter, "example_idx": i})
    path = folder / "64k.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, {q: r["answer"] for (q, _), r in zip(QUESTIONS, rows)}


@dataclass
class Ran:
    returncode: int
    stdout: bytes
    stderr: bytes


def invoke(*args: str, input: bytes | None = None) -> Ran:
    """Run `ltrl ARGS` in this process (typer's CliRunner): the same code path as the shell
    without a second of interpreter start-up per call; stdout and stderr kept apart."""
    from typer.testing import CliRunner

    from ltrl_cli.cli import app

    result = CliRunner().invoke(app, list(args), input=input, prog_name="ltrl")
    return Ran(result.exit_code, result.stdout_bytes, result.stderr_bytes)


# ---------------------------------------------------------------- the fake model

_AA = re.compile(r"The OFFICIAL ANSWER: (.*)\nCANDIDATE ANSWER TO ASSESS: (.*)\n\nReply only", re.S)
_FRAMES = re.compile(r"- Predicted Answer: (.*)\n- Ground Truth Answer: (.*)\n===Output", re.S)
_LTR = re.compile(r"\[correct_answer\]: (.*?)\n\n\[response\]: (.*)\n\nReply with the three fields", re.S)


class Oracle:
    """A FakeOpenAI handler that answers benchmark questions and judges candidates."""

    def __init__(self, benchmark: str, answers: dict[str, str], mode: str = "gold"):
        self.benchmark = benchmark
        self.answers = answers
        self.mode = mode
        self.generations = 0
        self.judgements = 0

    def __call__(self, body: dict) -> dict:
        text = body["messages"][-1]["content"]
        verdict = self._judge(text)
        if verdict is not None:
            self.judgements += 1
            return completion(verdict)
        self.generations += 1
        gold = next((a for marker, a in self.answers.items() if marker in text), None)
        assert gold is not None, f"the fake model got a prompt it has no answer for: {text[-300:]!r}"
        return completion(self._say(gold), reasoning="Let me look through the documents carefully.")

    def _say(self, gold: str) -> str:
        right = self.mode == "gold"
        if self.benchmark == "longbench-v2":
            letter = gold if right else "ABCD"[("ABCD".index(gold) + 1) % 4]
            return f"**The correct answer is ({letter.lower() if letter == 'A' else letter})**"
        if self.benchmark == "longreason":
            letter = gold if right else "ABCD"[("ABCD".index(gold) + 2) % 4]
            return f"Weighing the options... The final answer is **{letter}**."
        if self.benchmark == "mrcr":
            return gold if right else gold[5:]  # without the random prefix: 0 by the rules
        return gold if right else "I could not find it in the documents."

    def _judge(self, text: str) -> str | None:
        for pattern, reply in ((_AA, ("CORRECT", "INCORRECT")), (_FRAMES, ("Decision: TRUE", "Decision: FALSE")),
                               (_LTR, ("extracted_final_answer: (as given)\ncorrect: yes",
                                       "extracted_final_answer: (as given)\ncorrect: no"))):
            match = pattern.search(text)
            if match:
                first, second = match.group(1), match.group(2)
                official, candidate = (second, first) if pattern is _FRAMES else (first, second)
                same = normalize_answer(candidate) == normalize_answer(official)
                return f"Explanation: compared.\n{reply[0] if same else reply[1]}"
        return None
