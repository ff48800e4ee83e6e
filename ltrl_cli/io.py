"""One streaming layer for every command: JSONL in, JSONL out, line by line.

- `read_records` parses stdin lazily and checks each record against the stage's schema
  (`ltrl_cli.records.READS`); a bad line raises BadInput naming the line, or with
  `skip_bad` is warned about, counted and skipped.
- `records_out` hands out the record stream and, while it is open, sends anything else
  written to file descriptor 1 (print, the JVM, C extensions, child processes) to stderr.
- `write_records` writes whole lines only, so Ctrl-C or a closed pipe never leaves half a
  record behind.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import stat
import sys
from pathlib import Path
from typing import IO, Any, BinaryIO, Iterable, Iterator

import orjson

from ltrl_cli import console, signals
from ltrl_cli.errors import BadInput, LtrlError, UsageError
from ltrl_cli.schema import Reads, json_type
from ltrl_cli.signals import Terminated  # noqa: F401  (commands catch it from here)
from ltrl_cli.stats import Stats

_MISSING = object()  # get_path's "no default given"


def read_records(
    stream: BinaryIO | Iterable[bytes],
    *,
    skip_bad: bool = False,
    source: str | None = None,
    stats: Stats | None = None,
    schema: Reads | None = None,
) -> Iterator[dict]:
    """Yield one dict per non-blank line of `stream`.

    Each record is checked to be a JSON object whose fields have the types `schema` says
    (the reading stage's entry in `ltrl_cli.records.READS`). With `skip_bad`, a bad line
    is reported on stderr, counted as skipped and left out; otherwise it raises BadInput
    naming the line. `stats` counts `in` and `skipped` and follows the line number.
    """
    stats = stats if stats is not None else Stats()
    for number, raw in enumerate(_lines(stream, source), start=1):
        stats.line = number
        if not raw.strip():
            continue
        try:
            record = _parse(raw, schema)
        except BadInput as exc:
            stats.reject(BadInput(exc.detail, line=number, source=source), skip_bad=skip_bad)
            continue
        stats.update("in")
        yield record


def _lines(stream: BinaryIO | Iterable[bytes], source: str | None) -> Iterator[bytes]:
    """The lines of `stream`; compressed input that is damaged or cut short is BadInput."""
    import zlib

    lines = iter(stream)
    while True:
        try:
            line = next(lines)
        except StopIteration:
            return
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise BadInput(f"the compressed input is damaged or cut short ({exc})", source=source) from None
        except Exception as exc:
            if type(exc).__name__ != "ZstdError":
                raise
            raise BadInput(f"the zstd input is damaged ({exc})", source=source) from None
        yield line


def _parse(raw: bytes, schema: Reads | None) -> dict:
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"not valid JSON ({exc.args[0].split(':')[0]})") from None
    if not isinstance(record, dict):
        raise BadInput(f"expected a JSON object, got {json_type(record)}")
    if schema is not None:
        schema.check(record)
    return record


def get_path(record: dict, path: str, default: Any = _MISSING) -> Any:
    """Look up a dotted key path: get_path({"a": {"b": 1}}, "a.b") == 1."""
    node: Any = record
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif default is _MISSING:
            raise KeyError(path)
        else:
            return default
    return node


def dumps(record: dict) -> bytes:
    """One JSONL line, newline included."""
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY)


def write_records(records: Iterable[dict], out: IO[bytes], *, flush_every: int = 1) -> int:
    """Write each record as one line; flush every `flush_every` records. Returns the count.

    Slow stages keep the default (flush each record, so `| tee` keeps flowing); fast stages
    pass a larger number.
    """
    count = 0
    try:
        for record in records:
            line = dumps(record)
            signals.hold()  # a signal now waits for the line: an interrupted write() would cut it
            try:
                out.write(line)  # one write per line: the buffer always ends on a newline
                count += 1
                if count % flush_every == 0:
                    out.flush()
            finally:
                signals.release()
        with signals.writing():
            out.flush()
    except BaseException:
        # The reader left (or the run was stopped): close the stages now, while the
        # process is whole, instead of when the traceback lets go of them at exit, where
        # a stage's threads and event loop are torn down half-way.
        close = getattr(records, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):  # the error that stopped us is the one to report
                close()
        raise
    return count


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[int | None]:
    """Point fd 1 (and sys.stdout) at stderr for the block; yields a dup of the real fd 1.

    Whatever prints meanwhile, Python code, C extensions or the JVM, lands on stderr, and a
    child process started in the block keeps stderr as its stdout for good (vLLM's engine
    processes: their logs must never reach the records). Blocks nest. Yields None where
    stdout has no file descriptor (typer's CliRunner); nothing is redirected then.
    """
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (io.UnsupportedOperation, AttributeError, ValueError):
        yield None
        return
    saved_fd, saved_stdout = os.dup(fd), sys.stdout
    os.dup2(sys.stderr.fileno(), fd)
    sys.stdout = sys.stderr
    try:
        yield saved_fd
    finally:
        sys.stderr.flush()
        os.dup2(saved_fd, fd)  # give fd 1 back (matters in-process, e.g. under pytest)
        os.close(saved_fd)
        sys.stdout = saved_stdout


@contextlib.contextmanager
def records_out() -> Iterator[IO[bytes]]:
    """Yield a binary stream for JSONL; meanwhile fd 1 points at stderr.

    `ltrl walk | head -1`: when the reader leaves, BrokenPipeError ends the command
    quietly with exit 0 (typer's default would be 1, which breaks `set -o pipefail`).
    """
    with stdout_to_stderr() as real_stdout:
        if real_stdout is None:
            yield sys.stdout.buffer if hasattr(sys.stdout, "buffer") else sys.stdout
            return
        out = os.fdopen(os.dup(real_stdout), "wb", buffering=1 << 16)
        try:
            yield out
            out.flush()
        except BrokenPipeError:
            silence(out)
            raise ClosedPipe() from None
        finally:
            try:
                with signals.writing():  # the last lines of the buffer go out whole
                    out.close()
            except (BrokenPipeError, OSError):
                pass


class ClosedPipe(Exception):
    """The reader of stdout went away; the command ends with exit 0."""


def silence(out: IO[bytes]) -> None:
    # Point the stream at /dev/null so the final flush at exit cannot raise again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, out.fileno())
    os.close(devnull)


GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def open_input(path: str | os.PathLike, *, text: bool = False) -> IO:
    """Open a file for reading, gzip- or zstd-compressed or not (told by its first bytes).

    Text mode reads UTF-8 (a byte-order mark is dropped) with newlines left as they are,
    as the csv module wants.
    """
    stream = decompressing(open(Path(path), "rb"))
    if text:
        return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    return stream


def stdin_stream() -> BinaryIO:
    """Standard input as bytes, decompressed when it is gzip or zstd (`ltrl tier < traj.jsonl.gz`)."""
    if sys.stdin.isatty():  # a person typing: never wait for four bytes before the first line
        return sys.stdin.buffer
    return decompressing(sys.stdin.buffer)


def decompressing(stream: BinaryIO) -> BinaryIO:
    """`stream`, or a reader of what it holds when it starts with gzip's or zstd's magic bytes.

    The first bytes are peeked where the stream can peek (files, stdin) and put back
    otherwise, so a plain stream loses nothing and is read as it is.
    """
    head, stream = _first_bytes(stream, len(ZSTD_MAGIC))
    if head.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    if head.startswith(ZSTD_MAGIC):
        return io.BufferedReader(_Zstd(stream), buffer_size=1 << 16)  # type: ignore[return-value]
    return stream


def _first_bytes(stream: BinaryIO, size: int) -> tuple[bytes, BinaryIO]:
    """Up to `size` leading bytes of `stream` (fewer only at its end), and a stream that still
    yields them: peeked when the stream can, else read and put back in front."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        head = peek(size)[:size]  # empty only at the end of the stream
        if not head or len(head) >= size or not _could_be_magic(head):
            return head, stream
    head = stream.read(size)  # a pipe that has sent less than `size` bytes so far: wait for them
    while head and len(head) < size and _could_be_magic(head):
        more = stream.read(size - len(head))
        if not more:
            break
        head += more
    return head, io.BufferedReader(_Prefixed(head, stream), buffer_size=1 << 16)  # type: ignore[return-value]


def _could_be_magic(head: bytes) -> bool:
    return GZIP_MAGIC.startswith(head[:2]) or ZSTD_MAGIC.startswith(head[:4])


class _Zstd(io.RawIOBase):
    """A raw reader of zstd data: frames one after another (`zstd -c a >> f; zstd -c b >> f`)
    read as one stream, and a stream that ends inside a frame is an EOFError, as gzip's is
    (zstandard's own stream reader ends quietly there, so a cut file would pass for whole)."""

    def __init__(self, stream: BinaryIO):
        import zstandard

        self.stream, self.context = stream, zstandard.ZstdDecompressor()
        self.frame = self.context.decompressobj()
        self.in_frame = False  # some bytes of the current frame are read
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending:
            chunk = self.stream.read(1 << 16)
            if not chunk:
                if self.in_frame:
                    raise EOFError("zstd data ended inside a frame")
                return 0
            self.pending = self._decompress(chunk)
        size = min(len(buffer), len(self.pending))
        buffer[:size], self.pending = self.pending[:size], self.pending[size:]
        return size

    def _decompress(self, chunk: bytes) -> bytes:
        out = []
        while chunk:
            self.in_frame = True
            out.append(self.frame.decompress(chunk))
            if not self.frame.eof:
                break
            chunk, self.in_frame = self.frame.unused_data, False
            self.frame = self.context.decompressobj()
        return b"".join(out)

    def close(self) -> None:
        self.stream.close()
        super().close()


class _Prefixed(io.RawIOBase):
    """A raw stream that yields `prefix`, then the rest of `stream`."""

    def __init__(self, prefix: bytes, stream: BinaryIO):
        self.prefix, self.stream = prefix, stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.prefix:
            size = min(len(buffer), len(self.prefix))
            buffer[:size], self.prefix = self.prefix[:size], self.prefix[size:]
            return size
        chunk = self.stream.read1(len(buffer)) if hasattr(self.stream, "read1") else self.stream.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        self.stream.close()
        super().close()


def written_through(path: Path) -> bool:
    """Whether an output at `path` is written in place rather than replaced.

    A named pipe or a character device (`-o /dev/null`, `-o >(gzip > f)`, a FIFO a reader
    waits on) is opened and written as it is: renaming a file over it would destroy it
    and leave its reader waiting. Nothing or a regular file there: False (replaced
    whole). Anything else (a directory, a block device, a socket) is a UsageError
    naming it.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False
    except NotADirectoryError:
        raise UsageError(f"{path}: a part of the path is not a directory") from None
    if stat.S_ISREG(mode):
        return False
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return True
    kind = "a directory" if stat.S_ISDIR(mode) else "a block device" if stat.S_ISBLK(mode) else \
        "a socket" if stat.S_ISSOCK(mode) else "not a regular file"
    raise UsageError(f"{path} is {kind}; give a file to write (a regular file, a named pipe or a character device)")


def refuse_existing(path: str | os.PathLike, force: bool) -> None:
    """For commands with --force: a regular file at `path` is kept unless `force`.

    A named pipe or character device is written through, never overwritten, so it needs
    no --force; a directory and the like are refused here already.
    """
    path = Path(path)
    if not written_through(path) and path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to overwrite it")


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yield the path to write the output to, so that `path` never holds a half file.

    A regular file (or nothing) at `path`: the path yielded is a temporary sibling that
    replaces `path` on success and is removed on failure, so an interrupted or failed
    write never leaves a half file under the real name (a reader on shared storage, or a
    rerun, sees the old file or the whole new one). A symbolic link is followed: the file
    it points to is replaced, the link stays. A named pipe or a character device is
    yielded itself and written through (see `written_through`); what a failed write sent
    to it cannot be taken back. Anything else at `path` is a UsageError naming it.
    """
    path = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    if written_through(path):
        yield path
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename in (str(tmp), tmp) or str(tmp) in str(exc):  # pyarrow names it only in the text
            # say what the user named, not the temporary file
            reason = os.strerror(exc.errno) if exc.errno else "cannot write"
            raise OSError(exc.errno, reason, str(path)) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def chunked(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of `size` items (the last may be shorter), read lazily.

    >>> list(chunked(range(5), 2))
    [[0, 1], [2, 3], [4]]
    """
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'2/8' -> (2, 8): this process takes shard 2 of 8 (shards count from 0)."""
    if not text:
        return None
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard {text!r}: expected I/N, for example 0/4") from None
    if count < 1 or not 0 <= index < count:
        raise UsageError(f"--shard {text!r}: need 0 <= I < N")
    return index, count


def stable_hash(*parts: Any) -> int:
    """A 64-bit hash of the parts, the same on every machine and run (unlike `hash`).

    >>> stable_hash("q1", 0) == stable_hash("q1", 0) != stable_hash("q1", 1)
    True
    """
    text = "\0".join(str(part) for part in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def derived_seed(*parts: Any) -> int:
    """A sampling seed (a positive 31-bit int, as every backend accepts) from the parts:
    `derived_seed(base_seed, record_id, sample_index)` gives each sample its own seed,
    and the same one on a rerun."""
    return stable_hash(*parts) % (2**31 - 1)


def in_shard(record_id: str, shard: tuple[int, int] | None) -> bool:
    """Stable assignment of a record id to a shard (the same on every machine)."""
    if shard is None:
        return True
    return stable_hash(record_id) % shard[1] == shard[0]


def shard_records(records: Iterable[dict], shard: tuple[int, int] | None) -> Iterator[dict]:
    """Keep the records whose `id` falls in this shard."""
    for record in records:
        if in_shard(record.get("id", ""), shard):
            yield record


def stdin_records(*, required: bool = True, **kwargs: Any) -> Iterator[dict]:
    """read_records over stdin, with a hint when a person is typing at a terminal.

    With `required` (the default), stdin that ends without one good record is an error
    (exit 1) rather than a run that succeeds having done nothing: an empty pipe usually
    means the stage before it failed or wrote elsewhere. Commands that explain an empty
    input in their own words (walk --starts -, eval --score-only) pass required=False.
    """
    if sys.stdin.isatty():
        console.info("reading JSONL from stdin (Ctrl-D to end)...")
    records = read_records(stdin_stream(), **kwargs)
    return _at_least_one(records, kwargs.get("stats")) if required else records


def stdin_total(shard: tuple[int, int] | None = None, limit: int = 4 << 30) -> int | None:
    """How many records stdin holds, for progress: its lines when it is a plain regular file
    (`ltrl synth < walks.jsonl`) of at most `limit` bytes, divided among --shard's N;
    None for a pipe, a terminal or compressed input. Read with pread, from the start of
    the file, whatever the reader has read already: the reader's offset does not move."""
    try:
        info = os.fstat(0)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        if os.pread(0, 2, 0) == GZIP_MAGIC or os.pread(0, 4, 0) == ZSTD_MAGIC:
            return None
        lines, offset, last = 0, 0, b"\n"
        while chunk := os.pread(0, 1 << 22, offset):
            lines, offset, last = lines + chunk.count(b"\n"), offset + len(chunk), chunk[-1:]
    except OSError:
        return None
    lines += last != b"\n"  # a last line without its newline
    return -(-lines // shard[1]) if shard else lines


def _at_least_one(records: Iterator[dict], stats: Stats | None) -> Iterator[dict]:
    any_read = False
    for record in records:
        any_read = True
        yield record
    if not any_read:
        skipped = stats["skipped"] if stats is not None else 0
        why = f"every line was bad and skipped ({skipped:,})" if skipped else "stdin was empty"
        raise LtrlError(f"no input records: {why}; nothing to do")


def raise_on_sigterm() -> None:
    """Ctrl-C and SIGTERM end a command with whole lines and exit 130/143 (ltrl_cli.signals)."""
    signals.install()
