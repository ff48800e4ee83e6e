"""The LLM question writer: the prompt, the request, and reading the model's JSON.

`LLMWriter` prompts any LLM backend for a JSON object (question, answer, gold entities) and
re-asks once when the JSON cannot be read, even after repair.
"""

from __future__ import annotations

from typing import Any

from ltrl_cli.backends.base import clip, page_body
from ltrl_cli.llm.base import LLM, ChatRequest, RequestRejected
from ltrl_cli.llm.text import parse_json_object
from ltrl_cli.reward.rules import normalize
from ltrl_cli.synth.questions import Chain, Draft, SynthOptions

SYSTEM_PROMPT = "You write hard multi-hop questions for training reading and search agents. You answer in JSON."

PROMPT = """Below is a chain of {n} encyclopedia pages; each page links to the next. For each link you get \
the sentence of the earlier page where the link appears. Then you get the text of the final page.

Write ONE question that:
- can only be answered by following the whole chain, from the first page to the final page;
- refers to every entity of the chain indirectly, through what the sentences say about it, never by its name;
- does not name the final entity;
- asks for a short attribute of the final entity (a date, a place, a number or a name) that its page states \
word for word, so that the answer is unique and checkable;
- does not contain the answer.

Chain:
{chain}

Final page: {final}
{text}

Reply with a JSON object only, no other text:
{{"question": "...", "answer": "<the attribute, copied from the final page>", \
"gold_entities": ["<title of each chain entity the question passes through, in chain order>"]}}"""

RETRY_PROMPT = ("That was not a JSON object with the keys question, answer and gold_entities. "
                "Reply with the JSON object only.")


def build_prompt(chain: Chain, options: SynthOptions) -> str:
    """The user message for one chain (pure: the same chain gives the same prompt)."""
    lines = []
    for number, page in enumerate(chain.pages, start=1):
        if number == 1:
            lines.append(f"{number}. {page.title}")
            continue
        previous = chain.pages[number - 2].title
        how = f'linked from {previous}: "{page.evidence}"' if page.evidence else f"linked from {previous}"
        lines.append(f"{number}. {page.title} ({how})")
    text = clip(page_body(chain.final.page), options.page_chars)
    return PROMPT.format(n=len(chain.pages), chain="\n".join(lines), final=chain.final.title, text=text)


class LLMWriter:
    """Drafts with an LLM: one request per chain, one more when the JSON cannot be read."""

    def __init__(self, llm: LLM, options: SynthOptions):
        self.llm = llm
        self.name = llm.name
        self.model = llm.model
        self.options = options

    async def write(self, chain: Chain) -> Draft:
        messages = [{"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": build_prompt(chain, self.options)}]
        cached = True
        for attempt in (1, 2):
            request = ChatRequest(messages, temperature=self.options.temperature, max_tokens=self.options.max_tokens,
                                  cache_key=(chain.record_id, "synth", attempt))
            try:
                response = await self.llm.chat(request)
            except RequestRejected as exc:  # this prompt only (too long, filtered): reject the walk
                return Draft(problem="request_rejected", attempts=attempt, notes={"error": exc.message})
            cached = cached and response.cached
            draft = read_draft(response.content, chain)
            draft.attempts, draft.cached, draft.reasoning = attempt, cached, response.reasoning
            if draft.problem is None:
                return draft
            messages = messages + [{"role": "assistant", "content": response.content},
                                   {"role": "user", "content": RETRY_PROMPT}]
        return draft


def read_draft(content: str, chain: Chain) -> Draft:
    """Parse the model's JSON (repairing what can be repaired) into a Draft."""
    data = parse_json_object(content)
    # the reply, cut, goes with a rejected walk: it is what a person needs to see why
    unparseable = Draft(problem="unparseable", notes={"reply": clip(content, 300)})
    if not data or not isinstance(data.get("question"), str) or not _scalar(data.get("answer")):
        return unparseable
    question, answer = data["question"].strip(), str(data["answer"]).strip()
    if not question or not answer:
        return unparseable
    gold, source = gold_from_model(data.get("gold_entities"), chain)
    return Draft(question=question, answer=answer, gold_entities=gold, notes={"gold_source": source})


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def gold_from_model(named: Any, chain: Chain) -> tuple[list[str], str]:
    """The model's gold entities, kept only where they are chain entities before the final one.

    Falls back to the whole chain before the final page when the model named none of them.
    """
    candidates = {normalize(t): t for t in chain.titles[:-1]}
    picked: list[str] = []
    for name in named if isinstance(named, list) else []:
        title = candidates.get(normalize(str(name)))
        if title is not None and title not in picked:
            picked.append(title)
    if not picked:
        return list(dict.fromkeys(chain.titles[:-1])), "chain"
    order = {t: i for i, t in enumerate(chain.titles)}
    return sorted(picked, key=order.__getitem__), "model"
