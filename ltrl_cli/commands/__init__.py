"""Command modules, one per command or family, each registering on `ltrl_cli.app.app`.

Every module in this package is loaded (except the shared option types in `options`); ORDER fixes the order of `ltrl --help`
(the pipeline order), and modules it does not name follow alphabetically.
"""

from __future__ import annotations

import importlib
import pkgutil

ORDER = ["corpus", "index", "walk", "synth", "search_agent", "tier", "assemble", "stats", "export",
         "score", "grpo", "eval"]


def command_modules() -> list[str]:
    found = {m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")} - {"options"}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def load_all() -> None:
    for name in command_modules():
        importlib.import_module(f"ltrl_cli.commands.{name}")
