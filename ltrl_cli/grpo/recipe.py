"""The GRPO training recipe that `ltrl grpo` runs on every rank under torchrun.

You normally start it through `ltrl grpo`, which resolves the settings and writes them to
OUTDIR/ltrl-grpo.yaml. To run it by hand (same thing):

    # one node, one process per GPU
    torchrun --standalone --nproc-per-node 8 -m ltrl_cli.grpo.recipe --config runs/a/ltrl-grpo.yaml
    # two nodes: the same line on both, with the rendezvous of node 0
    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint node0:29500 \\
        -m ltrl_cli.grpo.recipe --config runs/a/ltrl-grpo.yaml

What one optimizer step does (TRL's GRPOTrainer, with ltrl's reward step):
  1. take `prompts_per_step` prompts (all ranks together) and sample `num_generations`
     completions for each at temperature 1.0: the groups;
  2. judge each completion on its own rank, gather everything, and shape the reward of
     each whole group (trainer.py): outcome, rubric recall / group max, combination;
  3. advantage = (reward - group mean) / group std; a completion without a verdict has
     advantage 0 and stays out of the group mean;
  4. the clipped policy-gradient loss (clip 0.2 / 0.28), averaged over all the tokens of
     the batch (token-level), no KL term; one optimizer step at a constant learning rate.

Rank 0 writes one JSONL record per step to stdout; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

from ltrl_cli import console
from ltrl_cli.errors import BackendError, LtrlError, UsageError
from ltrl_cli.grpo.config import (GrpoSettings, grpo_config, latest_checkpoint, load, require_vllm, trackers,
                                  trl_value, uses_vllm)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ltrl_cli.grpo.recipe", description="GRPO training (run by torchrun)")
    parser.add_argument("--config", required=True, help="the resolved settings (ltrl grpo writes OUTDIR/ltrl-grpo.yaml)")
    args = parser.parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    console.configure(quiet=os.environ.get("LTRL_QUIET") == "1")  # `ltrl grpo -q` reaches the ranks this way
    try:
        return train(load(args.config), rank)
    except LtrlError as exc:
        print(f"ltrl grpo: [rank {rank}] {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def train(s: GrpoSettings, rank: int) -> int:
    """Set up and run one training job on this rank; returns the exit code."""
    _tracker_dirs(s)  # before anything imports a tracker: trackio reads TRACKIO_DIR at import
    # -------------------------------------------------------------------- stdout
    # stdout carries rank 0's metric records only. Libraries print (transformers' log
    # lines, progress bars, C extensions), so fd 1 itself is pointed at stderr, and rank 0
    # keeps a private handle on the real stdout for its records.
    from ltrl_cli.io import records_out

    if rank != 0:
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        sys.stdout = sys.stderr
        return _train(s, rank, out=None)
    with records_out() as out:
        return _train(s, rank, out=out)


def _train(s: GrpoSettings, rank: int, out) -> int:
    import warnings

    # transformers 5 renames gradient_checkpointing, and TRL still uses the old name: one
    # FutureWarning per call, several per step, with nothing for the user to do about it.
    warnings.filterwarnings("ignore", category=FutureWarning)
    import torch
    import transformers
    from transformers import AutoTokenizer

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    transformers.logging.set_verbosity_warning() if rank == 0 else transformers.logging.set_verbosity_error()
    if rank != 0 or not sys.stderr.isatty():  # bars are for a person watching rank 0's terminal
        transformers.utils.logging.disable_progress_bar()
    on_gpu = torch.cuda.is_available() and not s.use_cpu

    # -------------------------------------------------------------------- data
    # The tokenizer first: it decides which prompts fit in max_prompt_length.
    try:
        tokenizer = AutoTokenizer.from_pretrained(s.model)
    except (OSError, ValueError) as exc:  # not a folder, not in the hub cache, no tokenizer files
        raise BackendError(f"cannot load the tokenizer of --model {s.model}: {str(exc).splitlines()[0]}") from None
    if tokenizer.pad_token is None:  # batched generation pads on the left
        tokenizer.pad_token = tokenizer.eos_token
    dataset = _dataset(s, s.data, tokenizer, rank)
    eval_dataset = _dataset(s, s.eval_data, tokenizer, rank, benchmark=s.eval_benchmark) if s.eval_data else None

    # -------------------------------------------------------------------- trainer
    from ltrl_cli.grpo.trainer import EvalSummary, JsonlMetrics, LtrlGRPOTrainer, LtrlReward, SaveSettings

    if uses_vllm(s):
        require_vllm()
    trainer = LtrlGRPOTrainer(
        model=s.model,
        processing_class=tokenizer,
        args=grpo_config(s, world_size, on_gpu),
        train_dataset=dataset,
        eval_dataset=eval_dataset,
        peft_config=_lora(s),
        ltrl_reward=LtrlReward(s, build_judge(s), tokenizer),
        reward_log_dir=Path(s.output_dir) / "rewards" if s.log_rewards else None,
        benchmark=_benchmark_grader(s),
        callbacks=[SaveSettings(s), EvalSummary()] + ([JsonlMetrics(out, world_size)] if out is not None else []),
    )
    _quiet_progress(trainer)

    # -------------------------------------------------------------------- train
    resume = _latest_checkpoint(s.output_dir) if s.resume else None
    if rank == 0:
        rollouts = f"vLLM ({trl_value(s, 'vllm_mode')})" if uses_vllm(s) else "transformers generate"
        evaluation = (f", evaluating {len(eval_dataset)} prompts every {s.trl['eval_steps']:g} steps"
                      if eval_dataset is not None else "")
        console.info(f"grpo: {len(dataset)} prompts, {world_size} process(es) on {'GPU' if on_gpu else 'CPU'}, "
                     f"{s.trl['max_steps']} steps, rollouts by {rollouts}{evaluation}"
                     + (f", resuming from {resume}" if resume else ""))
    # The loop saves every save_steps and at its last step (transformers' save strategy
    # "steps" also saves when max_steps is reached).
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    if rank == 0:  # the trackers log from rank 0 only
        _finish_trackers(s)
        final = Path(s.output_dir) / f"checkpoint-{trainer.state.global_step}"
        console.info(f"grpo: done at step {trainer.state.global_step}; checkpoint in {final}")
    return 0


def _dataset(s: GrpoSettings, source: str, tokenizer, rank: int, benchmark: str | None = None):
    """The rows of `source` (training or evaluation data; with `benchmark`, that benchmark's
    files), with prompts longer than max_prompt_length dropped (and counted)."""
    from datasets import Dataset

    from ltrl_cli.grpo.data import load_rows, prompt_lengths, within_length

    rows = load_rows(source, benchmark=benchmark)
    kept = within_length(rows, prompt_lengths(rows, tokenizer), s.max_prompt_length)
    if rank == 0 and len(kept) < len(rows):
        console.warn(f"grpo: {source}: dropped {len(rows) - len(kept)} of {len(rows)} prompts longer than "
                     f"max_prompt_length {s.max_prompt_length} tokens")
    if not kept:
        raise UsageError(f"no prompt in {source} fits in max_prompt_length {s.max_prompt_length}")
    return Dataset.from_list(kept)


def _benchmark_grader(s: GrpoSettings):
    """With --eval-benchmark, evaluation is graded by that benchmark's own grader."""
    if not (s.eval_data and s.eval_benchmark):
        return None
    from ltrl_cli.grpo.benchmark import BenchmarkGrader

    return BenchmarkGrader(s)


