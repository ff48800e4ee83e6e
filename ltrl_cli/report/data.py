"""What `ltrl report` reads: any stage's records, gathered per question id.

Records are told apart by what they hold, not by which file they came from:
- a stats object (`ltrl stats`): `by_strategy`, or `tiers` and `records` without an `id`;
- a training record (`ltrl assemble`): `input_messages` and `metadata.docs`;
- a pipeline record (walk, synth, search-agent, tier): an `id` with `path`, `question`,
  `rollouts` or `tiers`.
Pipeline records of one id are merged (a later stage's keys win), so `walks.jsonl` and
`tiered.jsonl` together read like one record; training records are kept per strategy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from ltrl_cli.errors import BadInput

PIPELINE_KEYS = ("path", "question", "rollouts", "tiers")


@dataclass
class Question:
    id: str
    record: dict = field(default_factory=dict)  # merged pipeline keys
    contexts: dict[str, dict] = field(default_factory=dict)  # strategy -> training record

    @property
    def text(self) -> str:
        return str(self.record.get("question") or (self.contexts and next(iter(self.contexts.values()))
                                                    .get("metadata", {}).get("question")) or "")

    @property
    def answer(self) -> str:
        if "answer" in self.record:
            return str(self.record["answer"])
        return str(next(iter(self.contexts.values())).get("label", "")) if self.contexts else ""

    @property
    def solved(self) -> bool | None:
        rollouts = self.record.get("rollouts")
        if not isinstance(rollouts, list) or not rollouts:
            return None
        return any(isinstance(r, dict) and r.get("correct") is True for r in rollouts)


@dataclass
class Dataset:
    questions: dict[str, Question] = field(default_factory=dict)
    stats: list[dict] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)  # page id -> title, from paths and contexts

    def add(self, record: dict, where: str) -> None:
        """Fold one record in; BadInput (naming `where`) for one ltrl does not write."""
        kind = kind_of(record)
        if kind is None:
            raise BadInput(f"{where}: not a record ltrl writes (expected an 'id' with one of "
                           f"{', '.join(PIPELINE_KEYS)} or input_messages, or a stats object)")
        if kind == "stats":
            self.stats.append(record)
            return
        question = self.questions.setdefault(str(record["id"]), Question(str(record["id"])))
        if kind == "training":
            docs = record["metadata"]["docs"]
            if not isinstance(docs, list):
                raise BadInput(f"{where}: metadata.docs must be a list")
            question.contexts[str(record["metadata"].get("strategy", "unknown"))] = record
            self.titles.update({str(d.get("id")): str(d.get("title", "")) for d in docs if isinstance(d, dict)})
            return
        _check_pipeline(record, where)
        question.record.update(record)
        for hop in record.get("path") or []:
            if isinstance(hop, dict) and "id" in hop:
                self.titles[str(hop["id"])] = str(hop.get("title", ""))

    def title(self, page_id: str) -> str:
        return self.titles.get(str(page_id), "")


def kind_of(record: dict) -> str | None:
    if "by_strategy" in record or ("tiers" in record and "records" in record and "id" not in record):
        return "stats"
    if "id" not in record:
        return None
    if "input_messages" in record and isinstance(record.get("metadata"), dict) and "docs" in record["metadata"]:
        return "training"
    if any(key in record for key in PIPELINE_KEYS):
        return "pipeline"
    return None


def _check_pipeline(record: dict, where: str) -> None:
    """The shapes the page relies on; anything else is refused here, not half drawn."""
    expected = {"path": list, "rollouts": list, "tiers": dict}
    for key, kind in expected.items():
        if key in record and not isinstance(record[key], kind):
            raise BadInput(f"{where}: '{key}' must be a {'list' if kind is list else 'object'}")
    for i, rollout in enumerate(record.get("rollouts") or []):
        if not isinstance(rollout, dict) or not isinstance(rollout.get("steps", []), list):
            raise BadInput(f"{where}: rollouts[{i}] is not a rollout (an object with a 'steps' list)")


def gather(sources: Iterable[tuple[str, Iterable[dict], object]]) -> Dataset:
    """A Dataset from (name, records, reader Stats) triples; the reader's `line` names the
    line of a record that is refused."""
    data = Dataset()
    for name, records, reader in sources:
        for record in records:
            data.add(record, f"{name}: line {reader.line}")
    return data
