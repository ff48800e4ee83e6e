"""Command modules, one per command or family, each registering on `ltrl_cli.app.app`.

Every module in this package is loaded (except `options`, the option types several
commands share) in the order of `ltrl_cli.app.ORDER`, the order of `ltrl --help`.
"""

from __future__ import annotations

import importlib
import pkgutil

from ltrl_cli.app import ORDER


def command_modules() -> list[str]:
    found = {m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")} - {"options"}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def load_all() -> None:
    for name in command_modules():
        importlib.import_module(f"ltrl_cli.commands.{name}")