def _tracker_dirs(s: GrpoSettings) -> None:
    """logging_dir is where the trackers write; transformers 5 reads it from their own
    variables (its TrainingArguments has no logging_dir any more)."""
    if not s.logging_dir:
        return
    folder = str(Path(s.logging_dir).expanduser())
    os.environ["TENSORBOARD_LOGGING_DIR"] = folder  # the event files go here, not OUTDIR/runs/<date>
    os.environ["WANDB_DIR"] = folder  # W&B's run folders (offline runs too): FOLDER/wandb/
    os.environ["TRACKIO_DIR"] = folder  # trackio's local database


def _finish_trackers(s: GrpoSettings) -> None:
    """Close the trackers' runs: the ranks leave through os._exit (run_and_exit), so the
    exit hooks by which W&B and trackio flush their last rows would never run."""
    for name in ("wandb", "trackio"):
        module = sys.modules.get(name)
        if name in trackers(s) and module is not None and _open_run(module) is not None:
            module.finish()


def _open_run(module):
    """The tracker's run still open, or None: transformers' callback may have finished it
    already at the end of training, and trackio's finish() raises on a finished run."""
    if hasattr(module, "context_vars"):  # trackio keeps its current run in a context variable
        return module.context_vars.current_run.get()
    return getattr(module, "run", None)  # wandb.run


