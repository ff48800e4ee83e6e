"""TRL's GRPOTrainer with the method's reward, shaped after the cross-rank gather.

TRL 1.16 calls each reward function on the calling rank's slice of the generation batch,
then gathers the per-function rewards and normalises advantages per group. A group of G
completions can straddle ranks, so a group-level rule (the rubric's group-max
normalisation) cannot live in a reward function. `LtrlGRPOTrainer._calculate_rewards`
therefore judges locally, gathers the *inputs* of the reward (texts, verdicts, rubrics),
and shapes whole groups on every rank, which all reach the same numbers.

An excluded completion (no verdict) gets a NaN reward: TRL leaves NaN rows out of the
group baseline and gives them zero advantage, so they do not move the policy.

Evaluation (`eval_data`, TRL's evaluation loop every `eval_steps`) goes through the same
step with the model in eval mode: completions are sampled with the evaluation settings
(`_sampling`), every one is judged (none is punished as ill-formed) and the reward is the
outcome alone, as in the authors' evaluation; TRL logs the metrics with an `eval_` prefix,
to the trackers as well.

Two rules of the authors' train script live here too: in training, an ill-formed
completion scores 0 (`punish_ill_formed`, form.py), and a completion never runs past
`max_total_length` tokens of prompt + completion (`_generate_single_turn`).
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import torch
from accelerate.utils import gather_object
from transformers import TrainerCallback
from trl import GRPOTrainer

from ltrl_cli import console
from ltrl_cli.reward import rules as R
from ltrl_cli.grpo import form, shaping
from ltrl_cli.grpo.shaping import LtrlReward
from ltrl_cli.grpo.config import CONFIG_NAME, GrpoSettings, write_yaml
from ltrl_cli.io import dumps, silence

__all__ = ["EvalSummary", "JsonlMetrics", "LtrlGRPOTrainer", "LtrlReward", "SaveSettings"]


class LtrlGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose reward step is the method's, shaped over whole gathered groups."""

    def __init__(self, *args: Any, ltrl_reward: LtrlReward, reward_log_dir: Path | None = None,
                 benchmark: Any = None, **kwargs: Any):
        super().__init__(*args, reward_funcs=[ltrl_reward], **kwargs)
        self.ltrl_reward = ltrl_reward
        self.reward_log_dir = reward_log_dir
        self.benchmark = benchmark  # benchmark.BenchmarkGrader: evaluation graded as `ltrl eval` grades

    def _generate_single_turn(self, prompt_ids, *args, **kwargs):
        with self._sampling():
            completion_ids, logprobs = super()._generate_single_turn(prompt_ids, *args, **kwargs)
        total = self.ltrl_reward.settings.max_total_length
        completion_ids, logprobs, cut = form.cut_to_total(prompt_ids, completion_ids, logprobs, total)
        mode = "train" if self.model.training else "eval"
        cut = self.accelerator.gather(torch.tensor([cut], device=self.accelerator.device)).sum().item()
        self._metrics[mode]["ltrl/cut_at_total"].append(float(cut))  # all ranks: every rank generates here
        return completion_ids, logprobs

    @contextmanager
    def _sampling(self):
        """In evaluation, sample with the evaluation settings (the authors': temperature 0.6,
        top-p 0.95, top-k 20) instead of the rollouts'. TRL reads them at each call from its
        generation config (transformers) or its vLLM generator, so they are swapped for the call."""
        s = self.ltrl_reward.settings
        wanted = {"temperature": s.eval_temperature, "top_p": s.eval_top_p, "top_k": s.eval_top_k}
        targets = [t for t in (getattr(self, "generation_config", None), getattr(self, "vllm_generation", None))
                   if t is not None]
        if self.model.training:
            targets = []
        saved = [{key: getattr(t, key) for key in wanted} for t in targets]
        for target in targets:
            for key, value in wanted.items():
                setattr(target, key, value)
        try:
            yield
        finally:
            for target, values in zip(targets, saved):
                for key, value in values.items():
                    setattr(target, key, value)

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        s = self.ltrl_reward.settings
        stop_ids = {*self.eos_token_ids, self._tokenizer.pad_token_id}
        # Evaluation samples are always scored, as in the authors' trainer.
        punish = s.punish_ill_formed and self.model.training
        if self.benchmark is not None and not self.model.training:
            local = self.benchmark.local_scores(inputs, *self.ltrl_reward.decode(completion_ids_list, stop_ids))
        else:
            local = self.ltrl_reward.local_scores(inputs, completion_ids_list, stop_ids=stop_ids, punish=punish)
        # Rank order is batch order: TRL's sampler lays each group out consecutively
        # across ranks, and its own `gather(rewards)` relies on the same order.
        batch = gather_object(local)  # [B x G] Scored, identical on every rank
        group = self.num_generations if self.model.training else self.num_generations_eval
        # Evaluation scores the outcome alone, as the authors' evaluation does (eta 0); the
        # rubric recall is still measured and logged.
        alpha = s.alpha if self.model.training else 0.0
        shaped = shaping.shape_batch(batch, group, mode=s.reward_mode, alpha=alpha, rubric_on=s.rubric_on,
                                     thinking=s.thinking)
        self._record(batch, shaped, group)
        values = [math.nan if r.excluded else r.reward for r in shaped]
        return torch.tensor(values, dtype=torch.float32, device=self.accelerator.device).unsqueeze(1)  # [B x G, 1]

    def _record(self, batch: list[shaping.Scored], shaped: list[R.Reward], group: int) -> None:
        mode = "train" if self.model.training else "eval"
        for key, value in shaping.batch_metrics(shaped, batch).items():
            self._metrics[mode][f"ltrl/{key}"].append(math.nan if value is None else value)
        if self.reward_log_dir is not None and self.model.training:  # the log is of the training steps
            self.reward_log_dir.mkdir(parents=True, exist_ok=True)
            path = self.reward_log_dir / f"rank-{self.accelerator.process_index}.jsonl"
            with path.open("ab") as stream:
                # global_step counts finished steps; these rewards feed the next one.
                for row in shaping.reward_rows(self.state.global_step + 1, batch, shaped, group):
                    stream.write(dumps(row))


