"""The settings of one `ltrl grpo` run: the paper's defaults, a YAML file over them, flags last.

One flat table of keys (`GrpoSettings`), so a config file, a flag and `--set key=value` all
name a setting the same way. The launcher resolves the three layers once and writes the
result next to the checkpoints (`OUTDIR/ltrl-grpo.yaml`); every rank of the recipe reads
that one file, so all ranks train with the same settings.

    >>> s = merge(GrpoSettings(), {"num_generations": 4}, {"learning_rate": 1e-5, "alpha": None})
    >>> s.num_generations, s.learning_rate, s.alpha
    (4, 1e-05, 0.3)
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from ltrl_cli.errors import UsageError, check_installed
from ltrl_cli.keyenv import check_key_env
from ltrl_cli.llm import env

CONFIG_NAME = "ltrl-grpo.yaml"  # the resolved settings, in OUTDIR and in every checkpoint
LOSS_TYPES = ("dapo", "bnpo", "dr_grpo", "grpo")  # TRL 1.16 loss types; the first three are token-level
TOKEN_LEVEL_LOSSES = ("dapo", "bnpo", "dr_grpo")


@dataclass
class GrpoSettings:
    """Every setting of a run. Defaults are the paper's and its train script's (METHOD.md, "Training" and
    "The authors' release, point by point")."""

    # What to train on, and where to write.
    model: str | None = None  # a local folder or a model name the hub cache already holds
    data: str | None = None  # JSONL in the assemble / released layout
    output_dir: str | None = None

    # GRPO (the paper: 16 prompts x 8 = 128 completions per step, 200 steps).
    num_generations: int = 8  # group size G
    prompts_per_step: int = 16  # prompts in one optimizer step (all ranks together)
    per_device_batch_size: int = 8  # completions in one forward/backward on one device
    max_steps: int = 200
    learning_rate: float = 2e-6
    lr_scheduler: str = "constant"
    warmup_steps: int = 0
    weight_decay: float = 0.1  # the train script's AdamW settings: decay 0.1, betas 0.9 / 0.98
    adam_beta1: float = 0.9
    adam_beta2: float = 0.98
    max_grad_norm: float = 1.0
    epsilon: float = 0.2  # clip low
    epsilon_high: float = 0.28  # clip high (DAPO's clip-higher)
    loss_type: str = "dapo"  # token-level: normalised by the active tokens of the whole batch
    beta: float = 0.0  # no KL term (and no reference model is loaded)
    scale_rewards: str = "group"  # advantages: (r - group mean) / group std
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0: off
    max_prompt_length: int = 131072  # longer prompts are dropped (truncating would cut off the question)
    max_completion_length: int = 32000
    max_total_length: int = 160000  # prompt + completion: a completion is cut where the two reach it
    mask_truncated_completions: bool = False  # truncated completions are trained on, with reward 0 (below)
    # The train script's rule: a truncated or ill-formed completion (no stop token, the
    # wrong stop token, not exactly one </think>, empty reasoning or content, special tokens
    # in the content) scores 0 without asking the judge, and enters the group max as 0.
    punish_ill_formed: bool = True
    # Rollouts from vLLM: per-token importance weights pi_train / pi_vllm outside [min, max]
    # are zeroed ("token_mask", the authors' icepop rule); TRL's modes, or "none".
    importance_sampling: str = "token_mask"
    importance_sampling_min: float = 0.5
    importance_sampling_max: float = 2.0

    # Reward (ltrl_cli/reward/rules.py: the same functions as `ltrl score`).
    reward_mode: str = "positive-only"
    alpha: float = 0.3
    rubric_on: str = "content"
    thinking: bool = True  # a reasoning model: text before the last </think> is reasoning
    judge: str = "exact"  # exact | contains | llm
    judge_base_url: str | None = None
    judge_model: str | None = None
    judge_api_key_env: str | None = None  # name of the environment variable with the key
    judge_concurrency: int = 32
    judge_parse: str = "strict"  # the authors' rule; tolerant: ltrl's earlier reading
    judge_no_think: str = "chat-template"  # how the endpoint is told not to think; thinking-disabled: theirs
    judge_prompt_file: str | None = None  # a prompt with {question}, {correct_answer}, {response}
    # No verdict after the judge's retries: "exclude" (zero advantage, counted) or "zero"
    # (outcome 0, counted: the authors' server scores it so).
    on_judge_error: str = "exclude"
    log_rewards: bool = False  # every rank writes OUTDIR/rewards/rank-<r>.jsonl (each scored completion)

    # Engine.
    lora_r: int = 0  # 0: full fine-tuning
    lora_alpha: int = 64
    lora_dropout: float = 0.0
    lora_target_modules: list[str] = field(default_factory=lambda: ["all-linear"])
    gradient_checkpointing: bool = True
    bf16: str = "auto"  # auto: on a GPU that supports it; "true" | "false" to force
    use_cpu: bool = False  # set by the launcher when no GPU is visible
    use_vllm: bool = False
    vllm_mode: str = "colocate"  # colocate | server
    vllm_server_base_url: str | None = None
    vllm_gpu_memory_utilization: float = 0.3
    vllm_max_model_length: int | None = None  # None: max_prompt_length + max_completion_length
    vllm_tensor_parallel_size: int = 1  # colocate: GPUs per vLLM engine
    vllm_server_timeout: float = 240.0  # server: how long to wait for it to answer /health
    attn_implementation: str | None = None  # e.g. flash_attention_2 / sdpa; None: transformers' choice

    # Checkpoints and bookkeeping.
    save_steps: int = 20
    save_total_limit: int | None = None
    resume: bool = False
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


KEYS = {f.name: f for f in fields(GrpoSettings)}
CHOICES = {
    "loss_type": LOSS_TYPES,
    "reward_mode": ("positive-only", "pos-neg", "neg-only", "longrlvr"),
    "rubric_on": ("content", "reasoning", "both"),
    "judge": ("exact", "contains", "llm"),
    "on_judge_error": ("exclude", "zero"),
    "judge_parse": ("strict", "tolerant"),
    "judge_no_think": ("chat-template", "thinking-disabled", "none"),
    "vllm_mode": ("colocate", "server"),
    "bf16": ("auto", "true", "false"),
    "scale_rewards": ("group", "batch", "none"),
    "importance_sampling": ("token_mask", "token_truncate", "sequence_mask", "sequence_truncate", "none"),
}


def _coerce(key: str, value: Any) -> Any:
    """Turn a YAML or command-line value into the type the setting declares."""
    kind = str(KEYS[key].type)
    if value is None:
        return None
    if kind.startswith("bool"):
        if isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise UsageError(f"setting {key}: expected true or false, got {value!r}")
            return value.lower() in ("true", "1", "yes")
        return bool(value)
    if kind.startswith("int"):
        return _number(key, value, int)
    if kind.startswith("float"):
        return _number(key, value, float)
    if kind.startswith("list"):
        return [s.strip() for s in value.split(",")] if isinstance(value, str) else list(value)
    if key == "bf16" and isinstance(value, bool):  # YAML reads `bf16: true` as a bool
        return str(value).lower()
    return str(value)


def _number(key: str, value: Any, kind: type) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"setting {key}: expected a number, got {value!r}") from None
    if kind is int and isinstance(value, float) and value != number:
        raise UsageError(f"setting {key}: expected a whole number, got {value!r}")
    return number


def merge(base: GrpoSettings, *layers: Mapping[str, Any] | None) -> GrpoSettings:
    """Apply layers of overrides in order; a None value leaves the setting as it was.

    Unknown keys and bad values raise UsageError naming the key.
    """
    values = base.to_dict()
    for layer in layers:
        for key, value in (layer or {}).items():
            key = key.replace("-", "_")
            if key not in KEYS:
                raise UsageError(f"unknown setting {key!r}; known settings are listed in docs/grpo.md")
            if value is not None:
                values[key] = _coerce(key, value)
    settings = GrpoSettings(**values)
    validate(settings)
    return settings


def validate(s: GrpoSettings) -> None:
    """Reject values that cannot make a run (exit 2 before any process is started)."""
    for key, allowed in CHOICES.items():
        if getattr(s, key) not in allowed:
            raise UsageError(f"setting {key}: expected one of {', '.join(allowed)}, got {getattr(s, key)!r}")
    for key in ("num_generations", "prompts_per_step", "per_device_batch_size", "max_steps", "save_steps",
                "max_prompt_length", "max_completion_length", "max_total_length", "judge_concurrency",
                "vllm_tensor_parallel_size"):
        if getattr(s, key) < 1:
            raise UsageError(f"setting {key}: must be at least 1, got {getattr(s, key)}")
    if s.num_generations < 2:
        raise UsageError("setting num_generations: GRPO needs at least 2 completions per prompt")
    if not 0.0 <= s.alpha <= 1.0:
        raise UsageError(f"setting alpha: must be in [0, 1], got {s.alpha}")
    if s.max_prompt_length >= s.max_total_length:
        raise UsageError(f"setting max_prompt_length ({s.max_prompt_length}) must be below max_total_length "
                         f"({s.max_total_length}): a prompt must leave room for a completion")
    if not 0.0 <= s.importance_sampling_min < s.importance_sampling_max:
        raise UsageError(f"settings importance_sampling_min / _max: need 0 <= min < max, got "
                         f"{s.importance_sampling_min} / {s.importance_sampling_max}")
    check_key_env(s.judge_api_key_env, "setting judge_api_key_env")  # before the settings are written to OUTDIR
    if s.judge_prompt_file and not Path(s.judge_prompt_file).expanduser().is_file():
        raise UsageError(f"setting judge_prompt_file: {s.judge_prompt_file} is not a file")
    endpoint = (s.judge_base_url or env.judge_default("base_url"), s.judge_model or env.judge_default("model"))
    if s.judge == "llm" and not all(endpoint):
        raise UsageError("--judge llm needs --judge-base-url and --judge-model (an OpenAI-compatible endpoint; "
                         "or LTRL_JUDGE_BASE_URL and LTRL_JUDGE_MODEL)")
    if s.use_vllm and s.vllm_mode == "server" and not s.vllm_server_base_url:
        raise UsageError("--vllm-mode server needs --vllm-server-url (where the vLLM server listens)")


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    """`--set key=value` pairs as a dict.

    >>> parse_assignments(["top_p=0.95", "lora-dropout=0.05"])
    {'top_p': '0.95', 'lora_dropout': '0.05'}
    """
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected KEY=VALUE, for example --set top_p=0.95")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A config file: a YAML mapping of setting names to values (comments welcome)."""
    import yaml

    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"config {path}: cannot read it ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"config {path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"config {path}: expected a mapping of settings, got {type(data).__name__}")
    return data


