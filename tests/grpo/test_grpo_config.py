"""Settings: the paper's defaults, then a YAML file, then --set, then flags."""

from __future__ import annotations

import pytest

from ltrl_cli.errors import UsageError
from ltrl_cli.grpo.config import (CONFIG_NAME, GrpoSettings, grpo_config, latest_checkpoint, load, merge,
                                  parse_assignments, read_yaml, write_yaml)
from ltrl_cli.grpo.launch import resolve_settings


def test_defaults_are_the_papers():
    s = GrpoSettings()
    t = s.trl
    assert (t["num_generations"], s.prompts_per_step, t["learning_rate"], t["lr_scheduler_type"]) == (8, 16, 2e-6, "constant")
    assert (t["epsilon"], t["epsilon_high"], t["beta"], t["temperature"]) == (0.2, 0.28, 0.0, 1.0)
    assert t["loss_type"] == "dapo"  # TRL's token-level loss over the whole batch
    assert (s.reward_mode, s.alpha, s.rubric_on) == ("positive-only", 0.3, "content")
    assert (s.max_prompt_length, t["max_completion_length"], s.max_total_length) == (131072, 32000, 160000)
    assert (t["weight_decay"], t["adam_beta1"], t["adam_beta2"], s.punish_ill_formed) == (0.1, 0.9, 0.98, True)
    assert (s.importance_sampling, s.importance_sampling_min, s.importance_sampling_max) == ("token_mask", 0.5, 2.0)
    assert (t["eval_steps"], t["num_generations_eval"], t["report_to"]) == (20, 4, "none")  # their evaluation