# ---------------------------------------------------------------- callbacks

# TRL's log keys -> the names in ltrl's per-step record.
METRIC_NAMES = {
    "loss": "loss",
    "grad_norm": "grad_norm",
    "learning_rate": "learning_rate",
    "entropy": "entropy",
    "rewards/ltrl/mean": "reward",
    "rewards/ltrl/std": "reward_std",
    "frac_reward_zero_std": "frac_reward_zero_std",
    "ltrl/outcome_accuracy": "outcome_accuracy",
    "ltrl/rubric_reward": "rubric_reward",
    "ltrl/rubric_reward_normalized": "rubric_reward_normalized",
    "ltrl/excluded": "excluded",
    "ltrl/excluded_fraction": "excluded_fraction",
    "ltrl/malformed_fraction": "malformed_fraction",
    "ltrl/truncated_fraction": "truncated_fraction",
    "ltrl/empty_content_fraction": "empty_content_fraction",
    "ltrl/judge_errors": "judge_errors",
    "ltrl/ill_formed": "ill_formed",
    "ltrl/ill_formed_fraction": "ill_formed_fraction",
    "ltrl/cut_at_total": "cut_at_total",
    "sampling/importance_sampling_ratio/min": "importance_sampling_ratio_min",
    "sampling/importance_sampling_ratio/mean": "importance_sampling_ratio_mean",
    "sampling/importance_sampling_ratio/max": "importance_sampling_ratio_max",
    "completions/mean_length": "completion_length_mean",
    "completions/min_length": "completion_length_min",
    "completions/max_length": "completion_length_max",
    "clip_ratio/region_mean": "clip_fraction",
    "clip_ratio/low_mean": "clip_fraction_low",
    "clip_ratio/high_mean": "clip_fraction_high",
    "num_tokens": "tokens",
}


class JsonlMetrics(TrainerCallback):
    """Rank 0 writes one JSONL record per optimizer step to `out` (the user's stdout)."""

    def __init__(self, out: IO[bytes], world_size: int):
        self.out = out
        self.world_size = world_size
        self.last_time = time.perf_counter()
        self.last_tokens = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.last_time = time.perf_counter()
        self.last_tokens = float(state.num_input_tokens_seen or 0)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return  # the end-of-training summary has no loss; it goes to stderr instead
        now = time.perf_counter()
        record = {"step": state.global_step, "epoch": logs.get("epoch")}
        record.update({name: _number(logs.get(key)) for key, name in METRIC_NAMES.items()})
        elapsed, tokens = now - self.last_time, float(logs.get("num_tokens") or 0.0)
        record["step_time_s"] = round(elapsed, 4)
        record["tokens_per_s"] = round((tokens - self.last_tokens) / elapsed, 2) if elapsed > 0 else None
        record["tokens_per_s_per_device"] = (
            round(record["tokens_per_s"] / self.world_size, 2) if record["tokens_per_s"] is not None else None
        )
        record["world_size"] = self.world_size
        self.last_time, self.last_tokens = now, tokens
        self.write(record)

    def write(self, record: dict) -> None:
        if self.out is None:
            return
        try:
            self.out.write(dumps(record))
            self.out.flush()  # one line per step, as it happens: `ltrl grpo ... | jq` follows along
        except BrokenPipeError:
            # The reader left (`| head -3`). A training run is worth more than its metric
            # stream: keep training and checkpointing, stop writing records.
            silence(self.out)
            self.out = None
            console.warn("ltrl grpo: stdout closed; training goes on without metric records")


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


class EvalSummary(TrainerCallback):
    """One stderr line per evaluation (its metrics go to the trackers through TRL's log)."""

    KEYS = ("eval_ltrl/outcome_accuracy", "eval_reward", "eval_ltrl/rubric_reward", "eval_completions/mean_length")

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not state.is_world_process_zero or not metrics:
            return
        parts = [f"{key.removeprefix('eval_')} {_number(metrics[key]):.4g}" for key in self.KEYS
                 if _number(metrics.get(key)) is not None]
        console.info(f"grpo: evaluation at step {state.global_step}: " + ", ".join(parts))


class SaveSettings(TrainerCallback):
    """Put the resolved settings into every checkpoint folder (what this checkpoint was trained with)."""

    def __init__(self, settings: GrpoSettings):
        self.settings = settings

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                write_yaml(self.settings, folder / CONFIG_NAME)
