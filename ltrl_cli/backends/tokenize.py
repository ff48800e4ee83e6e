"""Token counting for `ltrl assemble`: tiktoken encodings and Hugging Face tokenizers.

`load_tokenizer(spec)` understands three kinds of spec:

- `tiktoken:<encoding>` (`tiktoken:o200k_base`, `tiktoken:cl100k_base`): OpenAI's BPE.
  tiktoken downloads an encoding on first use and caches it in `TIKTOKEN_CACHE_DIR`.
- a path to a `tokenizer.json` file (the `tokenizers` library's format): no chat template.
- a Hugging Face tokenizer directory or hub name (AutoTokenizer). Local files only unless
  `allow_download=True`; where the tokenizer has a chat template, prompts are counted
  after it is applied, since that is what the trainer feeds the model.

`TokenCache` sits in front of a tokenizer: distractor pages repeat across questions, so
each distinct text is counted once (in memory, optionally persisted to sqlite).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Iterable, Sequence

from ltrl_cli.errors import BackendError, MissingDependency
from ltrl_cli.lru import LRU

DEFAULT_TOKENIZER = "tiktoken:o200k_base"

Messages = Sequence[dict]


class Tokenizer:
    """What assemble needs from a tokenizer. Subclasses implement `encode` and `prefix`."""

    name = "tokenizer"
    has_chat_template = False
    # True when the pre-tokenizer always splits between a text ending in a newline and a
    # text starting with an ASCII letter (see split_points); then counts add up there.
    splits_after_newline = False

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def count(self, text: str) -> int:
        """Number of tokens in `text` (no special tokens added)."""
        return len(self.encode(text))

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        """count() for many texts; subclasses batch it in native code."""
        return [self.count(t) for t in texts]

    def count_prompt(self, messages: Messages) -> int:
        """Tokens the model sees for these chat messages (after the chat template, if any)."""
        return sum(self.count(m["content"]) for m in messages)

    def prefix(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` that ends on a token boundary within `max_tokens` tokens."""
        raise NotImplementedError


class TiktokenTokenizer(Tokenizer):
    """An OpenAI BPE encoding; it has no chat template, so a prompt is its messages' text."""

    def __init__(self, encoding: str):
        import tiktoken  # a core dependency

        self.name = f"tiktoken:{encoding}"
        self.splits_after_newline = encoding in _SPLITS_AFTER_NEWLINE
        try:
            self._enc = tiktoken.get_encoding(encoding)
        except ValueError as exc:
            if "Unknown encoding" in str(exc):
                raise BackendError(f"--tokenizer {self.name}: unknown tiktoken encoding {encoding!r} "
                                   "(try o200k_base or cl100k_base)") from None
            raise _tiktoken_unavailable(self.name, exc) from None
        except Exception as exc:  # the download failed: no network and no cached file
            raise _tiktoken_unavailable(self.name, exc) from None

    def encode(self, text: str) -> list[int]:
        return self._enc.encode_ordinary(text)

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        counts = []
        # Chunks bound memory (tiktoken returns every token id as a Python int); small
        # batches skip the thread pool tiktoken would start for each call.
        for start in range(0, len(texts), 32):
            chunk = list(texts[start : start + 32])
            if sum(len(t) for t in chunk) < 200_000:
                counts.extend(len(self._enc.encode_ordinary(t)) for t in chunk)
            else:
                counts.extend(len(ids) for ids in self._enc.encode_ordinary_batch(chunk, num_threads=2))
        return counts

    def prefix(self, text: str, max_tokens: int) -> str:
        ids = self._enc.encode_ordinary(text)
        if len(ids) <= max_tokens:
            return text
        # A token can end inside a multi-byte character: keep whole characters only.
        return self._enc.decode_bytes(ids[:max_tokens]).decode("utf-8", "ignore")


# Encodings whose regex pre-tokenizer never lets a piece run from a newline into a letter:
# every alternative that can match "\n" ends on newlines (` ?[^\s\p{L}\p{N}]+[\r\n]*`,
# `\s*[\r\n]+`) or cannot reach a letter (`\s+(?!\S)`, `\s+`, tried after `\s*[\r\n]+`),
# and the letter alternatives' optional first character excludes \r and \n. With no
# lookbehind in the patterns, the text after such a point is split the same way whatever
# precedes it, and BPE works within pieces, so count(a + b) == count(a) + count(b) when a
# ends with "\n" and b starts with an ASCII letter. Not true of r50k/p50k, whose
# `\s+(?!\S)` comes first and splits "\n\n" differently before a letter.
# tests/test_tokenize.py checks the identity on random texts (hypothesis).
_SPLITS_AFTER_NEWLINE = {"cl100k_base", "o200k_base"}


