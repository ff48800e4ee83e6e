"""What every row of `make bench` (bench/peers.py) shares: where the data is, the order in which
ltrl and its peer take turns, and the row record the table is written from.

bench_walk.py and the peer_*.py modules import this, never peers.py, so no benchmark imports
the script that runs it.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/X.py` without PYTHONPATH
    sys.path.insert(0, str(ROOT))
# ../shared/data beside the checkout (a git worktree under wt/ finds it one level further up)
DATA = next((p for p in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data") if p.is_dir()),
            ROOT.parent / "shared" / "data")
ORDER = ("ltrl", "peer", "peer", "ltrl", "ltrl", "peer")  # 3 each, neither always first


def alternate(run_ltrl, run_peer) -> dict[str, list[float]]:
    """Three measurements of each, in ORDER."""
    out: dict[str, list[float]] = {"ltrl": [], "peer": []}
    for who in ORDER:
        out[who].append((run_ltrl if who == "ltrl" else run_peer)())
    return out


def row(measure: str, unit: str, ltrl: list[float], peer: list[float] | None, higher: bool,
        target: float | None = None, note: str = "") -> dict:
    return {"measure": measure, "unit": unit, "ltrl": sorted(ltrl), "peer": sorted(peer) if peer else None,
            "higher": higher, "target": target, "note": note}


def du(path: Path, stem: str = "") -> int:
    """Bytes under `path` (of the files named `stem`.* when given)."""
    return sum(f.stat().st_size for f in Path(path).rglob(f"{stem}.*" if stem else "*") if f.is_file())


def rm(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    memory = ""
    if Path("/proc/meminfo").exists():
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 2**20:.0f} GiB RAM"
    return f"{os.cpu_count()} cores ({model}){memory}, {platform.system()} {platform.release()}, Python {platform.python_version()}"
