"""GPU memory and speed of the GRPO training step at long context, with random weights.

Builds a model of a real architecture (Qwen3-0.6B's or Qwen3-4B's configuration, written
out below) with random weights directly on the device: nothing is downloaded. Applies
LoRA (peft) and gradient checkpointing, then runs the GRPO update the way TRL computes it
for one group of G completions (G sequences of prompt + completion tokens, one per
micro-batch, gradients accumulated; logits only for the completion tokens; log-softmax
gather; clipped ratio; token-level mean; one optimizer step) and measures:

- training tokens/s on one GPU (prompt + completion tokens through forward and backward),
- peak GPU memory,
- the longest prompt that fits (micro-batch 1: G only multiplies time, not memory).

Generation (rollouts) is not measured: this is the trainer-side figure, the one the
anchor in docs/grpo.md gives (about 3,600 training tokens/s per H100 at 64K, 4B model).

Usage (one JSON line per measurement on stdout, notes on stderr):

    python bench/bench_grpo_gpu.py --model qwen3-4b --lengths 8192,32768,65536 --search
    python bench/bench_grpo_gpu.py --model tiny --device cpu --lengths 256 --group 2   # a smoke test
"""

from __future__ import annotations

import argparse
import json
import sys
import time

# Qwen3 configurations as published with the models (config.json), written out so the
# bench needs no download. vocab 151936; rope theta as in the original releases.
ARCHS = {
    "qwen3-0.6b": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                       num_key_value_heads=8, head_dim=128, tie_word_embeddings=True),
    "qwen3-4b": dict(hidden_size=2560, intermediate_size=9728, num_hidden_layers=36, num_attention_heads=32,
                     num_key_value_heads=8, head_dim=128, tie_word_embeddings=True),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, tie_word_embeddings=True),
}
COMMON = dict(vocab_size=151936, rms_norm_eps=1e-6, rope_theta=1_000_000.0, max_position_embeddings=262144)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(name: str, device, dtype, lora_r: int, attn: str):
    """A random-weight model on `device`, with LoRA and gradient checkpointing."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(**COMMON, **ARCHS[name])
    config._attn_implementation = attn
    torch.manual_seed(0)
    with torch.device(device):  # initialise on the device: a 4B model on the CPU first takes minutes
        model = Qwen3ForCausalLM(config).to(dtype)
    model.config.use_cache = False
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
    if lora_r > 0:
        model = get_peft_model(model, LoraConfig(r=lora_r, lora_alpha=2 * lora_r, target_modules="all-linear",
                                                 task_type="CAUSAL_LM"))
    return model


def grpo_loss(model, ids, completion_len: int, advantage: float, eps_low=0.2, eps_high=0.28):
    """TRL's per-token GRPO loss for one sequence [1, L]; old logps = current (first iteration)."""
    import torch
    from trl.trainer.utils import selective_log_softmax

    # Only the completion positions need logits: [1, C + 1, V] instead of [1, L, V].
    logits = model(input_ids=ids, logits_to_keep=completion_len + 1).logits[:, :-1, :]  # [1, C, V]
    targets = ids[:, -completion_len:]  # [1, C]
    logps = selective_log_softmax(logits.float(), targets)  # [1, C]
    ratio = torch.exp(logps - logps.detach())  # [1, C]
    clipped = torch.clamp(ratio, 1 - eps_low, 1 + eps_high)
    per_token = -torch.min(ratio * advantage, clipped * advantage)  # [1, C]
    return per_token.mean()


def step(model, optimizer, prompt_len: int, completion_len: int, group: int, device) -> dict:
    """One optimizer step over a group: `group` micro-batches of one sequence each."""
    import torch

    vocab = model.config.vocab_size
    optimizer.zero_grad(set_to_none=True)
    sync(device)
    start = time.perf_counter()
    for g in range(group):
        ids = torch.randint(0, vocab, (1, prompt_len + completion_len), device=device)  # [1, L]
        advantage = 1.0 if g % 2 else -1.0  # half above, half below the group mean
        (grpo_loss(model, ids, completion_len, advantage) / group).backward()
    optimizer.step()
    sync(device)
    elapsed = time.perf_counter() - start
    tokens = group * (prompt_len + completion_len)
    return {"tokens": tokens, "step_s": round(elapsed, 3), "tokens_per_s": round(tokens / elapsed, 1)}


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def fits(model, optimizer, prompt_len: int, completion_len: int, device) -> bool:
    """Does one sequence of prompt_len + completion_len train without running out of memory?"""
    import torch

    try:
        step(model, optimizer, prompt_len, completion_len, 1, device)
        return True
    except torch.cuda.OutOfMemoryError:
        return False
    finally:
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()


def longest_prompt(model, optimizer, completion_len: int, device, start: int = 8192, limit: int = 262144,
                   resolution: int = 4096) -> int:
    """Double the prompt until it no longer fits, then bisect to `resolution` tokens."""
    low, high = 0, start
    while high <= limit and fits(model, optimizer, high, completion_len, device):
        log(f"  prompt {high}: fits")
        low, high = high, high * 2
    if high > limit:
        return low
    log(f"  prompt {high}: out of memory")
    while high - low > resolution:
        mid = (low + high) // 2
        ok = fits(model, optimizer, mid, completion_len, device)
        log(f"  prompt {mid}: {'fits' if ok else 'out of memory'}")
        low, high = (mid, high) if ok else (low, mid)
    return low


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(ARCHS), default="qwen3-4b")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--lengths", default="8192,32768,65536", help="total tokens per sequence to time")
    parser.add_argument("--completion", type=int, default=2048, help="completion tokens in each sequence")
    parser.add_argument("--group", type=int, default=8, help="G: sequences per optimizer step")
    parser.add_argument("--lora-r", type=int, default=64)
    parser.add_argument("--attn", default="sdpa", help="sdpa, or flash_attention_2 when installed")
    parser.add_argument("--search", action="store_true", help="also find the longest prompt that fits")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    model = build(args.model, device, dtype, args.lora_r, args.attn)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-6)
    base = {"model": args.model, "device": name, "dtype": str(dtype).split(".")[-1], "lora_r": args.lora_r,
            "gradient_checkpointing": True, "group": args.group, "completion": args.completion, "attn": args.attn}
    log(f"built {args.model} on {name}: {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B parameters")

    step(model, optimizer, 64, 64, 1, device)  # warm-up: kernels, allocator, optimizer state
    for total in (int(x) for x in args.lengths.split(",")):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        prompt = total - args.completion
        try:
            result = step(model, optimizer, prompt, args.completion, args.group, device)
        except torch.cuda.OutOfMemoryError:
            result = {"error": "out of memory"}
            torch.cuda.empty_cache()
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
        print(json.dumps({**base, "sequence": total, "prompt": prompt, **result,
                          "peak_gib": round(peak, 2) if peak is not None else None}), flush=True)
    if args.search and device.type == "cuda":
        longest = longest_prompt(model, optimizer, args.completion, device)
        print(json.dumps({**base, "longest_prompt": longest, "micro_batch": 1}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
