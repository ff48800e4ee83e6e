"""Where an output came from: the command line that made it and ltrl's own commit, as the
files that record a run write them (`ltrl eval --results`, `ltrl export`'s dataset card)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed, `ltrl` first, credentials in URLs replaced by `***`."""
    args = list(sys.argv[1:] if argv is None else argv)
    shown = [_hide_credentials(a) for a in args]
    return shlex.join(["ltrl", *shown])


def _hide_credentials(arg: str) -> str:
    parts = urlsplit(arg) if "://" in arg else None
    if parts is None or not (parts.username or parts.password):
        return arg
    return arg.replace(parts.netloc, "***@" + parts.netloc.rsplit("@", 1)[1])


def git_hash() -> str | None:
    """The short commit of ltrl's own checkout, when it runs from one (an editable install)."""
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None
