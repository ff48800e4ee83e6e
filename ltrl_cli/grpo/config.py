"""The settings of one `ltrl grpo` run: ltrl's own, and any field of TRL's GRPOConfig.

A run has two kinds of settings, named in one flat table so that a YAML file, a flag and
`--set key=value` name them alike:

- ltrl's own (`GrpoSettings`): the data, the reward and its judge, the batch layout by
  prompts, the length rules, LoRA; the method's settings, under the names they have
  always had;
- every other key is a field of `trl.GRPOConfig` (TrainingArguments included), checked
  against TRL's dataclass: its values are converted as TRL's command line converts them
  (transformers' HfArgumentParser) and the whole GRPOConfig is built once in the launcher,
  so a bad key or value stops the run before anything starts. They live in
  `GrpoSettings.trl`, the paper's values (`PAPER`) under the ones given.

The launcher resolves the layers once and writes the result next to the checkpoints
(`OUTDIR/ltrl-grpo.yaml`); every rank of the recipe reads that one file.

    >>> s = merge(GrpoSettings(), {"num_generations": 4}, {"learning_rate": "1e-5", "alpha": None})
    >>> s.trl["num_generations"], s.trl["learning_rate"], s.alpha
    (4, 1e-05, 0.3)
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import warnings
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from ltrl_cli.errors import UsageError, check_installed
from ltrl_cli.keyenv import check_key_env
from ltrl_cli.llm import env

CONFIG_NAME = "ltrl-grpo.yaml"  # the resolved settings, in OUTDIR and in every checkpoint

# GRPOConfig fields the paper and its 4B train script set (METHOD.md "Training" and "The
# authors' release, point by point"); every other field keeps TRL's default unless given.
PAPER = {
    "num_generations": 8,  # group size G (16 prompts x 8 = 128 completions per step)
    "max_steps": 200,
    "learning_rate": 2e-6,
    "lr_scheduler_type": "constant",
    "warmup_steps": 0,
    "weight_decay": 0.1,  # the train script's AdamW: decay 0.1, betas 0.9 / 0.98
    "adam_beta1": 0.9,
    "adam_beta2": 0.98,
    "max_grad_norm": 1.0,
    "epsilon": 0.2,  # clip low
    "epsilon_high": 0.28,  # clip high (DAPO's clip-higher)
    "loss_type": "dapo",  # token-level: normalised by the active tokens of the whole batch
    "beta": 0.0,  # no KL term (and no reference model is loaded)
    "scale_rewards": "group",  # advantages: (r - group mean) / group std
    "temperature": 1.0,
    "top_p": 1.0,
    "top_k": 0,
    "max_completion_length": 32000,
    "mask_truncated_completions": False,  # truncated completions are trained on, with reward 0
    "gradient_checkpointing": True,
    "save_steps": 20,
    "seed": 0,
    "report_to": "none",  # the JSONL on stdout; --report-to adds trackers
    "eval_steps": 20,  # with --eval-data: every 20 steps, 4 samples a question, as their script
    "num_generations_eval": 4,
}

# GRPOConfig fields ltrl computes from its own settings: given directly, they would fight them.
DERIVED = {
    "per_device_train_batch_size": "prompts_per_step and per_device_batch_size",
    "gradient_accumulation_steps": "prompts_per_step and per_device_batch_size",
    "vllm_importance_sampling_correction": "importance_sampling",
    "vllm_importance_sampling_mode": "importance_sampling",
    "vllm_importance_sampling_clip_min": "importance_sampling_min",
    "vllm_importance_sampling_clip_max": "importance_sampling_max",
}


@dataclass
class GrpoSettings:
    """ltrl's own settings of a run, and `trl`: the GRPOConfig fields (the paper's, then the
    ones given). Three names are also GRPOConfig fields and reach it through ltrl: `output_dir`,
    `bf16` (ltrl adds `auto`) and `use_cpu` (the launcher decides)."""

    # What to train on, and where to write.
    model: str | None = None  # a local folder or a model name the hub cache already holds
    data: str | None = None  # JSONL, parquet (ltrl export), a save_to_disk folder or a hub dataset
    eval_data: str | None = None  # the same kinds; evaluated every eval_steps steps (TRL's evaluation loop)
    eval_benchmark: str | None = None  # eval_data is this `ltrl eval` benchmark's files, graded as it grades
    eval_temperature: float = 0.6  # evaluation sampling: the authors' (and `ltrl eval`'s defaults)
    eval_top_p: float = 0.95
    eval_top_k: int = 20
    output_dir: str | None = None
    logging_dir: str | None = None  # trackers' files (TensorBoard events, W&B's offline runs); None: theirs

    # The batch, by prompts: one step is prompts_per_step x num_generations completions.
    prompts_per_step: int = 16  # prompts in one optimizer step (all ranks together)
    per_device_batch_size: int = 8  # completions in one forward/backward on one device
    max_prompt_length: int = 131072  # longer prompts are dropped (truncating would cut off the question)
    max_total_length: int = 160000  # prompt + completion: a completion is cut where the two reach it
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
    bf16: str = "auto"  # auto: on a GPU that supports it; "true" | "false" to force
    use_cpu: bool = False  # set by the launcher when no GPU is visible
    attn_implementation: str | None = None  # e.g. flash_attention_2 / sdpa; None: transformers' choice
    resume: bool = False

    trl: dict[str, Any] = field(default_factory=lambda: dict(PAPER))

    def to_dict(self) -> dict[str, Any]:
        """One flat mapping, ltrl's keys first, then TRL's: what a config file holds."""
        own = dataclasses.asdict(self)
        trl = own.pop("trl")
        return {**own, **trl}


KEYS = {f.name: f for f in fields(GrpoSettings) if f.name != "trl"}
CHOICES = {
    "reward_mode": ("positive-only", "pos-neg", "neg-only", "longrlvr"),
    "rubric_on": ("content", "reasoning", "both"),
    "judge": ("exact", "contains", "llm"),
    "on_judge_error": ("exclude", "zero"),
    "judge_parse": ("strict", "tolerant"),
    "judge_no_think": ("chat-template", "thinking-disabled", "none"),
    "bf16": ("auto", "true", "false"),
    "importance_sampling": ("token_mask", "token_truncate", "sequence_mask", "sequence_truncate", "none"),
}


def _coerce(key: str, value: Any) -> Any:
    """Turn a YAML or command-line value into the type ltrl's setting declares."""
    kind = str(KEYS[key].type)
    if value is None:
        return None
    if key == "bf16" and isinstance(value, bool):  # YAML reads `bf16: true` as a bool
        return str(value).lower()
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
    return str(value)


