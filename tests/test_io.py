"""The streaming layer: parsing, bad lines, stdout purity, closed pipes, signals."""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from ltrl_cli.errors import BadInput, UsageError
from ltrl_cli.io import dumps, get_path, in_shard, parse_shard, read_records, write_records
from ltrl_cli.records import QuestionRecord, TrainingRecord
from ltrl_cli.schema import Reads
from ltrl_cli.stats import Stats
from tests.conftest import ROOT, default_sigint, jsonl


def lines(*rows: str) -> io.BytesIO:
    return io.BytesIO("".join(r + "\n" for r in rows).encode())


def test_records_keep_their_keys_and_blank_lines_are_ignored():
    got = list(read_records(lines('{"id": "a", "x": {"y": 1}}', "", '{"id": "b"}')))
    assert got == [{"id": "a", "x": {"y": 1}}, {"id": "b"}]


@pytest.mark.parametrize("row, message", [
    ("{not json", "line 2: not valid JSON"),
    ("[1, 2]", "line 2: expected a JSON object, got a list"),
    ('"text"', "line 2: expected a JSON object, got a string"),
    ('{"id": "b"}', "line 2: missing field 'question'"),
])
def test_a_bad_line_names_its_number_and_problem(row, message):
    stream = lines('{"id": "a", "question": "q"}', row)
    with pytest.raises(BadInput) as caught:
        list(read_records(stream, schema=Reads(QuestionRecord, required=("question",))))
    assert caught.value.message.startswith(message)


def test_required_keys_may_be_dotted_paths():
    reads = Reads(TrainingRecord, required=("metadata.rubrics",))
    with pytest.raises(BadInput, match="line 1: missing field 'metadata.rubrics'"):
        list(read_records(lines('{"metadata": {}}'), schema=reads))


def test_skip_bad_counts_and_continues(capsys):
    stats = Stats()
    got = list(read_records(lines('{"id": 1}', "oops", "[]", '{"id": 2}'), skip_bad=True, stats=stats))
    assert [r["id"] for r in got] == [1, 2]
    assert (stats.line, stats["in"], stats["skipped"]) == (4, 2, 2)
    assert "line 2" in capsys.readouterr().err


def test_reading_is_lazy():
    def source():
        yield b'{"id": 1}\n'
        raise AssertionError("read past the first record")

    assert next(read_records(source())) == {"id": 1}


def test_dotted_paths():
    record = {"a": {"b": 1}}
    assert get_path(record, "a.b") == 1
    assert get_path(record, "a.c", None) is None
    with pytest.raises(KeyError):
        get_path(record, "a.c")


def test_shards_partition_the_ids():
    ids = [f"q{i}" for i in range(500)]
    shards = [parse_shard(f"{i}/4") for i in range(4)]
    owners = [[s for s in shards if in_shard(i, s)] for i in ids]
    assert all(len(o) == 1 for o in owners)
    assert all(sum(in_shard(i, s) for i in ids) > 60 for s in shards)  # roughly balanced


@pytest.mark.parametrize("text", ["4/4", "1", "a/b", "-1/3", "0/0"])
def test_bad_shard_is_a_usage_error(text):
    with pytest.raises(UsageError):
        parse_shard(text)


def test_write_records_writes_whole_lines():
    out = io.BytesIO()
    assert write_records(iter([{"id": 1}, {"id": 2, "t": "é"}]), out, flush_every=10) == 2
    assert out.getvalue() == dumps({"id": 1}) + dumps({"id": 2, "t": "é"})



def test_write_records_closes_the_stages_when_the_reader_leaves():
    closed = []

    def stage():
        try:
            while True:
                yield {"id": 1}
        finally:
            closed.append(True)  # a stage's clean-up (threads, event loop) runs now, not at exit

    class Gone(io.BytesIO):
        def write(self, data):
            raise BrokenPipeError

    with pytest.raises(BrokenPipeError) as raised:  # the traceback, held as a command holds it
        write_records(stage(), Gone())
    assert closed == [True] and raised.traceback

# A tiny command built on the real layer, run as a user would run one.
APP = textwrap.dedent('''
    import os, subprocess, sys, time, typer
    from ltrl_cli.app import command
    from ltrl_cli.io import records_out, stdin_records, write_records

    app = typer.Typer()

    @app.command()
    def main(mode: str) -> None:
        with command("demo") as run, records_out() as out:
            if mode == "noisy":
                print("chatter from print")
                os.write(1, b"chatter from fd 1\\n")
                subprocess.run(["echo", "chatter from a child"])
                records = stdin_records(stats=run)
            elif mode == "endless":
                records = ({"id": i, "pad": "x" * 100} for i in iter(int, 1))
            else:  # slow
                def slow():
                    for i in range(10_000):
                        time.sleep(0.01)
                        yield {"id": i}
                records = slow()
            run.update("out", write_records(records, out))

    app()
''')


