"""Extra sections of the report's dataset view, fed by JSON objects in the input.

This is the place to add a view of another command's output (a judge audit, a usage
summary): write a class with the three methods of `Section`, add an instance factory to
`SECTIONS`, and document the record it reads in docs/report.md. `ltrl report` offers
every input object that is not one of its own kinds (ltrl_cli.report.data.kind_of) to each
section in turn; the first that `claims` it gets it with `add` (keep counts, not the
records: inputs can be large), and each section that took something is drawn with `html`
in the dataset view, under its own heading, after the charts. An object no section
claims is refused as before (one line naming the file and line).
"""

from __future__ import annotations

from typing import Callable, Protocol


class Section(Protocol):
    title: str

    def claims(self, record: dict) -> bool:
        """Whether this section reads `record` (look at its keys; be strict)."""

    def add(self, record: dict, where: str) -> None:
        """Fold one claimed record in; BadInput naming `where` for a malformed one."""

    def html(self) -> str:
        """The section's body (escaped HTML; inline SVG for charts, nothing fetched)."""


def _judge_audit() -> Section:
    from ltrl_cli.report.audit import JudgeAuditSection

    return JudgeAuditSection()


def _usage() -> Section:
    from ltrl_cli.report.audit import UsageSection

    return UsageSection()


SECTIONS: list[Callable[[], Section]] = [_judge_audit, _usage]  # one factory per section kind, tried in order
