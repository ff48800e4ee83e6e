"""The layout of an assembled record (the released dataset's) and of its prompt.

A record has `id`, `source`, `input_messages`, `label` and `metadata` (`rubrics`,
`question`, `extra_reward_info`, `docs`, `tokens`, `target_tokens`, `strategy`, `tokenizer`,
`seed`); `extra_reward_info` ({question, rubrics, dataset_name "longqa"}) is what the
authors' slime rollout reads. Each `metadata.docs` item is `{id, title, tier, tokens,
truncated, span}`; `span` is the [start, end) character range of the document's block in
the user message, so `ltrl stats` can read each document back without re-parsing the prompt.

Strategies (the paper's ablation; `context.builder` carries them out):
- `traj-tiered` (the method): Tier-1, then Tier-2, each in a seeded random order.
- `traj-random`: the same trajectory documents, without tier order.
- `search`: one-shot retrieval for the question (`--search-k` hits, tier `search`).
- `random`: random pages only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ltrl_cli.records import reward_info

STRATEGIES = ("traj-tiered", "traj-random", "search", "random")
TIERS = ("gold", "tier1", "tier2", "search", "random")
SOURCE = "longqa"
DEFAULT_TARGET_TOKENS = 131072

# One user turn: the documents, then the question (the paper's layout; its exact wording
# was not released). `{documents}` and `{question}` are replaced literally, so a template
# may hold other braces.
DEFAULT_TEMPLATE = (
    "Please read the following documents and answer the question at the end. "
    "Only some of the documents are relevant.\n\n"
    "{documents}\n\n"
    "Question: {question}\n"
    "Think step by step, then give the final answer."
)
DEFAULT_DOC_FORMAT = "Document {index}: {title}\n{text}"
DOC_SEPARATOR = "\n\n"


@dataclass
class Doc:
    """One document placed in (or considered for) a context."""

    id: str
    title: str
    tier: str
    text: str  # the page body as placed (a prefix of the body when truncated)
    tokens: int  # tokens of `text` and the blank line after it (the unit the token cache keeps)
    frame: int  # tokens of the header around it ("Document 12: Title\n" and the separator)
    truncated: bool = False
    full_text: str = field(default="", repr=False)

    @property
    def cost(self) -> int:
        return self.tokens + self.frame


@dataclass(frozen=True)
class AssembleOptions:
    target_tokens: int = DEFAULT_TARGET_TOKENS
    strategy: str = "traj-tiered"
    seed: int = 0
    template: str = DEFAULT_TEMPLATE
    doc_format: str = DEFAULT_DOC_FORMAT
    search_k: int = 100
    min_fragment: int = 64  # a cut document shorter than this is left out instead


def render(template: str, doc_format: str, question: str, docs: list[Doc]) -> tuple[str, list[tuple[int, int]]]:
    """The user message and each document's [start, end) character span in it.

    >>> d = Doc("7", "Paris", "gold", "Capital of France.", 4, 4)
    >>> text, spans = render("{documents}\\nQ: {question}", "[{index}] {title}\\n{text}", "Where?", [d])
    >>> text
    '[1] Paris\\nCapital of France.\\nQ: Where?'
    >>> text[spans[0][0]:spans[0][1]]
    '[1] Paris\\nCapital of France.'
    """
    parts, spans = render_parts(template, doc_format, question, docs)
    return "".join(parts), spans


def render_parts(template: str, doc_format: str, question: str, docs: list[Doc]) -> tuple[list[str], list[tuple[int, int]]]:
    """render() as a list of parts whose concatenation is the message.

    The parts keep each page's text apart from the words around it, so that the token
    count of the message can be summed from cached counts of its pieces.
    """
    before, after = template.split("{documents}")
    head, tail = doc_format.split("{text}")
    parts, spans, pos = [before.replace("{question}", question)], [], len(before.replace("{question}", question))
    for index, doc in enumerate(docs, start=1):
        block = [head.format(index=index, title=doc.title), doc.text, tail.format(index=index, title=doc.title)]
        if index > 1:
            parts.append(DOC_SEPARATOR)
            pos += len(DOC_SEPARATOR)
        parts.extend(block)
        length = sum(len(b) for b in block)
        spans.append((pos, pos + length))
        pos += length
    parts.append(after.replace("{question}", question))
    return parts, spans


def user_turn(content: str) -> list[dict]:
    return [{"role": "user", "content": content}]


def training_record(record: dict, content: str, docs: list[Doc], spans: list[tuple[int, int]], tokens: int,
                    options: AssembleOptions, tokenizer: str) -> dict:
    """The released dataset's layout (DESIGN.md), with the placed documents in metadata."""
    return {
        "id": record["id"],
        "source": SOURCE,
        "input_messages": user_turn(content),
        "label": record["answer"],
        "metadata": {
            "rubrics": list(record.get("gold_entities") or []),
            "question": record["question"],
            # what the authors' slime rollout reads (and sends to the reward server)
            "extra_reward_info": reward_info(record["question"], record.get("gold_entities") or []),
            "docs": [
                {"id": d.id, "title": d.title, "tier": d.tier, "tokens": d.tokens, "truncated": d.truncated,
                 "span": list(span)}
                for d, span in zip(docs, spans)
            ],
            "tokens": tokens,
            "target_tokens": options.target_tokens,
            "strategy": options.strategy,
            "tokenizer": tokenizer,
            "seed": options.seed,
        },
    }
