"""Entry point: `ltrl` and `python -m ltrl_cli`.

Each module in `ltrl_cli/commands/` registers its commands on the shared app when it is
imported here. Command bodies import their heavy back ends themselves.
"""

from __future__ import annotations

import sys

from ltrl_cli.app import app
from ltrl_cli.commands import load_all

load_all()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code instead of exiting (for tests and __main__)."""
    try:
        app(args=argv, prog_name="ltrl")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


__all__ = ["app", "main"]

if __name__ == "__main__":
    sys.exit(main())
