"""Generate man/ltrl.1 and man/ltrl-<command>.1 from the command tree, docs/cli.md from
the commands' help, and docs/records.md from the record layouts (ltrl_cli.records).

click-man cannot see typer's vendored click, so this walks `typer.main.get_command(app)`.
Run `python -m ltrl_cli.manpages man` after changing a command or a layout; a test fails
when the committed pages differ from what this writes.

`python -m ltrl_cli.manpages install [PREFIX]` links the pages into PREFIX/share/man/man1
(default: the running environment's prefix), where `man` looks when PREFIX/bin is on PATH.
A wheel install puts them there itself (pyproject's data-files); an editable install
(`make install`, `pip install -e`) does not, so the Makefile runs this after it. Links,
not copies: the pages stay those of the checkout, as the code does.
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


def render(command, name: str, parent_ctx=None, invocation: str | None = None) -> str:
    """One man page for a click command; `invocation` is how it is typed (`ltrl walk`)."""
    ctx = command.context_class(command, info_name=name, parent=parent_ctx)
    summary = command.get_short_help_str(limit=200)
    usage = " ".join(command.collect_usage_pieces(ctx))
    parts = [
        f'.TH "{name.upper()}" 1 "" "ltrl {__version__}" "ltrl manual"',
        ".SH NAME",
        f"{_escape(name)} \\- {_escape(summary)}",
        ".SH SYNOPSIS",
        f".B {_escape(invocation or name)}\n{_escape(usage)}",
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

    def walk(group, prefix: str, typed: str, ctx) -> None:
        for sub_name, sub in getattr(group, "commands", {}).items():
            name = f"{prefix}-{sub_name}"
            pages[f"{name}.1"] = render(sub, name, ctx, invocation=f"{typed} {sub_name}")
            if getattr(sub, "commands", None):
                walk(sub, name, f"{typed} {sub_name}", sub.context_class(sub, info_name=sub_name, parent=ctx))

    walk(root, "ltrl", "ltrl", root_ctx)
    return pages


MAN_SECTION = Path("share") / "man" / "man1"  # pyproject's data-files put the pages here too


def install(prefix: Path, source: Path) -> int:
    """Link every ltrl*.1 page of `source` into `prefix`/share/man/man1; returns how many.

    Links left dangling by a page that no longer exists are removed."""
    target = prefix / MAN_SECTION
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("ltrl*.1"):
        if old.is_symlink() and not old.exists():
            old.unlink()
    pages = sorted(source.glob("ltrl*.1"))
    for page in pages:
        link = target / page.name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(page.resolve())
    return len(pages)


def _install(argv: list[str]) -> int:
    prefix = Path(argv[0]) if argv else Path(sys.prefix)
    source = Path(__file__).resolve().parent.parent / "man"
    if not source.is_dir():  # installed from a wheel: the pages came with it
        print(f"no man/ beside ltrl_cli (a wheel install puts the pages in {prefix / MAN_SECTION})", file=sys.stderr)
        return 0
    count = install(prefix, source)
    print(f"linked {count} man pages into {prefix / MAN_SECTION}", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["install"]:
        return _install(argv[1:])
    out = Path(argv[0] if argv else "man")
    out.mkdir(parents=True, exist_ok=True)
    pages = generate()
    for stale in out.glob("ltrl*.1"):
        if stale.name not in pages:
            stale.unlink()
    for filename, text in pages.items():
        (out / filename).write_text(text)
    docs = Path(__file__).resolve().parent.parent / "docs"
    if docs.is_dir():
        (docs / "cli.md").write_text(cli_reference())
        (docs / "records.md").write_text(records_reference())
    print(f"wrote {len(pages)} man pages to {out} and docs/cli.md, docs/records.md", file=sys.stderr)
    return 0


def records_reference() -> str:
    """docs/records.md: the layouts of ltrl_cli.records and what each stage reads of them."""
    import re
    import typing

    from ltrl_cli import records
    from ltrl_cli.schema import describe, field_types

    source = Path(records.__file__).read_text(encoding="utf-8")
    out = ["# Record layouts\n",
           "Generated by `python -m ltrl_cli.manpages man` from `ltrl_cli/records.py`; do not edit. Every "
           "stage checks the fields it reads (below) against these layouts as each line is read: a wrong "
           "type is `line N: field 'x' must be <type>, got <type> (record 'id')`, exit 1, or with "
           "`--skip-bad` a warning, the line skipped and counted. Stages pass unknown keys through.\n",
           "## What each stage reads\n", "| stage | field | type | |", "|---|---|---|---|"]
    for stage, reads in records.READS.items():
        for f in reads.fields:
            path = ".".join(p + ("[]" if i < len(f.lists) and f.lists[i] else "") for i, p in enumerate(f.parts))
            out.append(f"| {stage} | `{path}` | {describe(f.type, link=True)} | {'required' if f.required else ''} |")
    out.append("\n`x[].y`: the `y` of every item of the list `x`. `ltrl score` reads its fields at the paths "
               "its `--*-key` options name; `ltrl assemble --strategy traj-*` needs `tiers` as well. Rules "
               "over the whole record, checked once its fields pass:\n")
    for stage, reads in records.READS.items():
        out += [f"- {stage}: {' '.join((rule.__doc__ or rule.__name__).split())}" for rule in reads.rules]
    out.append("- eval: a record of another benchmark than `-b` is refused.\n"
               "- export --format slime: a record needs `metadata.question` (the reward server's judge reads it).\n")
    for name, layout in vars(records).items():
        if not (isinstance(layout, type) and typing.is_typeddict(layout) and layout.__module__ == records.__name__):
            continue
        body = re.search(rf"^class {name}\(.*?(?=^\S|\Z)", source, re.S | re.M)
        notes = dict(re.findall(r"^    (\w+): .*?(?:  # (.*))?$", body.group(0), re.M)) if body else {}
        doc = " ".join((layout.__doc__ or "").split())
        out += [f"## {name}\n"] + ([f"{doc}\n"] if doc else []) + ["| field | type | |", "|---|---|---|"]
        hints = typing.get_type_hints(layout, include_extras=True)
        for field, tp in field_types(layout).items():
            optional = field in layout.__optional_keys__ or typing.get_origin(hints[field]) is typing.NotRequired
            out.append(f"| `{field}` | {describe(tp, link=True)}{' (optional)' if optional else ''} | "
                       f"{notes.get(field, '')} |")
        out.append("")
    return "\n".join(out)



def cli_reference() -> str:
    """docs/cli.md: every command's --help text, generated so it never drifts."""
    import typer
    from typer.testing import CliRunner

    from ltrl_cli.cli import app

    runner = CliRunner()
    sections = ["# ltrl command reference\n",
                "Generated by `python -m ltrl_cli.manpages man` from the commands' own help; do not edit.\n"]
    for path in command_paths(typer.main.get_command(app)):
        result = runner.invoke(app, [*path, "--help"], prog_name="ltrl", env={"COLUMNS": "100"})
        sections.append(f"## ltrl {' '.join(path)}\n\n```\n{result.stdout.rstrip()}\n```\n")
    return "\n".join(sections)


def command_paths(group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every leaf command as its argv path, e.g. ('corpus', 'demo')."""
    paths = []
    for name, sub in sorted(getattr(group, "commands", {}).items()):
        if getattr(sub, "commands", None):
            paths.extend(command_paths(sub, prefix + (name,)))
        else:
            paths.append(prefix + (name,))
    return paths


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