def _number(key: str, value: Any, kind: type) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"setting {key}: expected a number, got {value!r}") from None
    if kind is int and isinstance(value, float) and value != number:
        raise UsageError(f"setting {key}: expected a whole number, got {value!r}")
    return number


# ---------------------------------------------------------------- TRL's fields


class _TrlParser:
    """transformers' HfArgumentParser over GRPOConfig, used one field at a time: a string
    value is converted (and refused) exactly as `trl grpo --key value` would be."""

    def __init__(self) -> None:
        from transformers import HfArgumentParser
        from trl import GRPOConfig

        class Parser(HfArgumentParser):
            def error(self, message: str):  # argparse would print usage and exit
                raise UsageError(message)

        self.parser = Parser(GRPOConfig)
        # A bool field also has a --no_<name> action (no value): the value is the field's own.
        self.actions = {a.dest: a for a in self.parser._actions
                        if a.option_strings and not a.option_strings[0].startswith("--no_") and a.dest != "help"}
        self.fields = {f.name for f in fields(GRPOConfig)}
        self.defaults = {f.name: f.default for f in fields(GRPOConfig) if f.default is not dataclasses.MISSING}

    def convert(self, key: str, value: Any) -> Any:
        if key == "report_to" and isinstance(value, str):  # several trackers: wandb,tensorboard
            return [v.strip() for v in value.split(",") if v.strip()]
        action = self.actions.get(key)
        if not isinstance(value, str) or action is None or action.type in (None, str):
            return value  # YAML already typed it; dict and list fields are given in YAML
        tokens = value.replace(",", " ").split() if action.nargs == "+" else [value]
        try:
            namespace, _ = self.parser.parse_known_args([action.option_strings[0], *tokens])
        except UsageError as exc:  # "argument --top_k/--top-k: invalid int value: 'x'": name the key once
            raise UsageError(f"setting {key}: {exc.message.split(': ', 1)[-1]}") from None
        return getattr(namespace, key)