def test_layers_override_in_order(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("# a comment\nnum_generations: 4\nlearning_rate: 1.0e-5\nalpha: 0.1\nlora_target_modules: [q_proj, v_proj]\n")
    data = tmp_path / "d.jsonl"
    data.write_text("")
    flags = {"data": str(data), "model": "m", "output_dir": str(tmp_path / "out"), "alpha": 0.5, "max_steps": None}
    s = resolve_settings(flags, str(config), parse_assignments(["learning_rate=3e-6", "top-p=0.9"]))
    assert s.trl["num_generations"] == 4  # file over default
    assert s.trl["learning_rate"] == 3e-6  # --set over file
    assert s.alpha == 0.5  # flag over file
    assert s.trl["top_p"] == 0.9 and s.trl["max_steps"] == 200  # a None flag leaves the setting alone
    assert s.lora_target_modules == ["q_proj", "v_proj"]


def test_values_are_coerced_from_strings():
    s = merge(GrpoSettings(), {"gradient_checkpointing": "false", "save_steps": "5", "lora_target_modules": "a, b",
                               "bf16": True})
    assert s.trl["gradient_checkpointing"] is False and s.trl["save_steps"] == 5.0
    assert s.lora_target_modules == ["a", "b"] and s.bf16 == "true"


def test_any_trl_field_passes_through_converted_as_trls_parser_does(tmp_path):
    # fields ltrl never names, from --set strings and from YAML values
    s = merge(GrpoSettings(output_dir=str(tmp_path)),
              {"lr_scheduler_type": "cosine", "adam_epsilon": "1e-6", "eval_on_start": "yes", "reward_weights": "2.0",
               "report_to": "wandb,tensorboard", "run_name": "r1", "log_completions": True,
               "model_init_kwargs": '{"low_cpu_mem_usage": true}', "num_iterations": 2})
    assert (s.trl["adam_epsilon"], s.trl["eval_on_start"], s.trl["reward_weights"]) == (1e-6, True, [2.0])
    args = grpo_config(s, world_size=1, on_gpu=False)  # TRL's own dataclass, with its __post_init__
    assert (args.lr_scheduler_type, args.adam_epsilon, args.num_iterations) == ("cosine", 1e-6, 2)
    assert args.report_to == ["wandb", "tensorboard"] and args.run_name == "r1" and args.log_completions
    assert args.model_init_kwargs == {"dtype": "float32", "low_cpu_mem_usage": True}
    # written and read back: the same settings
    write_yaml(s, tmp_path / CONFIG_NAME)
    assert load(tmp_path / CONFIG_NAME) == s


@pytest.mark.parametrize("layer, message", [
    ({"num_generation": 4}, "unknown setting 'num_generation': neither an ltrl grpo setting (docs/grpo.md) nor a "
                            "field of trl.GRPOConfig; did you mean 'num_generations'?"),
    ({"lr_scheduler": "constant"}, "did you mean 'lr_scheduler_type'?"),
    ({"learning_rate": "fast"}, "setting learning_rate: invalid float value: 'fast'"),
    ({"top_k": "1.5"}, "setting top_k: invalid int value: '1.5'"),
    ({"eval_on_start": "maybe"}, "setting eval_on_start: Truthy value expected: got maybe"),
    ({"lr_scheduler_type": "sometimes"}, "setting lr_scheduler_type: invalid choice: 'sometimes'"),
    ({"per_device_train_batch_size": 2}, "ltrl sets it from prompts_per_step and per_device_batch_size"),
    ({"vllm_importance_sampling_mode": "token_mask"}, "ltrl sets it from importance_sampling"),
    ({"num_generations": 1}, "trl.GRPOConfig: GRPO requires at least 2 generations per prompt"),
    ({"model_init_kwargs": "dtype=float16"}, "setting model_init_kwargs: expected a JSON object"),
])
def test_trl_fields_are_checked_by_trl(tmp_path, layer, message):
    with pytest.raises(UsageError) as info:
        grpo_config(merge(GrpoSettings(output_dir=str(tmp_path)), layer), world_size=1, on_gpu=False)
    assert message in info.value.message and info.value.exit_code == 2


@pytest.mark.parametrize("layer, message", [
    ({"alpha": 1.5}, "alpha: must be in [0, 1]"),
    ({"reward_mode": "both"}, "reward_mode: expected one of positive-only"),
    ({"save_steps": "often"}, "setting save_steps: invalid float value: 'often'"),
    ({"judge": "llm"}, "--judge llm needs --judge-base-url"),
    ({"use_vllm": True, "vllm_mode": "server"}, "needs --vllm-server-url"),
    ({"max_total_length": 131072}, "max_prompt_length (131072) must be below max_total_length (131072)"),
    ({"importance_sampling_min": 2.0}, "need 0 <= min < max"),
    ({"importance_sampling": "icepop"}, "importance_sampling: expected one of token_mask"),
])
def test_bad_settings_name_the_key(layer, message):
    with pytest.raises(UsageError) as info:
        merge(GrpoSettings(), layer)
    assert message in info.value.message
    assert info.value.exit_code == 2


def test_missing_inputs_and_bad_files(tmp_path):
    with pytest.raises(UsageError, match="missing --model"):
        resolve_settings({"data": "x", "output_dir": "o"})
    with pytest.raises(UsageError, match="no such file"):
        resolve_settings({"data": str(tmp_path / "nope.jsonl"), "model": "m", "output_dir": "o"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(UsageError, match="expected a mapping"):
        read_yaml(bad)
    with pytest.raises(UsageError, match="expected KEY=VALUE"):
        parse_assignments(["oops"])


def test_resume_starts_from_the_saved_settings(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("")
    saved = merge(GrpoSettings(), {"model": "m", "data": str(data), "output_dir": str(tmp_path), "alpha": 0.1})
    write_yaml(saved, tmp_path / "checkpoint-7" / CONFIG_NAME)
    write_yaml(merge(saved, {"alpha": 0.2}), tmp_path / "checkpoint-12" / CONFIG_NAME)  # the latest wins
    s = resolve_settings({"output_dir": str(tmp_path), "resume": True, "max_steps": 30})
    assert (s.model, s.alpha, s.trl["max_steps"], s.resume) == ("m", 0.2, 30, True)
    assert load(tmp_path / "checkpoint-7" / CONFIG_NAME).alpha == 0.1


def test_trl_config_bounds_the_vllm_context_to_the_run():
    s = merge(GrpoSettings(max_prompt_length=4096, output_dir="unused"),
              {"max_completion_length": 512, "vllm_tensor_parallel_size": 2})
    args = grpo_config(s, world_size=1, on_gpu=False)
    assert (args.vllm_max_model_length, args.vllm_tensor_parallel_size, args.vllm_server_timeout) == (4608, 2, 240.0)
    assert grpo_config(merge(s, {"vllm_max_model_length": 8192}), 1, False).vllm_max_model_length == 8192
    # the paper's update rule and the train script's optimizer and importance sampling reach TRL as such
    assert (args.weight_decay, args.adam_beta1, args.adam_beta2) == (0.1, 0.9, 0.98)
    assert (args.vllm_importance_sampling_correction, args.vllm_importance_sampling_mode) == (True, "token_mask")
    assert (args.vllm_importance_sampling_clip_min, args.vllm_importance_sampling_clip_max) == (0.5, 2.0)
    assert grpo_config(merge(s, {"importance_sampling": "none"}), 1, False).vllm_importance_sampling_correction is False
    # the vLLM context never exceeds the total
    assert grpo_config(merge(s, {"max_total_length": 4200}), 1, False).vllm_max_model_length == 4200
    assert (args.epsilon, args.epsilon_high, args.beta, args.loss_type, args.temperature) == (0.2, 0.28, 0.0, "dapo", 1.0)
    assert (args.report_to, args.eval_strategy, args.logging_steps) == ([], "no", 1)
    assert grpo_config(merge(s, {"eval_data": "dev.jsonl"}), 1, False).eval_strategy == "steps"


def test_latest_checkpoint_is_by_step_not_by_name(tmp_path):
    for step in (2, 10, 9):
        (tmp_path / f"checkpoint-{step}").mkdir()
    (tmp_path / "checkpoint-x").mkdir()
    assert latest_checkpoint(tmp_path).name == "checkpoint-10"
    assert latest_checkpoint(tmp_path / "missing") is None


def test_the_judge_settings_reach_the_one_judge_builder(tmp_path):
    from ltrl_cli.grpo.recipe import build_judge
    from ltrl_cli.reward import judge as J

    prompt = tmp_path / "judge.txt"
    prompt.write_text("Q {question} A {correct_answer} R {response}")
    s = merge(GrpoSettings(), {"judge": "llm", "judge_base_url": "http://127.0.0.1:9/v1", "judge_model": "m",
                               "judge_parse": "tolerant", "judge_no_think": "thinking-disabled",
                               "judge_prompt_file": str(prompt)})
    judge = build_judge(s)
    assert judge.extra == {"thinking": {"type": "disabled"}} and judge.read is J.parse_tolerant
    assert judge.prompt == prompt.read_text() and judge.temperature is None
    default = build_judge(merge(s, {"judge_parse": "strict", "judge_no_think": "chat-template",
                                    "judge_prompt_file": None}))
    assert default.read is J.parse_strict and default.extra == {"chat_template_kwargs": {"enable_thinking": False}}
    with pytest.raises(UsageError, match="judge_prompt_file: .* is not a file"):
        merge(s, {"judge_prompt_file": str(tmp_path / "missing.txt")})


@pytest.mark.parametrize("name", ["grpo-paper.yaml", "grpo-tiny.yaml"])
def test_the_example_configs_are_valid_settings(tmp_path, name):
    from tests.conftest import ROOT

    s = merge(GrpoSettings(output_dir=str(tmp_path)), read_yaml(ROOT / "examples" / "configs" / name))
    grpo_config(s, world_size=1, on_gpu=False)  # and TRL takes them


def test_evaluation_samples_with_the_evaluation_settings_and_gives_the_rollouts_back():
    from types import SimpleNamespace

    from ltrl_cli.grpo.trainer import LtrlGRPOTrainer

    settings = merge(GrpoSettings(), {"eval_top_k": "10"})  # the authors' 0.6 / 0.95, top-k changed
    rollout = {"temperature": 1.0, "top_p": 1.0, "top_k": 0}
    trainer = SimpleNamespace(ltrl_reward=SimpleNamespace(settings=settings), model=SimpleNamespace(training=False),
                              generation_config=SimpleNamespace(**rollout), vllm_generation=SimpleNamespace(**rollout))
    with LtrlGRPOTrainer._sampling(trainer):
        assert vars(trainer.generation_config) == vars(trainer.vllm_generation) == \
            {"temperature": 0.6, "top_p": 0.95, "top_k": 10}
    assert vars(trainer.generation_config) == vars(trainer.vllm_generation) == rollout
    trainer.model.training = True
    with LtrlGRPOTrainer._sampling(trainer):
        assert vars(trainer.generation_config) == rollout  # training keeps the rollouts' settings
