"""backends/tokenize.py: tokenizers by spec, exact prefixes, the token-count cache."""

from __future__ import annotations

import pytest

from ltrl_cli.backends.tokenize import HFTokenizer, TokenCache, load_tokenizer
from ltrl_cli.errors import BackendError
from tests.conftest import SHARED_DATA

TEXTS = [
    "Braevgithia is a region of the demo world, known for its cartography.",
    "Population: 2,737,330 — Zürich, 北京市, naïve café.",
    "The Bell at Wav draws on material about Braevgithia. " * 5,
]


def train_tokenizer(texts: list[str], vocab_size: int = 300):
    """A byte-level BPE tokenizer trained on `texts` in a fraction of a second."""
    from ltrl_cli.backends.tokenize import train_bpe

    return train_bpe(texts * 20, vocab_size, special_tokens=["<|im_start|>", "<|im_end|>"])


@pytest.fixture(scope="module")
def trained_json(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer(TEXTS).save(str(path))
    return path


def test_tokenizer_json_counts_and_prefixes(trained_json):
    tok = load_tokenizer(str(trained_json))
    assert isinstance(tok, HFTokenizer) and not tok.has_chat_template
    for text in TEXTS:
        n = tok.count(text)
        assert n == len(tok.encode(text)) > 0
        for k in (0, 1, n // 2, n - 1, n, n + 5):
            prefix = tok.prefix(text, k)
            assert text.startswith(prefix)
            assert tok.count(prefix) <= max(k, 0)
        assert tok.prefix(text, n) == text
    assert tok.count_batch(TEXTS) == [tok.count(t) for t in TEXTS]


@pytest.fixture
def tiktoken_cache():
    if not (SHARED_DATA / "tiktoken").is_dir():
        pytest.skip(f"tiktoken cache not found at {SHARED_DATA / 'tiktoken'}")


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_tiktoken_counts_and_prefixes(tiktoken_cache, encoding):
    tok = load_tokenizer(f"tiktoken:{encoding}")
    assert tok.name == f"tiktoken:{encoding}"
    assert tok.count("hello world") == 2
    for text in TEXTS:
        n = tok.count(text)
        for k in (1, 7, n - 1):
            prefix = tok.prefix(text, k)
            assert text.startswith(prefix) and tok.count(prefix) <= k
            assert "\ufffd" not in prefix  # a cut inside a multi-byte character is dropped
    assert tok.count_batch(TEXTS) == [tok.count(t) for t in TEXTS]
    assert tok.count_prompt([{"role": "user", "content": TEXTS[0]}]) == tok.count(TEXTS[0])


def test_tiktoken_unavailable_says_what_to_set(monkeypatch, tmp_path):
    import tiktoken.load
    import tiktoken.registry

    def offline(url):
        raise ConnectionError("no network")

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.load, "read_file", offline)
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})  # forget encodings loaded earlier
    with pytest.raises(BackendError, match="TIKTOKEN_CACHE_DIR"):
        load_tokenizer("tiktoken:o200k_base")
    with pytest.raises(BackendError, match="unknown tiktoken encoding"):
        load_tokenizer("tiktoken:no_such_encoding")


def test_missing_tokenizer_is_a_clear_error(tmp_path):
    with pytest.raises(BackendError, match="no such file"):
        load_tokenizer(str(tmp_path / "no-such-tokenizer"))
    with pytest.raises(BackendError, match="only local files are used; pass --allow-download"):
        load_tokenizer("no-such-org/no-such-tokenizer")  # a hub name: HF_HUB_OFFLINE is set in tests


def test_hf_directory_with_chat_template_counts_the_templated_prompt(trained_json, tmp_path):
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    template = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" \
               "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    hf = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_file(str(trained_json)), chat_template=template)
    hf.save_pretrained(tmp_path / "tok")
    tok = load_tokenizer(str(tmp_path / "tok"))
    assert tok.has_chat_template
    messages = [{"role": "user", "content": TEXTS[0]}]
    expected = len(hf.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)["input_ids"])
    assert tok.count_prompt(messages) == expected > tok.count(TEXTS[0])


class CountingTokenizer(HFTokenizer):
    """Counts how often the underlying tokenizer is asked, to see the cache work."""

    def __init__(self, inner: HFTokenizer):
        super().__init__(inner.name, inner._tok)
        self.calls = 0

    def count_batch(self, texts):
        self.calls += len(texts)
        return super().count_batch(texts)


def test_token_cache_counts_each_text_once_and_persists(trained_json, tmp_path):
    tok = CountingTokenizer(load_tokenizer(str(trained_json)))
    db = tmp_path / "cache" / "counts.sqlite"
    cache = TokenCache(tok, db)
    first = cache.count_many(TEXTS + TEXTS[:1])
    assert first == [tok.count(t) for t in TEXTS + TEXTS[:1]]
    assert tok.calls == 3  # the repeated text is counted once
    assert cache.count_many(TEXTS) == first[:3] and tok.calls == 3
    cache.close()

    again = CountingTokenizer(load_tokenizer(str(trained_json)))
    reopened = TokenCache(again, db)
    assert reopened.count_many(TEXTS) == first[:3]
    assert again.calls == 0  # every count came from the sqlite file
    reopened.close()


def test_token_cache_memory_is_bounded(trained_json):
    cache = TokenCache(load_tokenizer(str(trained_json)), max_items=2)
    cache.count_many(TEXTS)
    assert len(cache._memory) == 2
    assert cache.count(TEXTS[0]) == cache.tokenizer.count(TEXTS[0])


# Text built from the characters where pre-tokenizers disagree: newlines and other
# whitespace, letters (ASCII, accented, CJK), digits, punctuation, contractions.
_ALPHABET = list("aZq \n\t\r.,'-/é北1") + ["\n\n", "'s", "Document ", "  \n", "\u00a0", "x\n"]


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_joined_count_is_exact(tiktoken_cache, encoding):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    tok = load_tokenizer(f"tiktoken:{encoding}")
    cache = TokenCache(tok)
    part = st.lists(st.sampled_from(_ALPHABET), max_size=12).map("".join)

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(st.lists(part, max_size=10))
    def exact(parts):
        assert cache.count_joined(parts) == tok.count("".join(parts))

    exact()


def test_joined_count_without_the_split_property_counts_the_whole(trained_json):
    tok = load_tokenizer(str(trained_json))
    assert not tok.splits_after_newline
    parts = ["Intro\n", "Document 1\n", "text"]
    assert TokenCache(tok).count_joined(parts) == tok.count("".join(parts))