@lru_cache(maxsize=1)
def trl_parser() -> _TrlParser:
    check_installed("trl", "train", "ltrl grpo")
    return _TrlParser()


def trl_value(s: GrpoSettings, key: str) -> Any:
    """A GRPOConfig field as the run has it: given, the paper's, or TRL's default."""
    return s.trl[key] if key in s.trl else trl_parser().defaults.get(key)


def _unknown(key: str) -> UsageError:
    known = list(KEYS) + sorted(trl_parser().fields)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return UsageError(f"unknown setting {key!r}: neither an ltrl grpo setting (docs/grpo.md) nor a field of "
                      f"trl.GRPOConfig{hint}")


def merge(base: GrpoSettings, *layers: Mapping[str, Any] | None) -> GrpoSettings:
    """Apply layers of overrides in order; a None value leaves the setting as it was.

    A key is ltrl's own, or a GRPOConfig field (converted as TRL's parser converts it);
    anything else, and a bad value, raise UsageError naming the key.
    """
    values = {f.name: getattr(base, f.name) for f in fields(base) if f.name != "trl"}
    trl = dict(base.trl)
    for layer in layers:
        for key, value in (layer or {}).items():
            key = key.replace("-", "_")
            if key in DERIVED:
                raise UsageError(f"setting {key}: ltrl sets it from {DERIVED[key]}; set those instead")
            if value is None:
                continue
            if key in KEYS:
                values[key] = _coerce(key, value)
            elif key in trl_parser().fields:
                trl[key] = trl_parser().convert(key, value)
            else:
                raise _unknown(key)
    settings = GrpoSettings(**values, trl=trl)
    validate(settings)
    return settings


def validate(s: GrpoSettings) -> None:
    """Reject values of ltrl's settings that cannot make a run (exit 2 before any process
    is started); TRL's fields are checked by building the GRPOConfig (`check_trl`)."""
    for key, allowed in CHOICES.items():
        if getattr(s, key) not in allowed:
            raise UsageError(f"setting {key}: expected one of {', '.join(allowed)}, got {getattr(s, key)!r}")
    for key in ("prompts_per_step", "per_device_batch_size", "max_prompt_length", "max_total_length",
                "judge_concurrency"):
        if getattr(s, key) < 1:
            raise UsageError(f"setting {key}: must be at least 1, got {getattr(s, key)}")
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
    if uses_vllm_server(s) and not s.trl.get("vllm_server_base_url"):
        raise UsageError("--vllm-mode server needs --vllm-server-url (where the vLLM server listens)")


def uses_vllm(s: GrpoSettings) -> bool:
    # Read without TRL's defaults (no vLLM, colocated): verl's reward functions validate
    # settings too, where TRL may not be installed.
    return bool(s.trl.get("use_vllm"))


def uses_vllm_server(s: GrpoSettings) -> bool:
    return uses_vllm(s) and s.trl.get("vllm_mode") == "server"


def trackers(s: GrpoSettings) -> list[str]:
    """The trackers report_to names ("none": none).

    >>> trackers(GrpoSettings(trl={"report_to": ["wandb", "tensorboard"]})), trackers(GrpoSettings())
    (['wandb', 'tensorboard'], [])
    """
    value = s.trl.get("report_to") or []
    names = [value] if isinstance(value, str) else list(value)
    return [] if names in (["none"], []) else names


