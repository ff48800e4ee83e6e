"""FRAMES (google/frames-benchmark): 824 multi-hop questions over 2-15 Wikipedia articles.

Two layouts load:
- the questions TSV (`test.tsv`: tab-separated, quoted, an unnamed index column, `Prompt`,
  `Answer`, `wikipedia_link_1..11+`, `reasoning_types`, `wiki_links`). Without article
  texts the prompt is the question alone (the FRAMES paper's "naive" setting);
- the long-context variant: JSONL/JSON/parquet records with the question and answer
  (`Prompt`/`question`, `Answer`/`answer`) plus the article texts in `articles`,
  `wiki_texts`, `documents` or `docs` (a list of strings or of `{title, text}`) or
  `context` (one string). The prompt is the FRAMES paper's oracle prompt: "Here are the
  relevant Wikipedia articles:", the articles, "Based on all the information, answer the
  query.", then "Query: <question>".

Grading is the FRAMES auto-rater: an LLM reads the question, the predicted and the ground
truth answer and decides TRUE or FALSE (`--judge-prompt official`), or the method's yes/no
judge (`--judge-prompt longtracerl`). The summary also reports the sub-string match: the
normalised ground truth appears in the normalised response.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Iterator

from ltrl_cli.reward.judge import normalize_answer
from ltrl_cli.errors import BadInput
from ltrl_cli.eval.common import Grade, Graders, Item, judged, one_user_turn
from ltrl_cli.eval.tables import benchmark_rows, need

NAME = "frames"
BREAKDOWNS = ("reasoning",)
COLUMNS = (("Prompt", "prompt", "question"), ("Answer", "answer"))
NEEDS_JUDGE = True  # graded by an LLM: the command checks for a judge before any work

ORACLE_TEMPLATE = """\
Here are the relevant Wikipedia articles:
{articles}

Based on all the information, answer the query.

Query: {question}

"""

# The FRAMES auto-rater prompt; {question}/{response}/{label} are filled by the judge.
JUDGE_PROMPT = """\
===Task===
I need your help in evaluating an answer provided by an LLM against a ground truth answer. Your task is to \
determine if the ground truth answer is present in the LLM's response. Please analyze the provided data and make \
a decision.
===Instructions===
1. Carefully compare the "Predicted Answer" with the "Ground Truth Answer".
2. Consider the substance of the answers - look for equivalent information or correct answers. Do not focus on \
exact wording unless the exact wording is crucial to the meaning.
3. Your final decision should be based on whether the meaning and the vital facts of the "Ground Truth Answer" \
are present in the "Predicted Answer:"
===Input Data===
- Question: {question}
- Predicted Answer: {response}
- Ground Truth Answer: {label}
===Output Format===
Provide your final evaluation in the following format:
"Explanation:" (How you made the decision?)
"Decision:" ("TRUE" or "FALSE" )
Please proceed with the evaluation."""

_DECISION = re.compile(r"decision\W*(true|false)\b", re.IGNORECASE)
_BARE = re.compile(r"\b(TRUE|FALSE)\b")
ARTICLE_FIELDS = ("articles", "wiki_texts", "documents", "docs")


def parse_verdict(text: str | None) -> bool | None:
    """The rater's last `Decision: TRUE|FALSE` (markdown and quotes tolerated), else its last
    bare TRUE/FALSE; None when there is neither.

    >>> parse_verdict('Explanation: same person.\\n**Decision:** "TRUE"')
    True
    >>> parse_verdict("Decision: false"), parse_verdict("FALSE"), parse_verdict("unsure")
    (False, False, None)
    """
    if not text:
        return None
    text = text.rpartition("</think>")[2] or text
    found = _DECISION.findall(text) or _BARE.findall(text)
    return found[-1].upper() == "TRUE" if found else None


def load(path: Path, *, skip_missing: bool = False) -> Iterator[Item]:
    """Items from the questions TSV or from long-context records carrying the articles."""
    for file, number, row in benchmark_rows(path, sys.modules[__name__], ("*.tsv", "*.jsonl", "*.json", "*.parquet",
                                                                          "*.csv")):
        yield _item(row, file, number)


def _item(row: dict[str, Any], file: Path, number: int) -> Item:
    question = need(row, ("Prompt", "prompt", "question"), file, number).strip()
    answer = need(row, ("Answer", "answer"), file, number).strip()
    index = row.get("") if row.get("") not in (None, "") else row.get("Unnamed: 0", row.get("id"))
    articles = _articles(row, file, number)
    text = prompt(question, articles) if articles is not None else question
    return Item(id=str(index) if index is not None else str(number - 1), messages=one_user_turn(text), gold=answer,
                question=question, buckets={"reasoning": row.get("reasoning_types") or "unknown"},
                where=f"{file} row {number}")


def _articles(row: dict[str, Any], file: Path, number: int) -> list[str] | None:
    for key in ARTICLE_FIELDS:
        value = row.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            raise BadInput(f"row {number}: field '{key}': expected a list of article texts", source=str(file))
        return [_article_text(a, key, file, number) for a in value]
    context = row.get("context")
    return [context] if isinstance(context, str) and context.strip() else None


def _article_text(article: Any, key: str, file: Path, number: int) -> str:
    if isinstance(article, str):
        return article
    if isinstance(article, dict) and isinstance(article.get("text"), str):
        title = article.get("title")
        return f"{title}\n{article['text']}" if title else article["text"]
    raise BadInput(f"row {number}: field '{key}': an article must be text or {{title, text}}", source=str(file))


def prompt(question: str, articles: list[str]) -> str:
    """The FRAMES oracle prompt: the articles, then the query."""
    return ORACLE_TEMPLATE.format(articles="\n\n".join(a.strip() for a in articles), question=question)


def substring_match(content: str, gold: str) -> float:
    """1.0 when the normalised gold answer occurs in the normalised response.

    >>> substring_match("It was **Jane Ballou**.", "Jane Ballou"), substring_match("Jane", "Jane Ballou")
    (1.0, 0.0)
    """
    needle = normalize_answer(gold)
    return float(bool(needle) and needle in normalize_answer(content))


async def grade(item: Item, content: str, graders: Graders) -> Grade:
    """The auto-rater's verdict (TRUE 1, FALSE 0, None without one), plus the sub-string match."""
    result = await judged(graders, item, content, official=("frames", JUDGE_PROMPT, parse_verdict))
    result.metrics["substring_match"] = substring_match(content, item.gold)
    return result
