"""What the ill-formed check (`punish_ill_formed`) adds to a GRPO reward step, on the CPU.

One step of the paper holds 128 completions of up to 32,000 tokens. The reward step already
decodes every completion once (special tokens skipped); the ill-formed rule decodes each
once more with special tokens kept and splits it at its `</think>`. This times both on
completions of the given length, with a byte-level BPE tokenizer trained on the shared
Wikispeedia pages (no model tokenizer is downloaded).

    python bench/bench_grpo_form.py [--completions 128] [--tokens 32000] [--vocab 8000] [--pages KILT.jsonl.gz]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGES = ROOT.parent / "shared" / "data" / "wikispeedia-kilt.jsonl.gz"


def page_texts(limit: int, pages: Path = PAGES) -> list[str]:
    with gzip.open(pages, "rt") as stream:
        return [" ".join(json.loads(line)["text"]) for line in itertools.islice(stream, limit)]


def completions(tokenizer, count: int, length: int, pages: Path) -> list[list[int]]:
    """`count` completions of `length` ids: reasoning, </think>, a short answer, end of turn."""
    body = tokenizer(" ".join(page_texts(600, pages)), add_special_tokens=False)["input_ids"]
    think = tokenizer.convert_tokens_to_ids("</think>")
    answer = tokenizer("The answer is Paris, in France.", add_special_tokens=False)["input_ids"]
    reasoning = length - len(answer) - 2
    out = []
    for i in range(count):
        start = (i * 997) % max(len(body) - reasoning, 1)
        out.append(body[start:start + reasoning] + [think] + answer + [tokenizer.eos_token_id])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--completions", type=int, default=128)
    parser.add_argument("--tokens", type=int, default=32000)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pages", type=Path, default=PAGES, help="KILT pages to train the tokenizer on")
    args = parser.parse_args()
    if not args.pages.exists():
        print(f"needs {args.pages} (--pages)", file=sys.stderr)
        return 1

    from ltrl_cli.grpo.config import GrpoSettings
    from ltrl_cli.grpo.shaping import LtrlReward
    from ltrl_cli.grpo.tiny import train_tokenizer

    tokenizer = train_tokenizer(page_texts(300, args.pages), vocab_size=args.vocab)
    ids = completions(tokenizer, args.completions, args.tokens, args.pages)
    reward = LtrlReward(GrpoSettings(), judge=None, tokenizer=tokenizer)
    stops = {tokenizer.eos_token_id, tokenizer.pad_token_id}

    def best(fn) -> float:
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    decode = best(lambda: tokenizer.batch_decode(ids, skip_special_tokens=True))
    check = best(lambda: reward.ill_formed(ids, stops))
    assert reward.ill_formed(ids[:1], stops) == [()], reward.ill_formed(ids[:1], stops)
    per = args.completions
    print(json.dumps({
        "completions": per, "tokens_each": args.tokens, "vocab": args.vocab,
        "decode_s": round(decode, 3), "ill_formed_check_s": round(check, 3),
        "check_ms_per_completion": round(1000 * check / per, 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