def _lora(s: GrpoSettings):
    """A peft LoRA config when lora_r > 0; None trains every weight."""
    if s.lora_r <= 0:
        return None
    from peft import LoraConfig

    targets = s.lora_target_modules
    return LoraConfig(
        r=s.lora_r,
        lora_alpha=s.lora_alpha,
        lora_dropout=s.lora_dropout,
        target_modules=targets[0] if targets == ["all-linear"] else targets,
        task_type="CAUSAL_LM",
    )


def build_judge(s: GrpoSettings):
    """The outcome judge: a rule (exact, contains) or the LLM judge at --judge-base-url, built
    by the one judge builder every command uses (ltrl_cli.reward.builder)."""
    from ltrl_cli.llm.factory import LLMOptions
    from ltrl_cli.reward.builder import JudgeOptions
    from ltrl_cli.reward.builder import build_judge as build

    # No response cache: completions are sampled and almost never repeat, and eight ranks
    # writing one sqlite file would only wait on each other's locks.
    options = LLMOptions(backend="openai", concurrency=s.judge_concurrency, no_cache=True)
    prompt = Path(s.judge_prompt_file).expanduser() if s.judge_prompt_file else None
    return build(JudgeOptions(name=s.judge, base_url=s.judge_base_url, model=s.judge_model,
                              api_key_env=s.judge_api_key_env, parser=s.judge_parse, no_think=s.judge_no_think,
                              prompt_file=prompt), options)


def _latest_checkpoint(output_dir: str | None) -> Path | None:
    """The highest-numbered OUTDIR/checkpoint-<step> folder."""
    found = latest_checkpoint(output_dir)
    if found is None:
        raise UsageError(f"--resume: no checkpoint-<step> folder in {output_dir}")
    return found


def _quiet_progress(trainer) -> None:
    # Without a terminal, transformers would print each log dict as a line of text:
    # the JSONL record on stdout already says it all.
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)


def run_and_exit(argv: list[str] | None = None) -> NoReturn:
    """Run `main` and leave with its code through os._exit, on every rank.

    After a 2-process gloo run, a normal interpreter exit can abort a finished rank
    (about 1 run in 20): gloo's worker thread frees the last all-gather's tensors while
    Python finalises, and `std::terminate` ends the process, so torchrun reports failure
    after a run that wrote its checkpoint. `destroy_process_group()` can deadlock the same
    way. So nothing runs after training but what must: the checkpoint and the reward logs
    are closed by then (written with `with`), stdout's records were flushed when
    records_out closed, and here the logging handlers and both streams are flushed before
    the process ends without finalising the interpreter.
    """
    import logging
    import traceback

    code = 1
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors (it printed the message) and --help
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except BaseException:  # the traceback Python would have printed at exit
        traceback.print_exc()
        code = 1
    finally:
        try:
            logging.shutdown()
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):  # a reader that left, a stream already closed
                    pass
            os._exit(code)


if __name__ == "__main__":
    run_and_exit()
