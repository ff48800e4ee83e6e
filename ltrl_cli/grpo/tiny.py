"""A tiny random Qwen3 with a tokenizer trained on the spot: a model to try `ltrl grpo` on a CPU.

Nothing is downloaded. The weights are random (the model writes noise), which is all a test
or a dry run of the training loop needs: shapes, rewards, checkpoints and metrics are real.

    python -m ltrl_cli.grpo.tiny /tmp/tiny-qwen3 [--texts train.jsonl]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterable

# Qwen-style chat template: enough for TRL to render a conversation and start the
# assistant turn (`add_generation_prompt`).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
SEED_TEXT = (
    "The capital of France is Paris. Who directed the film? The answer is 42. "
    "Alice was born in Springfield and studied at the university of the city."
)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 400):
    """Train a small byte-level BPE tokenizer and wrap it for transformers.

    Byte-level, so any text (the random model's output included) round-trips.
    """
    from transformers import PreTrainedTokenizerFast

    from ltrl_cli.backends.tokenize import train_bpe

    tok = train_bpe([SEED_TEXT, *texts], vocab_size, special_tokens=SPECIAL_TOKENS)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<think>", "</think>"],
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny(out: str | Path, texts: Iterable[str] = (), *, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """Write a random tiny Qwen3 and its tokenizer to `out`; returns the folder.

    Args:
        out: folder to create (a `from_pretrained` path afterwards).
        texts: text the tokenizer learns its merges from (the prompts of a data set).
        seed: torch seed for the random weights.
        hidden: hidden size (heads are 4 of hidden/4; kept tiny so a step takes seconds).
        layers: number of decoder layers.
    """
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    out = Path(out)
    tokenizer = train_tokenizer(texts)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=hidden // 4,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _texts_from_jsonl(path: str) -> list[str]:
    from ltrl_cli.io import read_records

    with open(path, "rb") as stream:
        return [m.get("content", "") for r in read_records(stream) for m in r.get("input_messages", [])]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ltrl_cli.grpo.tiny", description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder to write the model and tokenizer to")
    parser.add_argument("--texts", help="JSONL records (input_messages) to train the tokenizer on")
    args = parser.parse_args(argv)
    texts = _texts_from_jsonl(args.texts) if args.texts else []
    print(f"wrote {build_tiny(args.out, texts)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
