"""Doctest collection over ltrl_cli/ skips modules whose optional extra is not installed.

`pip install ltrl[dev]` without the train extra must still pass its own tests (the tests of
those modules skip through importorskip; their doctests are left out here).
"""

from importlib.util import find_spec

collect_ignore = []
if find_spec("trl") is None or find_spec("torch") is None:
    collect_ignore.append("ltrl_cli/grpo/trainer.py")  # the one module that imports them at the top
