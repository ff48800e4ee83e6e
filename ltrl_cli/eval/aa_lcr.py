"""AA-LCR (ArtificialAnalysis/AA-LCR): 100 questions over sets of real documents of
about 100K tokens each, graded by an LLM judge.

The question file `AA-LCR_Dataset.csv` has `document_category, document_set_id,
question_id, question, answer, data_source_filenames` (";"-separated: the order is the
order the documents are given in), `data_source_urls, input_tokens`. The documents'
extracted text unpacks to `lcr/<document_category>/<document_set_id>/<filename>`, next
to the CSV (or give the folder that holds both). A flat folder of the extracted texts
loads too: a document is looked for as `lcr/<category>/<set>/<file>`, then
`lcr/<set>/<file>`, then `lcr/<file>`. The question file should have 100 rows; fewer or
more is warned about (a cut or a merged file).

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
import sys
from pathlib import Path
from typing import Any, Iterator

from ltrl_cli import console
from ltrl_cli.errors import BadInput
from ltrl_cli.eval.common import Grade, Graders, Item, judged, one_user_turn
from ltrl_cli.eval.tables import benchmark_rows, need

NAME = "aa-lcr"
BREAKDOWNS = ("category",)
NEEDS_JUDGE = True  # graded by an LLM: the command checks for a judge before any work
CSV_NAME = "AA-LCR_Dataset.csv"
COLUMNS = ("document_category", "document_set_id", "question_id", "question", "answer", "data_source_filenames")
QUESTIONS = 100  # rows of the official question file

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
    csv_path = _question_file(path)
    docs_root = csv_path.parent / "lcr"
    skipped = rows = 0
    for _, number, row in benchmark_rows(csv_path, sys.modules[__name__], ("*.csv",)):
        rows = number
        try:
            documents = _documents(row, csv_path, number, docs_root)
        except MissingDocument as exc:
            if not skip_missing:
                raise BadInput(f"{exc}. {LAYOUT}; pass --skip-missing to evaluate only the questions whose "
                               "documents are present") from None
            skipped += 1
            continue
        yield _item(row, csv_path, number, documents)
    if rows and rows != QUESTIONS:
        console.warn(f"aa-lcr: {csv_path} has {rows} question row(s), not the official {QUESTIONS}: "
                     "a cut or merged file scores a different benchmark")
    if skipped:
        console.warn(f"aa-lcr: skipped {skipped} question(s) whose documents are missing (--skip-missing)")


LAYOUT = (f"Lay the documents out beside {CSV_NAME} as lcr/<document_category>/<document_set_id>/<filename> "
          "(the official archive), lcr/<document_set_id>/<filename> or lcr/<filename>")


def _question_file(path: Path) -> Path:
    """The question CSV: `path` itself, or AA-LCR_Dataset.csv (plain or .gz) in the folder `path`."""
    if not path.is_dir():
        return path
    for name in (CSV_NAME, CSV_NAME + ".gz"):
        if (path / name).is_file():
            return path / name
    found = sorted(path.glob("*.csv")) + sorted(path.glob("*.csv.gz"))
    if len(found) == 1:
        return found[0]
    raise BadInput(f"no {CSV_NAME} in this folder (give the question file itself with --data); {LAYOUT}",
                   source=str(path))


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
        file = next((f for f in (root / category / doc_set / name, root / doc_set / name, root / name) if f.is_file()),
                    None)
        if file is None:
            raise MissingDocument(f"question {row.get('question_id', number)}: document not found: "
                                  f"{root / category / doc_set / name}")
        texts.append(_read_document(file))
    return texts


def _read_document(file: Path) -> str:
    """A document's text; bytes that are not UTF-8 are replaced, and the file is named on stderr."""
    raw = file.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        console.warn(f"aa-lcr: {file}: not valid UTF-8 at byte {exc.start + 1:,} ({exc.reason}); "
                     "such bytes are read as U+FFFD")
        return raw.decode("utf-8", errors="replace")


def _item(row: dict[str, Any], csv_path: Path, number: int, documents: list[str]) -> Item:
    question = need(row, "question", csv_path, number)
    return Item(id=str(need(row, "question_id", csv_path, number)),
                messages=one_user_turn(prompt(documents, question)),
                gold=need(row, "answer", csv_path, number), question=question,
                buckets={"category": row.get("document_category") or "unknown"}, where=f"{csv_path} row {number}")


def prompt(documents: list[str], question: str) -> str:
    """The owners' prompt: numbered documents in the given order, then the question."""
    blocks = "\n\n".join(f"BEGIN DOCUMENT {i}:\n{text}\nEND DOCUMENT {i}" for i, text in enumerate(documents, 1))
    return TEMPLATE.format(documents=blocks, question=question)


async def grade(item: Item, content: str, graders: Graders) -> Grade:
    """The judge's verdict: 1 for CORRECT (or `correct: yes`), 0 otherwise, None without one."""
    return await judged(graders, item, content, official=("aa-lcr", JUDGE_PROMPT, parse_verdict))