def split_points(parts: Sequence[str]) -> list[str]:
    """Join `parts` into segments that meet only where a newline is followed by an ASCII letter.

    >>> split_points(["Intro\\n\\n", "Document 1: A\\n", "text", "\\n\\n", "Document 2"])
    ['Intro\\n\\n', 'Document 1: A\\n', 'text\\n\\n', 'Document 2']
    """
    segments: list[str] = []
    current: list[str] = []
    for part in parts:
        if not part:
            continue
        if current and current[-1].endswith("\n") and part[0].isascii() and part[0].isalpha():
            segments.append("".join(current))
            current = []
        current.append(part)
    if current:
        segments.append("".join(current))
    return segments


def _tiktoken_unavailable(name: str, exc: Exception) -> BackendError:
    cache = os.environ.get("TIKTOKEN_CACHE_DIR", "(unset)")
    return BackendError(
        f"--tokenizer {name}: the encoding is neither cached nor downloadable ({type(exc).__name__}). "
        f"tiktoken looks in TIKTOKEN_CACHE_DIR (now {cache}); set it to a folder holding the "
        "encoding file, or run once with network access"
    )


class HFTokenizer(Tokenizer):
    """A `tokenizers.Tokenizer` (from tokenizer.json) or a transformers fast tokenizer."""

    def __init__(self, name: str, backend, chat=None):
        self.name = name
        self._tok = backend  # a tokenizers.Tokenizer: fast batch encode with offsets
        self._tok.no_truncation()  # a saved tokenizer may truncate to its model's length
        self._tok.no_padding()
        self._chat = chat  # a transformers tokenizer with a chat template, or None
        self.has_chat_template = chat is not None

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        counts = []
        for start in range(0, len(texts), 64):  # chunks bound the memory of the encodings
            encodings = self._tok.encode_batch(list(texts[start : start + 64]), add_special_tokens=False)
            counts.extend(len(e.ids) for e in encodings)
        return counts

    def count_prompt(self, messages: Messages) -> int:
        if self._chat is None:
            return super().count_prompt(messages)
        ids = self._chat.apply_chat_template(list(messages), tokenize=True, add_generation_prompt=True)
        if hasattr(ids, "keys"):  # transformers 5 returns a BatchEncoding
            ids = ids["input_ids"]
        return len(ids)

    def prefix(self, text: str, max_tokens: int) -> str:
        encoding = self._tok.encode(text, add_special_tokens=False)
        if len(encoding.ids) <= max_tokens:
            return text
        if max_tokens <= 0:
            return ""
        # Cut the original text at the end of the last kept token: no decode round trip.
        return text[: encoding.offsets[max_tokens - 1][1]]


def load_tokenizer(spec: str = DEFAULT_TOKENIZER, *, allow_download: bool = False) -> Tokenizer:
    """Open the tokenizer named by `spec` (see the module docstring).

    Raises:
        BackendError: the tokenizer cannot be found or loaded; the message says what to do.
    """
    if spec.startswith("tiktoken:"):
        return TiktokenTokenizer(spec.split(":", 1)[1])
    path = Path(spec).expanduser()
    if path.is_file():
        return _from_tokenizer_json(path)
    if spec.startswith(("/", "./", "../", "~")) and not path.exists():  # a path, not a hub name
        raise BackendError(f"--tokenizer {spec}: no such file or directory")
    return _from_transformers(str(path) if spec.startswith("~") else spec, allow_download=allow_download)


def _from_tokenizer_json(path: Path) -> HFTokenizer:
    try:
        from tokenizers import Tokenizer as RawTokenizer
    except ImportError:
        raise MissingDependency("tokenizers", "train", f"--tokenizer {path}") from None

    try:
        return HFTokenizer(str(path), RawTokenizer.from_file(str(path)))
    except Exception as exc:
        raise BackendError(f"--tokenizer {path}: not a tokenizer.json file ({exc})") from None


def _from_transformers(spec: str, *, allow_download: bool) -> HFTokenizer:
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise MissingDependency("transformers", "train", f"--tokenizer {spec}") from None
    try:
        tok = AutoTokenizer.from_pretrained(spec, local_files_only=not allow_download)
    except Exception as exc:
        hint = "" if allow_download else " (only local files are used; pass --allow-download to fetch it)"
        raise BackendError(f"--tokenizer {spec}: cannot load a tokenizer{hint}: {_first_line(exc)}") from None
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        raise BackendError(f"--tokenizer {spec}: only fast (Rust) tokenizers are supported")
    return HFTokenizer(spec, backend, chat=tok if getattr(tok, "chat_template", None) else None)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