def run_app(mode: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", APP, mode], env=env, preexec_fn=default_sigint, **kwargs)


def test_stdout_carries_records_only_even_when_libraries_print():
    proc = run_app("noisy", stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(b'{"id": 1}\n{"id": 2}\n', timeout=60)
    assert proc.returncode == 0, err
    assert jsonl(out) == [{"id": 1}, {"id": 2}]
    for chatter in (b"from print", b"from fd 1", b"from a child"):
        assert chatter in err
    assert b"demo: 2 in, 2 out, 0 skipped" in err


def test_a_bad_line_stops_with_one_message_and_exit_1():
    proc = run_app("noisy", stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(b'{"id": 1}\n{"id": 2\n', timeout=60)
    assert proc.returncode == 1
    assert b"ltrl demo: line 2: not valid JSON" in err
    assert all(line.endswith(b"}") for line in out.splitlines())


def test_closed_pipe_exits_0_quietly():
    shell = f"{sys.executable} -c '{APP}' endless | head -1"
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert jsonl(proc.stdout)[0]["id"] == 0
    assert proc.stderr == b""


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_leave_only_complete_lines(sig, code):
    proc = run_app("slow", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()  # the command is running and writing
    time.sleep(0.2)
    proc.send_signal(sig)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    records = jsonl(first + rest)
    assert [r["id"] for r in records] == list(range(len(records)))
    assert (first + rest).endswith(b"\n")


def test_replacing_writes_whole_files_and_names_the_real_path_on_failure(tmp_path):
    from ltrl_cli.io import replacing

    target = tmp_path / "out.jsonl"
    with replacing(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole" and list(tmp_path.iterdir()) == [target]
    with pytest.raises(RuntimeError), replacing(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "whole" and list(tmp_path.iterdir()) == [target]
    missing = tmp_path / "no" / "such.jsonl"
    with pytest.raises(OSError) as failure, replacing(missing) as tmp:
        tmp.write_text("x")
    assert failure.value.filename == str(missing)


def test_replacing_writes_through_a_fifo_without_replacing_it(tmp_path):
    from ltrl_cli.io import replacing
    from tests.conftest import read_fifo_in_background

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = read_fifo_in_background(fifo)
    with replacing(fifo) as target:
        assert target == fifo
        target.write_bytes(b"whole\n")
    assert received() == b"whole\n"
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and list(tmp_path.iterdir()) == [fifo]


def test_replacing_writes_through_a_character_device_and_keeps_it_on_failure(char_device):
    from ltrl_cli.io import replacing

    with replacing(char_device) as target:
        target.write_bytes(b"gone\n")
    with pytest.raises(RuntimeError), replacing(char_device) as target:
        target.write_bytes(b"half")
        raise RuntimeError("killed")
    assert stat.S_ISCHR(char_device.lstat().st_mode)  # neither replaced nor removed
    assert list(char_device.parent.iterdir()) == [char_device]


def test_replacing_refuses_a_directory_and_follows_a_link(tmp_path):
    from ltrl_cli.io import refuse_existing, replacing

    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(UsageError, match=f"{folder} is a directory"), replacing(folder) as target:
        target.write_text("x")
    assert folder.is_dir() and not any(folder.iterdir())
    real, link = tmp_path / "real.jsonl", tmp_path / "link.jsonl"
    real.write_text("old")
    link.symlink_to(real)
    with replacing(link) as target:
        target.write_text("new")
    assert link.is_symlink() and real.read_text() == "new"  # the file behind the link is replaced
    with pytest.raises(UsageError, match="exists; pass --force"):
        refuse_existing(real, force=False)
    with pytest.raises(UsageError, match="is a directory"):
        refuse_existing(folder, force=True)
    os.mkfifo(tmp_path / "pipe")
    refuse_existing(tmp_path / "pipe", force=False)  # written through, never overwritten: no --force needed


@pytest.mark.parametrize("args", [["tier"], ["stats"], ["export", "--format", "trl"], ["score"]])
def test_no_input_records_is_exit_1_not_a_silent_success(args):
    from tests.conftest import run_ltrl

    empty = run_ltrl(*args, input=b"")
    assert empty.returncode == 1 and empty.stdout == b""
    assert b"no input records: stdin was empty" in empty.stderr
    all_bad = run_ltrl(*args, "--skip-bad", input=b'{"id": 1\n')
    assert all_bad.returncode == 1 and all_bad.stdout == b""
    assert b"every line was bad and skipped (1)" in all_bad.stderr


# ---- compressed input: gzip and zstd told by their magic bytes, on stdin as in files ----

def _compress(kind: str, data: bytes) -> bytes:
    if kind == "gzip":
        import gzip

        return gzip.compress(data)
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


class _Trickle(io.RawIOBase):
    """A pipe that hands out one byte a read and cannot peek (the worst case for sniffing)."""

    def __init__(self, data: bytes):
        self.data = data

    def readable(self):
        return True

    def readinto(self, buffer):
        if not self.data:
            return 0
        buffer[:1], self.data = self.data[:1], self.data[1:]
        return 1


@pytest.mark.parametrize("kind", ["gzip", "zstd", "plain"])
@pytest.mark.parametrize("peekable", [True, False])
def test_compressed_streams_are_recognised_by_their_magic_bytes(kind, peekable):
    from ltrl_cli.io import decompressing

    data = b'{"id": "a"}\n{"id": "b"}\n'
    raw = data if kind == "plain" else _compress(kind, data)
    stream = io.BufferedReader(io.BytesIO(raw)) if peekable else _Trickle(raw)
    assert [r["id"] for r in read_records(decompressing(stream))] == ["a", "b"]


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_compressed_stdin_is_read_and_damage_is_one_line(kind, tmp_path):
    from tests.conftest import run_ltrl

    record = {"id": "q1", "question": "q?", "answer": "a", "rollouts": []}
    data = _compress(kind, dumps(record) * 3)
    done = run_ltrl("tier", "--keep-unsolved", input=data)
    assert done.returncode == 0, done.stderr
    assert [r["id"] for r in jsonl(done.stdout)] == ["q1"] * 3
    cut = run_ltrl("tier", input=data[: len(data) // 2])
    assert cut.returncode == 1 and cut.stdout == b""
    assert cut.stderr.decode().startswith("ltrl tier: the compressed input is damaged or cut short")
    (tmp_path / "f").write_bytes(data)  # files take the same path
    from ltrl_cli.io import open_input

    with open_input(tmp_path / "f") as handle:
        assert len(list(read_records(handle))) == 3
