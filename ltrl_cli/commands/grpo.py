"""`ltrl grpo`: GRPO training with the method's composite reward, launched with torchrun."""

from __future__ import annotations

import os
import shlex
import sys
from typing import Annotated, Optional

import typer

from ltrl_cli.app import Quiet, Verbose, app, command

Opt = typer.Option


@app.command("grpo")
def grpo_command(
    data: Annotated[Optional[str], Opt("--data", help="Training data: JSONL (ltrl assemble), parquet (ltrl export --format trl|verl), a save_to_disk folder or a hub dataset name.")] = None,
    model: Annotated[Optional[str], Opt("--model", help="Model folder or name to start from.")] = None,
    output_dir: Annotated[Optional[str], Opt("--output-dir", "-o", help="Run folder: checkpoints, settings.")] = None,
    config: Annotated[Optional[str], Opt("--config", help="YAML settings (see examples/configs/).")] = None,
    eval_data: Annotated[Optional[str], Opt("--eval-data", help="Evaluate on this data (same kinds as --data) during training.")] = None,
    eval_benchmark: Annotated[Optional[str], Opt("--eval-benchmark", help="--eval-data is this ltrl eval benchmark's files (aa-lcr, mrcr, frames, longbench-v2, longreason), graded as ltrl eval grades.")] = None,
    eval_every: Annotated[Optional[int], Opt("--eval-every", help="Evaluate every N steps (TRL's eval_steps) [20].")] = None,
    report_to: Annotated[Optional[list[str]], Opt("--report-to", help="Tracker: wandb | tensorboard | trackio | none (repeat, or a comma list) [none].")] = None,
    run_name: Annotated[Optional[str], Opt("--run-name", help="The run's name in the trackers.")] = None,
    logging_dir: Annotated[Optional[str], Opt("--logging-dir", help="Where trackers write (TensorBoard events, W&B offline runs).")] = None,
    max_steps: Annotated[Optional[int], Opt("--max-steps", help="Optimizer steps [paper: 200].")] = None,
    num_generations: Annotated[Optional[int], Opt("--num-generations", help="Group size G [8].")] = None,
    prompts_per_step: Annotated[Optional[int], Opt("--prompts-per-step", help="Prompts per step, all ranks [16].")] = None,
    per_device_batch_size: Annotated[Optional[int], Opt("--per-device-batch-size", help="Completions per micro-batch [8].")] = None,
    learning_rate: Annotated[Optional[float], Opt("--learning-rate", help="Constant learning rate [2e-6].")] = None,
    temperature: Annotated[Optional[float], Opt("--temperature", help="Rollout temperature [1.0].")] = None,
    max_prompt_length: Annotated[Optional[int], Opt("--max-prompt-length", help="Longer prompts are dropped [131072].")] = None,
    max_completion_length: Annotated[Optional[int], Opt("--max-completion-length", help="Generation limit [32000].")] = None,
    max_total_length: Annotated[Optional[int], Opt("--max-total-length", help="Prompt + completion limit [160000].")] = None,
    weight_decay: Annotated[Optional[float], Opt("--weight-decay", help="AdamW weight decay [0.1].")] = None,
    punish_ill_formed: Annotated[Optional[bool], Opt("--punish-ill-formed/--no-punish-ill-formed", help="Ill-formed or truncated completions score 0 [on].")] = None,
    importance_sampling: Annotated[Optional[str], Opt("--importance-sampling", help="vLLM rollouts: token_mask | token_truncate | sequence_mask | sequence_truncate | none [token_mask].")] = None,
    reward_mode: Annotated[Optional[str], Opt("--reward-mode", help="positive-only | pos-neg | neg-only | longrlvr.")] = None,
    alpha: Annotated[Optional[float], Opt("--alpha", help="Rubric weight [0.3].")] = None,
    rubric_on: Annotated[Optional[str], Opt("--rubric-on", help="content | reasoning | both [content].")] = None,
    judge: Annotated[Optional[str], Opt("--judge", help="Outcome judge: exact | contains | llm [exact].")] = None,
    judge_base_url: Annotated[Optional[str], Opt("--judge-base-url", help="OpenAI-compatible endpoint of the LLM judge.")] = None,
    judge_model: Annotated[Optional[str], Opt("--judge-model", help="Model name the judge endpoint serves.")] = None,
    lora_r: Annotated[Optional[int], Opt("--lora-r", help="LoRA rank; 0 trains all weights [0].")] = None,
    lora_alpha: Annotated[Optional[int], Opt("--lora-alpha", help="LoRA alpha [64].")] = None,
    lora_target_modules: Annotated[Optional[str], Opt("--lora-target-modules", help="Comma list, or all-linear.")] = None,
    gradient_checkpointing: Annotated[Optional[bool], Opt("--gradient-checkpointing/--no-gradient-checkpointing", help="[on]")] = None,
    use_vllm: Annotated[Optional[bool], Opt("--vllm/--no-vllm", help="vLLM rollouts (needs the vllm extra).")] = None,
    vllm_mode: Annotated[Optional[str], Opt("--vllm-mode", help="colocate | server [colocate].")] = None,
    vllm_server_url: Annotated[Optional[str], Opt("--vllm-server-url", help="Where the vLLM server listens (--vllm-mode server).")] = None,
    save_steps: Annotated[Optional[int], Opt("--save-steps", help="Checkpoint every N steps [20].")] = None,
    seed: Annotated[Optional[int], Opt("--seed", help="Random seed [0].")] = None,
    cpu: Annotated[bool, Opt("--cpu", help="Train on CPU even when GPUs are visible.")] = False,
    resume: Annotated[bool, Opt("--resume", help="Continue from the latest OUTDIR/checkpoint-<step>.")] = False,
    set_: Annotated[Optional[list[str]], Opt("--set", metavar="KEY=VALUE", help="Any other setting: ltrl's (docs/grpo.md) or any trl.GRPOConfig field.")] = None,
    nproc_per_node: Annotated[str, Opt("--nproc-per-node", help="Processes per node: auto = one per GPU, 1 on CPU.")] = "auto",
    nnodes: Annotated[str, Opt("--nnodes", help="Number of nodes (torchrun).")] = "1",
    node_rank: Annotated[Optional[int], Opt("--node-rank", help="This node's rank (torchrun).")] = None,
    rdzv_endpoint: Annotated[Optional[str], Opt("--rdzv-endpoint", help="HOST:PORT rendezvous, multi-node.")] = None,
    dry_run: Annotated[bool, Opt("--dry-run", help="Write the settings, print the torchrun command, start nothing.")] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Train a model with GRPO and the method's composite reward (torchrun + TRL).

    Reads: --data records with `input_messages`, `label`, `metadata.rubrics` (or ltrl
    export's parquet layouts). Writes: one JSONL metrics record per step on stdout (rank
    0); checkpoints in OUTDIR/checkpoint-<step> with the settings used; with --report-to,
    the same metrics (and --eval-data's scores) to TensorBoard, W&B or trackio. Exit
    code: torchrun's.

    Any trl.GRPOConfig / TrainingArguments field can be set with --set KEY=VALUE or in the
    YAML, checked by TRL's dataclass (an unknown key or bad value: exit 2).

    Defaults are the paper's and its train script's: G=8, 16 prompts/step, lr 2e-6
    constant, AdamW decay 0.1 betas 0.9/0.98, clip 0.2/0.28, token-level loss, no KL,
    temperature 1.0, 32,000 new tokens within 160,000 in all, ill-formed completions
    scored 0, token-masked importance sampling 0.5-2.0 with vLLM, positive-only rubric
    reward alpha 0.3. --dry-run writes every setting to OUTDIR/ltrl-grpo.yaml.

    \b
    Example:
      ltrl grpo --data train.jsonl --model Qwen/Qwen3-4B-Thinking-2507 -o runs/a --lora-r 64
      ltrl grpo -o runs/a --resume --max-steps 400 | jq -c '{step, reward}'
      ltrl grpo --data train.parquet --model Qwen/Qwen3-4B-Thinking-2507 -o runs/b --report-to wandb \
        --run-name b --eval-data dev.jsonl --eval-every 20 --set lr_scheduler_type=cosine
    """
    from ltrl_cli import console
    from ltrl_cli.grpo.config import latest_checkpoint, parse_assignments, trl_value, uses_vllm_server
    from ltrl_cli.grpo.launch import (
        Topology,
        check_vllm_server,
        prepare,
        resolve_settings,
        subprocess_launch,
    )

    flags = {
        "data": data, "model": model, "output_dir": output_dir, "max_steps": max_steps,
        "eval_data": eval_data, "eval_benchmark": eval_benchmark, "eval_steps": eval_every, "run_name": run_name, "logging_dir": logging_dir,
        "report_to": ",".join(report_to) if report_to else None,
        "num_generations": num_generations, "prompts_per_step": prompts_per_step,
        "per_device_batch_size": per_device_batch_size, "learning_rate": learning_rate,
        "temperature": temperature, "max_prompt_length": max_prompt_length,
        "max_completion_length": max_completion_length, "max_total_length": max_total_length,
        "weight_decay": weight_decay, "punish_ill_formed": punish_ill_formed,
        "importance_sampling": importance_sampling, "reward_mode": reward_mode, "alpha": alpha,
        "rubric_on": rubric_on, "judge": judge, "judge_base_url": judge_base_url, "judge_model": judge_model,
        "lora_r": lora_r, "lora_alpha": lora_alpha, "lora_target_modules": lora_target_modules,
        "gradient_checkpointing": gradient_checkpointing, "use_vllm": use_vllm, "vllm_mode": vllm_mode,
        "vllm_server_base_url": vllm_server_url, "save_steps": save_steps, "seed": seed,
        "use_cpu": True if cpu else None, "resume": True if resume else None,
    }
    topology = Topology(nproc_per_node=nproc_per_node, nnodes=nnodes, node_rank=node_rank,
                        rdzv_endpoint=rdzv_endpoint)
    code = 0
    with command("grpo", quiet=quiet, verbose=verbose, summary=False):
        settings = resolve_settings(flags, config, parse_assignments(set_))
        if not settings.resume and latest_checkpoint(settings.output_dir):
            console.warn(f"grpo: {settings.output_dir} already holds checkpoints; starting over "
                         "(add --resume to continue from the latest)")
        argv = prepare(settings, topology, command_line=shlex.join(["ltrl", *sys.argv[1:]]))
        console.info("grpo: " + shlex.join(argv))
        if not dry_run:
            if uses_vllm_server(settings):
                check_vllm_server(trl_value(settings, "vllm_server_base_url"), trl_value(settings, "vllm_server_timeout"))
            if quiet:
                os.environ["LTRL_QUIET"] = "1"  # the ranks inherit it
            code = subprocess_launch(argv)  # torchrun's exit code is ours
    if code:
        console.warn(f"ltrl grpo: torchrun exited with code {code}")
        raise typer.Exit(code)
