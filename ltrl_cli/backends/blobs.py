"""Append-only byte strings with their boundaries, checkpointed so a killed build can go on.

The page store (`pages/text.bin`, `pages/meta.bin`) and the graph's titles and ids
(`graph/titles.bin`, `graph/ids.bin`) are written this way during `ltrl index`.
"""

from __future__ import annotations

from array import array
from pathlib import Path

import numpy as np


class Blobs:
    """Appends byte strings to `NAME.bin` and their boundaries to `OFFSETS.npy`, resumably.

    `checkpoint()` makes what was added so far durable against a killed process: the blob
    is flushed and the new boundaries are appended to `OFFSETS.log`. `Blobs(..., resume=n)`
    reopens a build at its checkpoint of `n` items, cutting off whatever came after it
    (also after `finish()`, so a build killed while finishing can finish again). The
    builder removes the `.log` files once the index is complete.
    """

    def __init__(self, out: Path, name: str, offsets: str, resume: int | None = None):
        self._path, self._offsets_path = out / f"{name}.bin", out / f"{offsets}.npy"
        self._log_path = out / f"{offsets}.log"
        if resume is None:
            self._offsets = array("q", [0])  # 8 bytes a page
            self._blob, self._log, self._logged = open(self._path, "wb"), open(self._log_path, "wb"), 0
            return
        self._offsets = array("q")
        with open(self._log_path, "rb") as log:
            self._offsets.fromfile(log, resume + 1)
        self._logged = resume + 1
        self._blob, self._log = open(self._path, "r+b"), open(self._log_path, "r+b")
        self._blob.truncate(self._offsets[-1])
        self._log.truncate(8 * self._logged)
        self._blob.seek(0, 2)
        self._log.seek(0, 2)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def add(self, data: bytes) -> None:
        self._blob.write(data)
        self._offsets.append(self._offsets[-1] + len(data))

    def items(self):
        """Every item added so far (a resumed build re-derives its in-memory maps from them)."""
        self._blob.flush()
        with open(self._path, "rb") as blob:
            data = blob.read(self._offsets[-1])
        return (data[self._offsets[i]:self._offsets[i + 1]] for i in range(len(self)))

    def checkpoint(self) -> int:
        self._blob.flush()
        self._offsets[self._logged:].tofile(self._log)
        self._log.flush()
        self._logged = len(self._offsets)
        return len(self)

    def finish(self) -> None:
        self._blob.close()
        self._log.close()
        np.save(self._offsets_path, np.frombuffer(self._offsets, dtype=np.int64))
