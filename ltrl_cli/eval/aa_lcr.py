"""AA-LCR (ArtificialAnalysis/AA-LCR): 100 questions over sets of real documents of
about 100K tokens each, graded by an LLM judge.

The question file `AA-LCR_Dataset.csv` has `document_category, document_set_id,
question_id, question, answer, data_source_filenames` (";"-separated: the order is the
order the documents are given in), `data_source_urls, input_tokens`. The documents'
extracted text unpacks to `lcr/<document_category>/<document_set_id>/<filename>`, next
to the CSV (or give the folder that holds both).

The prompt is the owners': each document wrapped as `BEGIN DOCUMENT i:` ... `END
DOCUMENT i`, all of them between `BEGIN INPUT DOCUMENTS` and `END INPUT DOCUMENTS`,
then "Answer the following question using the input documents provided above." and the
question between `START QUESTION` and `END QUESTION`.

Grading: `--judge-prompt official` is the owners' equality checker ("Assess whether the
following CANDIDATE ANSWER is CORRECT or INCORRECT ...", reply CORRECT or INCORRECT);
`--judge-prompt longtracerl` is the method's yes/no judge (`ltrl score`'s). Either way an
unparseable verdict is asked again up to 3 times and a judge failure is reported, never
scored 0.

A question whose documents are missing stops the run with a message naming the file;
with `--skip-missing` such questions are left out and counted.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from ltrl_cli import console
from ltrl_cli.errors import BadInput
from ltrl_cli.eval.common import Grade, Graders, Item, judged, need, one_user_turn, table_rows

NAME = "aa-lcr"
BREAKDOWNS = ("category",)
NEEDS_JUDGE = True  # graded by an LLM: the command checks for a judge before any work
CSV_NAME = "AA-LCR_Dataset.csv"

TEMPLATE = """\
BEGIN INPUT DOCUMENTS

{documents}

END INPUT DOCUMENTS

Answer the following question using the input documents provided above.

START QUESTION

{question}

END QUESTION
"""

# The owners' equality checker; {question}/{response}/{label} are filled by the judge.
JUDGE_PROMPT = """\
Assess whether the following CANDIDATE ANSWER is CORRECT or INCORRECT. For the CANDIDATE ANSWER to be \
correct, it must be consistent with the OFFICIAL ANSWER.

The question, for reference only: {question}
The OFFICIAL ANSWER: {label}
CANDIDATE ANSWER TO ASSESS: {response}

Reply only with CORRECT or INCORRECT."""

_VERDICT = re.compile(r"\b(INCORRECT|CORRECT)\b")


def parse_verdict(text: str | None) -> bool | None:
    """The checker's last CORRECT/INCORRECT word (any case, any markdown); None when absent.

    >>> parse_verdict("**CORRECT**"), parse_verdict("incorrect."), parse_verdict("maybe")
    (True, False, None)
    >>> parse_verdict("<think>is it CORRECT?</think>INCORRECT")
    False
    """
    if not text:
        return None
    text = text.rpartition("</think>")[2] or text  # a reasoning judge: read its final word
    found = _VERDICT.findall(text.upper())
    return found[-1] == "CORRECT" if found else None


def load(path: Path, *, skip_missing: bool = False) -> Iterator[Item]:
    """Items from the question CSV (or its folder), documents read from `lcr/` beside it."""
    csv_path = path / CSV_NAME if path.is_dir() else path
    docs_root = csv_path.parent / "lcr"
    skipped = 0
    for number, row in table_rows(csv_path):
        try:
            documents = _documents(row, csv_path, number, docs_root)
        except MissingDocument as exc:
            if not skip_missing:
                raise BadInput(f"{exc}. The official archive unpacks to lcr/<category>/<set>/ beside "
                               f"{CSV_NAME}; pass --skip-missing to evaluate only the questions whose "
                               "documents are present") from None
            skipped += 1
            continue
        yield _item(row, csv_path, number, documents)
    if skipped:
        console.warn(f"aa-lcr: skipped {skipped} question(s) whose documents are missing (--skip-missing)")


class MissingDocument(Exception):
    pass


def _documents(row: dict[str, Any], csv_path: Path, number: int, root: Path) -> list[str]:
    category = need(row, "document_category", csv_path, number)
    doc_set = need(row, "document_set_id", csv_path, number)
    names = [n.strip() for n in need(row, "data_source_filenames", csv_path, number).split(";") if n.strip()]
    if not names:
        raise BadInput(f"row {number}: field 'data_source_filenames' names no file", source=str(csv_path))
    texts = []
    for name in names:
        file = root / category / doc_set / name
        if not file.is_file():
            raise MissingDocument(f"question {row.get('question_id', number)}: document not found: {file}")
        texts.append(file.read_text(encoding="utf-8", errors="replace"))
    return texts


def _item(row: dict[str, Any], csv_path: Path, number: int, documents: list[str]) -> Item:
    question = need(row, "question", csv_path, number)
    return Item(id=str(need(row, "question_id", csv_path, number)),
                messages=one_user_turn(prompt(documents, question)),
                gold=need(row, "answer", csv_path, number), question=question,
                buckets={"category": row.get("document_category") or "unknown"})


def prompt(documents: list[str], question: str) -> str:
    """The owners' prompt: numbered documents in the given order, then the question."""
    blocks = "\n\n".join(f"BEGIN DOCUMENT {i}:\n{text}\nEND DOCUMENT {i}" for i, text in enumerate(documents, 1))
    return TEMPLATE.format(documents=blocks, question=question)


async def grade(item: Item, content: str, graders: Graders) -> Grade:
    """The judge's verdict: 1 for CORRECT (or `correct: yes`), 0 otherwise, None without one."""
    return await judged(graders, item, content, official=("aa-lcr", JUDGE_PROMPT, parse_verdict))
