"""Generate man/ltrl.1 and man/ltrl-<command>.1 from the command tree.

click-man cannot see typer's vendored click, so this walks `typer.main.get_command(app)`.
Run `python -m ltrl_cli.manpages man` after changing a command; a test fails when the
committed pages differ from what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ltrl_cli import __version__
from ltrl_cli.errors import EXIT_CODES


def _escape(text: str) -> str:
    lines = []
    for line in text.replace("\\", "\\e").splitlines():
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line.replace("-", "\\-"))
    return "\n".join(lines)


def _paragraphs(text: str) -> str:
    """Docstring text to roff: blank lines start paragraphs, indented lines stay verbatim."""
    out = []
    for block in text.strip().split("\n\n"):
        block = block.replace("\b\n", "").replace("\b", "")
        lines = block.splitlines()
        if any(l.startswith("  ") for l in lines):
            out.append(".PP\n.nf\n" + _escape("\n".join(lines)) + "\n.fi")
        else:
            out.append(".PP\n" + _escape(" ".join(l.strip() for l in lines)))
    return "\n".join(out)


def render(command, name: str, parent_ctx=None) -> str:
    """One man page for a click command."""
    import typer  # noqa: F401  (the vendored click lives under typer)

    ctx = command.context_class(command, info_name=name, parent=parent_ctx)
    summary = (command.short_help or (command.help or "").strip().splitlines()[0] if command.help else "").strip()
    usage = " ".join(command.collect_usage_pieces(ctx))
    parts = [
        f'.TH "{name.upper()}" 1 "" "ltrl {__version__}" "ltrl manual"',
        ".SH NAME",
        f"{_escape(name)} \\- {_escape(summary)}",
        ".SH SYNOPSIS",
        f".B {_escape(name)}\n{_escape(usage)}",
        ".SH DESCRIPTION",
        _paragraphs(command.help or ""),
    ]
    options = [p.get_help_record(ctx) for p in command.get_params(ctx)]
    options = [o for o in options if o]
    if options:
        parts.append(".SH OPTIONS")
        for opts, help_text in options:
            parts.append(f".TP\n.B {_escape(opts)}\n{_escape(help_text)}")
    subcommands = getattr(command, "commands", None)
    if subcommands:
        parts.append(".SH COMMANDS")
        for sub_name, sub in sorted(subcommands.items()):
            parts.append(f".TP\n.B {_escape(name)}\\-{_escape(sub_name)}(1)\n{_escape(sub.get_short_help_str(80))}")
    parts.append(".SH EXIT STATUS")
    for code, meaning in EXIT_CODES.items():
        parts.append(f".TP\n.B {code}\n{_escape(meaning)}")
    return "\n".join(parts) + "\n"


def generate() -> dict[str, str]:
    """{filename: roff text} for ltrl and every (sub)command."""
    import typer

    from ltrl_cli.cli import app

    root = typer.main.get_command(app)
    root_ctx = root.context_class(root, info_name="ltrl")
    pages = {"ltrl.1": render(root, "ltrl")}

    def walk(group, prefix: str, ctx) -> None:
        for sub_name, sub in getattr(group, "commands", {}).items():
            name = f"{prefix}-{sub_name}"
            pages[f"{name}.1"] = render(sub, name, ctx)
            if getattr(sub, "commands", None):
                walk(sub, name, sub.context_class(sub, info_name=sub_name, parent=ctx))

    walk(root, "ltrl", root_ctx)
    return pages


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "man")
    out.mkdir(parents=True, exist_ok=True)
    pages = generate()
    for stale in out.glob("ltrl*.1"):
        if stale.name not in pages:
            stale.unlink()
    for filename, text in pages.items():
        (out / filename).write_text(text)
    print(f"wrote {len(pages)} man pages to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