def write_yaml(settings: GrpoSettings, path: str | Path, header: str = "") -> Path:
    """Write the resolved settings (sorted as declared), with an optional comment header."""
    import yaml

    from ltrl_cli.io import replacing

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump(settings.to_dict(), sort_keys=False, default_flow_style=False)
    # Written whole or not at all: on shared storage another node's ranks may be reading it.
    with replacing(path) as partial:
        partial.write_text(header + body)
    return path


def load(path: str | Path) -> GrpoSettings:
    """The settings a launcher wrote (every key present)."""
    return merge(GrpoSettings(), read_yaml(path))


# ---------------------------------------------------------------- what follows from the settings


def batch_layout(s: GrpoSettings, world_size: int) -> tuple[int, int]:
    """(per-device micro-batch, gradient accumulation steps) for one optimizer step.

    >>> batch_layout(GrpoSettings(), 8)   # 16 prompts x 8 = 128 completions on 8 GPUs
    (8, 2)
    >>> batch_layout(GrpoSettings(prompts_per_step=1, num_generations=4, per_device_batch_size=2), 2)
    (2, 1)
    """
    completions = s.prompts_per_step * s.num_generations
    per_device = min(s.per_device_batch_size, max(completions // world_size, 1))
    if completions % (world_size * per_device):
        raise UsageError(
            f"{s.prompts_per_step} prompts x {s.num_generations} generations = {completions} completions per step "
            f"do not split evenly over {world_size} process(es) x per_device_batch_size {per_device}; "
            "change prompts_per_step or per_device_batch_size"
        )
    return per_device, completions // (world_size * per_device)


def latest_checkpoint(output_dir: str | Path | None) -> Path | None:
    """The OUTDIR/checkpoint-<step> folder with the highest step, or None."""
    if not output_dir or not Path(output_dir).is_dir():
        return None
    steps = []
    for folder in Path(output_dir).iterdir():
        match = re.fullmatch(r"checkpoint-(\d+)", folder.name)
        if match and folder.is_dir():
            steps.append((int(match.group(1)), folder))
    return max(steps)[1] if steps else None


def require_vllm() -> None:
    """vLLM rollouts need the `vllm` extra (CUDA only); say so before any process starts."""
    check_installed("vllm", "vllm", "--vllm (vLLM rollouts; without it, drop --vllm for plain generation)")