def grpo_config(s: GrpoSettings, world_size: int, on_gpu: bool):
    """The trl.GRPOConfig of a run: ltrl's computed fields, the paper's values, the user's.

    TRL's own checks run here (its __post_init__): the launcher calls this once before
    any process starts, so a value TRL refuses is one usage error, exit 2.
    """
    import torch
    from trl import GRPOConfig

    per_device, accumulation = batch_layout(s, world_size)
    bf16 = s.bf16 == "true" or (s.bf16 == "auto" and on_gpu and torch.cuda.is_bf16_supported())
    init_kwargs = {"dtype": "bfloat16" if bf16 else "float32"}  # a string: the args are saved as JSON too
    if s.attn_implementation:
        init_kwargs["attn_implementation"] = s.attn_implementation
    trl = dict(s.trl)
    user_init = trl.pop("model_init_kwargs", None)
    if isinstance(user_init, str):
        user_init = _json_mapping("model_init_kwargs", user_init)
    computed = {
        # Bookkeeping: log every step (the JSONL), save every save_steps; rank 0 speaks for all.
        "logging_steps": 1,
        "save_strategy": "steps",
        "log_level_replica": "error",
        "disable_tqdm": not _stderr_is_terminal(),
        # Non-reentrant checkpointing works with LoRA (frozen inputs) and with DDP.
        "gradient_checkpointing_kwargs": {"use_reentrant": False},
        "ddp_find_unused_parameters": False,  # every weight (or LoRA adapter) takes part in each forward
        # Without a bound, vLLM sizes its cache for the model's whole window (256K for Qwen3-2507)
        # and may refuse to start in its share of the GPU; a rollout never needs more than this.
        "vllm_max_model_length": min(s.max_prompt_length + trl["max_completion_length"], s.max_total_length),
        "eval_strategy": "steps" if s.eval_data else "no",
    }
    for key, value in computed.items():
        if trl.get(key) is None:
            trl[key] = value
    try:
        with warnings.catch_warnings():
            # transformers 5 renames gradient_checkpointing and TRL still uses the old name:
            # nothing for the user to do about it.
            warnings.simplefilter("ignore", FutureWarning)
            return GRPOConfig(
                **trl,
                output_dir=s.output_dir,
                use_cpu=not on_gpu,
                bf16=bf16,
                model_init_kwargs={**init_kwargs, **(user_init or {})},
                # One optimizer step = prompts_per_step x num_generations completions in all, in
                # micro-batches of per_device_batch_size on each rank; one generation per step.
                per_device_train_batch_size=per_device,
                gradient_accumulation_steps=accumulation,
                # Rollout / training mismatch (vLLM rollouts only): the train script's token-level
                # weights, zeroed outside [0.5, 2.0].
                vllm_importance_sampling_correction=s.importance_sampling != "none",
                vllm_importance_sampling_mode=s.importance_sampling if s.importance_sampling != "none" else "token_mask",
                vllm_importance_sampling_clip_min=s.importance_sampling_min,
                vllm_importance_sampling_clip_max=s.importance_sampling_max,
            )
    except (ValueError, TypeError) as exc:
        raise UsageError(f"trl.GRPOConfig: {str(exc).strip().splitlines()[0]}") from None


def _json_mapping(key: str, text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise UsageError(f"setting {key}: expected a JSON object, got {text!r}")
    return value


def _stderr_is_terminal() -> bool:
    import sys

    return sys.stderr.isatty()


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
    """Write the resolved settings (ltrl's, then TRL's), with an optional comment header."""
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
    >>> batch_layout(GrpoSettings(prompts_per_step=1, per_device_batch_size=2, trl={"num_generations": 4}), 2)
    (2, 1)
    """
    generations = s.trl["num_generations"]
    completions = s.prompts_per_step * generations
    per_device = min(s.per_device_batch_size, max(completions // world_size, 1))
    if completions % (world_size * per_device):
        raise UsageError(
            f"{s.prompts_per_step} prompts x {generations} generations = {completions} completions per step "
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
