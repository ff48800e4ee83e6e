"""Where a report goes: a folder (any size) or one self-contained HTML file (small sets).

The folder: `index.html` (the page, the dataset view and the list's settings), `data/list.js`
(one compact row per question), `data/q-N.js` (the details of a run of questions) and
`data/d-N.js` (document texts), each a script that hands its data to the page
(`LTRL.list(...)`, `LTRL.shard(...)`): a page opened from disk (file://) may load scripts
but not fetch files, so this is how it reads its data with no server, and only what is
looked at is loaded. The single file holds the same data: the list as a script, the
shards as inert JSON blocks the page parses when a question is opened.

Both are written under a temporary name and put in place whole, so a failed or
interrupted run leaves the previous report (or nothing), never half of one.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import IO

import orjson

from ltrl_cli.errors import UsageError
from ltrl_cli.io import replacing

SINGLE_FILE_QUESTIONS = 1000  # above this, `-o FILE.html` is warned about (the demo's page: 135, 16 MB)
MARKER = ".ltrl-report"  # in a report folder: what lets a rerun replace it


def is_single_file(target: str) -> bool:
    return target == "-" or target.lower().endswith((".html", ".htm"))


class Output:
    """Rows, shards, then `finish` with the page; `size` is the bytes written."""

    def __init__(self, target: str, workdir: Path) -> None:
        self.target, self.size, self.rows = target, 0, 0

    def row(self, row: list) -> None:
        # `</` inside a script block would end it (single file); `<\/` is the same JSON string
        self._list.write((b",\n" if self.rows else b"") + orjson.dumps(row).replace(b"</", b"<\\/"))
        self.rows += 1

    def shard(self, kind: str, number: int, data: dict) -> None:
        raise NotImplementedError

    def finish(self, *, title: str, meta: dict, overview: str) -> None:
        raise NotImplementedError


class Folder(Output):
    def __init__(self, target: str, workdir: Path) -> None:
        super().__init__(target, workdir)
        final = Path(target)
        if final.exists() and not (final / MARKER).exists():
            raise UsageError(f"{target} exists and is not a report folder; remove it or name another")
        self.staging = final.with_name(f".{final.name}.{os.getpid()}.partial")
        shutil.rmtree(self.staging, ignore_errors=True)
        (self.staging / "data").mkdir(parents=True)
        self._list = open(self.staging / "data" / "list.js", "wb")
        self._list.write(b"LTRL.list([\n")

    def shard(self, kind: str, number: int, data: dict) -> None:
        body = b"LTRL.shard(%s,%d,%s);\n" % (orjson.dumps(kind), number, orjson.dumps(data))
        (self.staging / "data" / f"{kind}-{number}.js").write_bytes(body)
        self.size += len(body)

    def finish(self, *, title: str, meta: dict, overview: str) -> None:
        from ltrl_cli.report.page import shell

        self._list.write(b"\n]);\n")
        self.size += self._list.tell()
        self._list.close()
        head, tail = shell(title, meta, overview,
                           list_script='<script src="data/list.js"></script><script>LTRL.start();</script>')
        page = (head + tail).encode()
        (self.staging / "index.html").write_bytes(page)
        (self.staging / MARKER).write_text("written by ltrl report; a rerun with -o here replaces this folder\n")
        self.size += len(page)
        self._swap()

    def _swap(self) -> None:
        final = Path(self.target)
        old = final.with_name(f".{final.name}.{os.getpid()}.old")
        if final.exists():
            os.replace(final, old)
        os.replace(self.staging, final)
        shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        if not self._list.closed:
            self._list.close()
        shutil.rmtree(self.staging, ignore_errors=True)


class SingleFile(Output):
    def __init__(self, target: str, workdir: Path) -> None:
        super().__init__(target, workdir)
        self._list = open(workdir / "list.part", "w+b")
        self._shards = open(workdir / "shards.part", "w+b")

    def shard(self, kind: str, number: int, data: dict) -> None:
        body = orjson.dumps(data).replace(b"</", b"<\\/")
        self._shards.write(b'<script type="application/json" id="%s-%d">%s</script>\n' % (kind.encode(), number, body))

    def finish(self, *, title: str, meta: dict, overview: str) -> None:
        from ltrl_cli.report.page import shell

        head, tail = shell(title, {**meta, "inline": True}, overview, list_script="<script>LTRL.list([\n")
        if self.target == "-":
            self._write(sys.stdout.buffer, head, tail)
            sys.stdout.buffer.flush()
            return
        with replacing(self.target) as tmp, open(tmp, "wb") as out:
            self._write(out, head, tail)

    def _write(self, out: IO[bytes], head: str, tail: str) -> None:
        start = out.tell() if out.seekable() else 0
        out.write(head.encode())
        for part, after in ((self._list, b"\n]);LTRL.start();</script>\n"), (self._shards, b"")):
            part.flush()
            part.seek(0)
            shutil.copyfileobj(part, out)
            out.write(after)
        out.write(tail.encode())
        self.size = (out.tell() - start) if out.seekable() else self.size
        self._list.close()
        self._shards.close()

    def discard(self) -> None:
        for part in (self._list, self._shards):
            if not part.closed:
                part.close()


def open_output(target: str, workdir: Path) -> Folder | SingleFile:
    return SingleFile(target, workdir) if is_single_file(target) else Folder(target, workdir)