class TokenCache:
    """Token counts by text, shared across questions: an LRU in memory plus optional sqlite.

    The key is a hash of the text and the tokenizer's name, so one sqlite file can serve
    several tokenizers and a changed page is simply a new key.
    """

    def __init__(self, tokenizer: Tokenizer, path: str | os.PathLike | None = None, max_items: int = 500_000):
        self.tokenizer = tokenizer
        self._memory: LRU[bytes, int] = LRU(max_items)
        self._db = _open_db(path) if path else None
        self._pending: list[tuple[bytes, int]] = []
        self.hits = self.misses = 0

    def count(self, text: str) -> int:
        """Token count of one text, from the cache when seen before."""
        return self.count_many([text])[0]

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """Token counts of many texts; the misses are counted in one batch call."""
        keys = [self._key(t) for t in texts]
        counts: list[int | None] = [self._memory.get(k) for k in keys]
        missing = [i for i, c in enumerate(counts) if c is None]
        if missing and self._db is not None:
            for i, c in zip(missing, self._db_get([keys[i] for i in missing])):
                counts[i] = c
            missing = [i for i in missing if counts[i] is None]
        if missing:
            unique = list(dict.fromkeys(keys[i] for i in missing))
            text_of = {keys[i]: texts[i] for i in missing}
            fresh = dict(zip(unique, self.tokenizer.count_batch([text_of[k] for k in unique])))
            for i in missing:
                counts[i] = fresh[keys[i]]
            self._pending.extend(fresh.items())
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        for key, c in zip(keys, counts):
            self._memory[key] = c
        if len(self._pending) >= 1000:
            self.flush()
        return counts  # type: ignore[return-value]

    def count_joined(self, parts: Sequence[str]) -> int:
        """Exact token count of `"".join(parts)`, from cached pieces where that is exact.

        For encodings that split after a newline before a letter (`splits_after_newline`),
        the text is cut at those points and the pieces' counts (mostly cached: a page's
        text recurs across contexts) are summed; otherwise the whole text is counted.
        """
        if not self.tokenizer.splits_after_newline:
            return self.tokenizer.count("".join(parts))
        return sum(self.count_many(split_points(parts)))

    def flush(self) -> None:
        """Write new counts to the sqlite file (called every 1,000 new texts and at close)."""
        if self._db is not None and self._pending:
            self._db.executemany("INSERT OR REPLACE INTO counts VALUES (?, ?)", self._pending)
            self._db.commit()
        self._pending = []

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None

    def _key(self, text: str) -> bytes:
        h = hashlib.blake2b(self.tokenizer.name.encode(), digest_size=16)
        h.update(b"\0")
        h.update(text.encode("utf-8", "surrogatepass"))
        return h.digest()

    def _db_get(self, keys: Iterable[bytes]) -> list[int | None]:
        keys = list(keys)
        found: dict[bytes, int] = {}
        for start in range(0, len(keys), 500):  # sqlite caps the number of bound parameters
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(self._db.execute(f"SELECT key, n FROM counts WHERE key IN ({marks})", chunk))
        return [found.get(k) for k in keys]


def _open_db(path: str | os.PathLike) -> sqlite3.Connection:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path))
        db.execute("CREATE TABLE IF NOT EXISTS counts (key BLOB PRIMARY KEY, n INTEGER NOT NULL)")
        db.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:
        raise BackendError(f"--token-cache {path}: cannot open the sqlite file ({exc})") from None
    return db


def train_bpe(texts: Iterable[str], vocab_size: int = 32000, special_tokens: Sequence[str] = ()):
    """Train a byte-level BPE tokenizer on `texts`; returns a `tokenizers.Tokenizer`.

    For counting tokens where no model tokenizer is at hand (offline, no hub): counts
    from a BPE of a realistic vocabulary trained on the corpus itself land near those of
    a real model's tokenizer, which is what a token budget needs. Byte-level, so any
    text can be encoded.
    """
    try:
        from tokenizers import Tokenizer as RawTokenizer
        from tokenizers import decoders, models, pre_tokenizers, trainers
    except ImportError:
        raise MissingDependency("tokenizers", "train", "training a tokenizer") from None
    tokenizer = RawTokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special_tokens),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer
