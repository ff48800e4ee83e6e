"""A local model server for the tests: answers as vLLM's OpenAI-compatible server does, plays
every role ltrl asks of a model, and misbehaves the way real servers do, on a seeded schedule.

In pytest (in-process, on a thread):

    with ModelServer(seed=0) as server:          # Faults() by default; Faults.none() for none
        run_script(BASE_URL=server.base_url, MODEL=server.model)
        assert server.stats["repeats"] == 0

As a process, for shell scripts (prints its URL on the first line of stdout, serves until
SIGTERM or Ctrl-C, and its counters at GET /stats):

    python tests/model_server.py --port 0 --seed 0 [--no-faults] [--max-model-len 32768]
    BASE_URL=$(that URL) MODEL=ltrl-test bash examples/kilt-pipeline.sh work/kilt

Routes: GET /v1/models (the names it serves), POST /v1/chat/completions, and GET /stats
(test-only: the counters below, as JSON).

The roles, told apart by the request (nothing is configured per role):
- question writer (`ltrl synth`'s prompt): reads the chain and the final page from the prompt
  and writes a one-sentence question whose answer (a year, a number or a name) is copied
  from the final page; it remembers each question's answer and chain;
- search agent (`ltrl search-agent`: a request with `tools`, or the text-tag protocol):
  searches with words of the question (and, for a question it wrote, with the chain's
  titles), opens several hits in one turn (every tool call of a turn at once), cites the
  chain pages it opened and answers: right for 4 rollouts in 5 of a question it wrote,
  guessed otherwise. Each turn carries reasoning, in `reasoning_content` or `reasoning`;
- judge (`ltrl_cli/reward/judge.py`'s prompt): compares the response with the correct
  answer and replies in the grader format;
- anything else: a short echo.

Replies depend on the request body only (never on arrival order or time), so a rerun sends
the same requests and gets the same answers. The misbehaviours (`Faults`):
- of the model (decided by a hash of the body, so the same request always gets the same
  reply): tool-call arguments that are not valid JSON; a reply cut at max_tokens
  (`finish_reason: "length"`); a 400 when prompt + max_tokens exceed `max_model_len`
  (vLLM's message), and a 404 for a model it does not serve;
- of the transport (decided by a hash of the body and how often it was seen, first and
  second sight only, so a client's retries get through): HTTP 500, 429 with Retry-After,
  a connection dropped before the reply, and one dropped mid-reply.

Counters (`stats`): requests, answered (200 sent whole), repeats (requests whose identical
body had been answered before: a resumed run must send none), by role, by fault, rejected
(4xx). `hold_after(n)` makes it stop answering once n requests were answered (held ones
wait until `release()`; `hold_after(n, "agent")` counts one role's), so a test can kill a
client at a known point. Every reply reports
`usage` (prompt and completion tokens, estimated at 4 characters a token).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python tests/model_server.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ltrl_cli.synth.prompt import RETRY_PROMPT, SYSTEM_PROMPT as WRITER_SYSTEM  # noqa: E402
from tests.fake_openai import FakeOpenAI, Reply  # noqa: E402

MODEL = "ltrl-test"


@dataclass(frozen=True)
class Faults:
    """How often each misbehaviour happens (fractions of requests)."""

    server_error: float = 0.04  # HTTP 500
    rate_limit: float = 0.04  # HTTP 429 with Retry-After
    retry_after: str = "1"  # seconds, as vLLM behind a proxy sends it
    drop: float = 0.02  # connection closed before any reply
    cut: float = 0.02  # connection closed mid-reply
    bad_arguments: float = 0.08  # one tool call's arguments are not valid JSON
    length: float = 0.05  # the reply is cut at max_tokens (finish_reason "length")

    @classmethod
    def none(cls) -> "Faults":
        return cls(0, 0, "1", 0, 0, 0, 0)


def _unit(*parts: Any) -> float:
    """A number in [0, 1) that depends on `parts` only (the seeded schedule)."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def body_key(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def tokens_of(text: str) -> int:
    return max(1, len(text) // 4)


@dataclass
class Question:
    answer: str
    chain: list[str]


class ModelServer(FakeOpenAI):
    """See the module docstring."""

    def __init__(self, *, seed: int = 0, faults: Faults = Faults(), max_model_len: int = 32768,
                 models: tuple[str, ...] = (MODEL,), port: int = 0):
        super().__init__(self._answer, port=port, models=models)
        self.model = models[0]
        self.seed, self.faults, self.max_model_len = seed, faults, max_model_len
        self.stats: Counter[str] = Counter()
        self.questions: dict[str, Question] = {}  # the questions it wrote, by their text
        self._seen: Counter[str] = Counter()  # times each body arrived
        self._answered: set[str] = set()
        self._count_lock = threading.Lock()
        self._hold_after: tuple[int, str | None] | None = None
        self._released = threading.Event()

    # ---- control, for tests

    def hold_after(self, answered: int, role: str | None = None) -> None:
        """Stop answering (requests of `role`, or all) once `answered` of them were answered;
        later ones wait for release(), then their connections are dropped unanswered.
        `stats["held"]` counts the requests held."""
        self._released.clear()
        self._hold_after = (answered, role)

    @property
    def answered_bodies(self) -> int:
        """Distinct request bodies answered (a client's cache holds at least as many entries)."""
        with self._count_lock:
            return len(self._answered)

    def release(self) -> None:
        self._hold_after = None
        self._released.set()

    def __exit__(self, *exc: Any) -> None:
        self.release()
        super().__exit__(*exc)

    def get(self, path: str) -> Reply:
        if path.rstrip("/") == "/stats":
            with self._count_lock:
                return Reply(dict(self.stats))
        return super().get(path)

    def sent(self, body: dict, reply: Reply) -> None:
        if reply.status != 200:
            return
        with self._count_lock:
            self.stats["answered"] += 1
            self.stats[f"answered {role_of(body)}"] += 1
            self._answered.add(body_key(body))

    # ---- one request

    def _answer(self, body: dict) -> Reply | dict:
        key = body_key(body)
        with self._count_lock:
            self.stats["requests"] += 1
            self._seen[key] += 1
            sight = self._seen[key]
            if key in self._answered:
                self.stats["repeats"] += 1
        role = role_of(body)
        if self._held(role):
            return Reply(drop=True)
        refused = self._refuse(body)
        if refused is not None:
            return refused
        transport = self._transport_fault(key, sight)
        if transport is not None:
            return transport
        self._count(f"role {role}")
        return getattr(self, f"_{role}")(body, key)

    def _held(self, role: str) -> bool:
        """Wait while held; True when this request was held (it is then dropped, never
        answered: its client is gone by the time of release, in the tests that hold)."""
        hold = self._hold_after
        if hold is None or hold[1] not in (None, role):
            return False
        if self.stats["answered" if hold[1] is None else f"answered {role}"] < hold[0]:
            return False
        self._count("held")
        self._released.wait()
        return True

    def _count(self, name: str) -> None:
        with self._count_lock:
            self.stats[name] += 1

    def _refuse(self, body: dict) -> Reply | None:
        """vLLM's 404 for a model it does not serve and 400 for a prompt over the context length."""
        if body.get("model") not in self.models:
            self._count("rejected")
            return _error(404, "NotFoundError", f"The model `{body.get('model')}` does not exist.")
        prompt = prompt_tokens(body)
        wanted = prompt + (body.get("max_tokens") or 0)
        if wanted > self.max_model_len:
            self._count("rejected")
            self._count("fault context_length")
            return _error(400, "BadRequestError",
                          f"This model's maximum context length is {self.max_model_len} tokens. However, you "
                          f"requested {wanted} tokens ({prompt} in the messages, {body.get('max_tokens') or 0} "
                          "in the completion). Please reduce the length of the messages or completion.")
        return None

    def _transport_fault(self, key: str, sight: int) -> Reply | None:
        if sight > 2:  # a client's third try always gets through
            return None
        u, f = _unit(self.seed, key, sight, "transport"), self.faults
        for name, share, reply in (
            ("server_error", f.server_error, lambda: _error(500, "InternalServerError", "CUDA error: an illegal "
                                                             "memory access was encountered")),
            ("rate_limit", f.rate_limit, lambda: Reply({"error": {"message": "Too many requests", "type":
                                                                  "rate_limit_error", "code": 429}}, status=429,
                                                       headers={"Retry-After": f.retry_after})),
            ("drop", f.drop, lambda: Reply(drop=True)),
        ):
            if u < share:
                self._count(f"fault {name}")
                return reply()
            u -= share
        return None

    def _model_fault(self, key: str, kind: str) -> bool:
        """Does this body get the model fault `kind` (bad_arguments, length)? Always the same answer."""
        return _unit(self.seed, key, kind) < getattr(self.faults, kind)

    def _reply(self, body: dict, key: str, message: dict, finish: str) -> Reply:
        """A chat.completion as vLLM writes it, with usage; sometimes cut mid-reply."""
        completion = tokens_of(json.dumps(message))
        if finish == "length" and body.get("max_tokens"):
            completion = body["max_tokens"]
        reply = {
            "id": f"chatcmpl-{key[:32]}", "object": "chat.completion", "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "refusal": None, "annotations": None,
                                                 "audio": None, "function_call": None, "tool_calls": [],
                                                 **message},
                         "logprobs": None, "finish_reason": finish, "stop_reason": None}],
            "usage": {"prompt_tokens": prompt_tokens(body), "completion_tokens": completion,
                      "total_tokens": prompt_tokens(body) + completion, "prompt_tokens_details": None},
            "prompt_logprobs": None, "kv_transfer_params": None,
        }
        cut = self._seen[key] <= 2 and _unit(self.seed, key, self._seen[key], "cut") < self.faults.cut
        if cut:
            self._count("fault cut")
        return Reply(reply, cut=cut)

    # ---- the roles

    def _writer(self, body: dict, key: str) -> Reply:
        prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
        chain, final_text = parse_writer_prompt(prompt)
        question, answer = write_question(chain, final_text)
        with self._count_lock:  # two chains, one question: the same one wins whatever the order
            known = self.questions.get(question)
            if known is None or (answer, chain) < (known.answer, known.chain):
                self.questions[question] = Question(answer, chain)
        content = json.dumps({"question": question, "answer": answer, "gold_entities": chain[:-1]})
        if _unit(self.seed, key, "fence") < 0.3:  # models wrap JSON in a code fence now and then
            content = f"Here is the question.\n```json\n{content}\n```"
        reasoning = f"The chain ends at {chain[-1]}; its page gives {answer}."
        if self._model_fault(key, "length") and body["messages"][-1]["content"] != RETRY_PROMPT:
            self._count("fault length")
            return self._reply(body, key, {"content": content[: len(content) // 2],
                                           "reasoning_content": reasoning}, "length")
        return self._reply(body, key, {"content": content, "reasoning_content": reasoning}, "stop")

    def _agent(self, body: dict, key: str) -> Reply:
        state = AgentState.read(body["messages"])
        known = self.questions.get(state.question)
        right = known is not None and _unit(self.seed, body.get("seed"), state.question, "right") < 0.8
        actions = plan(state, known, right)
        field_name = "reasoning_content" if _unit(self.seed, key, "field") < 0.5 else "reasoning"
        reasoning = f"Turn {state.turns + 1}: " + "; ".join(f"{name} {args}" for name, args in actions)
        if self._model_fault(key, "length"):
            self._count("fault length")
            return self._reply(body, key, {"content": None, field_name: reasoning[:40]}, "length")
        if not body.get("tools"):  # the text-tag protocol: one turn-ending action a turn
            return self._reply(body, key, {"content": render_tags(actions), field_name: reasoning}, "stop")
        calls = [{"id": f"chatcmpl-tool-{key[:8]}{i}", "type": "function",
                  "function": {"name": name, "arguments": json.dumps(args)}} for i, (name, args) in enumerate(actions)]
        if self._model_fault(key, "bad_arguments"):
            self._count("fault bad_arguments")
            calls[0]["function"]["arguments"] = calls[0]["function"]["arguments"][:-1]  # the closing brace lost
        return self._reply(body, key, {"content": None, field_name: reasoning, "tool_calls": calls}, "tool_calls")

    def _judge(self, body: dict, key: str) -> Reply:
        fields = parse_judge_prompt(body["messages"][-1]["content"])
        response, correct = fields.get("response", ""), fields.get("correct_answer", "")
        agrees = bool(_norm(correct)) and f" {_norm(correct)} " in f" {_norm(response)} "
        content = (f"extracted_final_answer: {response.strip() or 'None'}\n"
                   f"reasoning: the response {'states' if agrees else 'does not state'} the correct answer.\n"
                   f"correct: {'yes' if agrees else 'no'}")
        return self._reply(body, key, {"content": content, "reasoning_content": None}, "stop")

    def _chat(self, body: dict, key: str) -> Reply:
        last = body["messages"][-1].get("content") or ""
        return self._reply(body, key, {"content": f"You said: {str(last)[:200]}"}, "stop")


def _error(status: int, kind: str, message: str) -> Reply:
    return Reply({"object": "error", "message": message, "type": kind, "param": None, "code": status}, status=status)


def prompt_tokens(body: dict) -> int:
    text = "".join(str(m.get("content") or "") + json.dumps(m.get("tool_calls") or "") for m in body["messages"])
    return tokens_of(text + json.dumps(body.get("tools") or "")) + 4 * len(body["messages"])


def role_of(body: dict) -> str:
    messages = body.get("messages") or []
    first = str(messages[0].get("content") or "") if messages else ""
    last = str(messages[-1].get("content") or "") if messages else ""
    if body.get("tools") or "<search>QUERY</search>" in first:
        return "agent"
    if first == WRITER_SYSTEM:
        return "writer"
    if "[correct_answer]:" in last and "[response]:" in last:
        return "judge"
    return "chat"


# ---------------------------------------------------------------- the question writer

_CHAIN_LINE = re.compile(r"^\d+\. (.*?)(?: \(linked from .*\))?$")


def parse_writer_prompt(prompt: str) -> tuple[list[str], str]:
    """(chain titles, final page text) from `ltrl synth`'s prompt."""
    chain_block = prompt.split("\nChain:\n", 1)[1].split("\n\nFinal page: ", 1)[0]
    titles = [_CHAIN_LINE.match(line).group(1) for line in chain_block.splitlines() if _CHAIN_LINE.match(line)]
    final_block = prompt.split("\n\nFinal page: ", 1)[1].split("\n\nReply with a JSON object only", 1)[0]
    return titles, final_block.split("\n", 1)[1] if "\n" in final_block else ""


_YEAR = re.compile(r"\b(1[5-9]\d\d|20[0-2]\d)\b")
_NUMBER = re.compile(r"\b\d{2,}\b")
_NAME = re.compile(r"\b[A-Z][a-z]{4,}\b")


def write_question(chain: list[str], final_text: str) -> tuple[str, str]:
    """One sentence that names the start of the chain only, and an answer copied from the final page."""
    named = " ".join(chain[:2]).lower()
    for kind, pattern in (("year", _YEAR), ("number", _NUMBER), ("name", _NAME)):
        for answer in pattern.findall(final_text):
            if answer.lower() not in named and answer.lower() not in chain[-1].lower():
                question = (f"Start at the page on {chain[0]}, go on to the page on {chain[1]} it links to, and "
                            f"follow {len(chain) - 2} further links; which {kind} comes first in the text of the "
                            "page you reach last?")
                return question, answer
    return f"What does the page reached from {chain[0]} say?", final_text.split()[0] if final_text else "nothing"


# ---------------------------------------------------------------- the search agent

_HIT = re.compile(r"^\[id: ([^\]]+)\] (.*)$", re.MULTILINE)
_OPENED = re.compile(r"^\[id: ([^\]]+)\] .* \(page \d+ of \d+\)$", re.MULTILINE)


@dataclass
class AgentState:
    """What the conversation so far shows: the question, turns, hits, opened and cited pages."""

    question: str
    turns: int
    hits: dict[str, str] = field(default_factory=dict)  # id -> title, in the order shown
    first_hits: list[str] = field(default_factory=list)  # ids of the first search's results
    opened: list[str] = field(default_factory=list)
    cited: bool = False
    opened_text: str = ""

    @classmethod
    def read(cls, messages: list[dict]) -> "AgentState":
        question = str(messages[1]["content"]).split("Question: ", 1)[-1].strip()
        state = cls(question, sum(1 for m in messages if m["role"] == "assistant"))
        for message in messages[2:]:
            if message["role"] not in ("tool", "user"):
                continue
            text = str(message.get("content") or "")
            for block in re.split(r"</?observation>", text):
                state.observe(block.strip())
        return state

    def observe(self, text: str) -> None:
        if text.startswith("search "):
            ids = [(i, t) for i, t in _HIT.findall(text)]
            if not self.first_hits:
                self.first_hits = [i for i, _ in ids]
            for i, t in ids:
                self.hits.setdefault(i, t.strip())
        elif _OPENED.match(text):
            page_id = _OPENED.match(text).group(1)
            if page_id not in self.opened:
                self.opened.append(page_id)
                self.opened_text += text + "\n"
        elif text.startswith("cited: "):
            self.cited = True


def plan(state: AgentState, known: Question | None, right: bool) -> list[tuple[str, dict]]:
    """The next turn's actions: search, then open (several at once), then cite and answer."""
    if not state.hits and state.turns < 3:
        searches = [{"query": keywords(state.question), "k": 5}]
        if known is not None:
            searches += [{"query": title, "k": 3} for title in known.chain[1:]]
        return [("search", q) for q in searches]
    chain = set(known.chain) if known else set()
    targets = [i for i, t in state.hits.items() if t in chain] or state.first_hits[:2]
    targets = targets[-3:]  # the last pages of the chain: the final page and the two before it
    others = [i for i in state.first_hits if i not in targets and state.hits[i] not in chain][:1]  # a distractor
    to_open = [i for i in targets + others if i not in state.opened]
    if to_open and state.turns < 8:
        return [("open", {"id": i}) for i in to_open]
    cite = [i for i in targets if i in state.opened]
    answer = known.answer if known and right else guess(state)
    return ([("cite", {"ids": cite})] if cite and not state.cited else []) + [("answer", {"text": answer})]


def keywords(question: str) -> str:
    words = re.findall(r"[A-Za-z0-9]{4,}", question)
    return " ".join(dict.fromkeys(words))


def guess(state: AgentState) -> str:
    """An answer without knowing one: the first year in what it read, else a hit's title."""
    year = _YEAR.search(state.opened_text)
    if year:
        return year.group(0)
    return next(iter(state.hits.values()), "I do not know")


def render_tags(actions: list[tuple[str, dict]]) -> str:
    """Actions as text tags: the first one, or cite followed by answer."""
    out = []
    for name, args in actions:
        if name == "search":
            out.append(f"<search>{args['query']}</search>")
        elif name == "open":
            out.append(f'<open id="{args["id"]}"/>')
        elif name == "cite":
            out.append(f"<cite>{', '.join(args['ids'])}</cite>")
            continue
        else:
            out.append(f"<answer>{args['text']}</answer>")
        break
    return "".join(out)


# ---------------------------------------------------------------- the judge

_JUDGE_FIELD = re.compile(r"^\[(question|correct_answer|response)\]: (.*?)(?=\n\n\[|\n\nReply with|\Z)",
                          re.MULTILINE | re.DOTALL)


def parse_judge_prompt(prompt: str) -> dict[str, str]:
    return {name: value.strip() for name, value in _JUDGE_FIELD.findall(prompt)}


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


# ---------------------------------------------------------------- as a process


def main(argv: list[str] | None = None) -> int:
    import argparse
    import signal

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault schedule")
    parser.add_argument("--no-faults", action="store_true", help="answer every request, well")
    parser.add_argument("--max-model-len", type=int, default=32768, help="context length in tokens")
    parser.add_argument("--model", action="append", help=f"a model name it serves (default {MODEL})")
    args = parser.parse_args(argv)
    server = ModelServer(seed=args.seed, faults=Faults.none() if args.no_faults else Faults(),
                         max_model_len=args.max_model_len, models=tuple(args.model or [MODEL]), port=args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with server:
        print(server.base_url, flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    print(json.dumps(dict(server.stats)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
