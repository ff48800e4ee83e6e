"""Settings: the paper's defaults, then a YAML file, then --set, then flags."""

from __future__ import annotations

import pytest

from ltrl_cli.errors import UsageError
from ltrl_cli.grpo.config import (CONFIG_NAME, GrpoSettings, latest_checkpoint, load, merge, parse_assignments, read_yaml,
                                  write_yaml)
from ltrl_cli.grpo.launch import resolve_settings


def test_defaults_are_the_papers():
    s = GrpoSettings()
    assert (s.num_generations, s.prompts_per_step, s.learning_rate, s.lr_scheduler) == (8, 16, 2e-6, "constant")
    assert (s.epsilon, s.epsilon_high, s.beta, s.temperature) == (0.2, 0.28, 0.0, 1.0)
    assert s.loss_type == "dapo"  # TRL's token-level loss over the whole batch
    assert (s.reward_mode, s.alpha, s.rubric_on) == ("positive-only", 0.3, "content")
    assert (s.max_prompt_length, s.max_completion_length, s.max_total_length) == (131072, 32000, 160000)
    assert (s.weight_decay, s.adam_beta1, s.adam_beta2, s.punish_ill_formed) == (0.1, 0.9, 0.98, True)
    assert (s.importance_sampling, s.importance_sampling_min, s.importance_sampling_max) == ("token_mask", 0.5, 2.0)


def test_layers_override_in_order(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("# a comment\nnum_generations: 4\nlearning_rate: 1.0e-5\nalpha: 0.1\nlora_target_modules: [q_proj, v_proj]\n")
    data = tmp_path / "d.jsonl"
    data.write_text("")
    flags = {"data": str(data), "model": "m", "output_dir": str(tmp_path / "out"), "alpha": 0.5, "max_steps": None}
    s = resolve_settings(flags, str(config), parse_assignments(["learning_rate=3e-6", "top-p=0.9"]))
    assert s.num_generations == 4  # file over default
    assert s.learning_rate == 3e-6  # --set over file
    assert s.alpha == 0.5  # flag over file
    assert s.top_p == 0.9 and s.max_steps == 200  # a None flag leaves the setting alone
    assert s.lora_target_modules == ["q_proj", "v_proj"]


def test_values_are_coerced_from_strings():
    s = merge(GrpoSettings(), {"gradient_checkpointing": "false", "save_steps": "5", "lora_target_modules": "a, b",
                               "bf16": True})
    assert s.gradient_checkpointing is False and s.save_steps == 5 and s.lora_target_modules == ["a", "b"]
    assert s.bf16 == "true"


@pytest.mark.parametrize("layer, message", [
    ({"num_generation": 4}, "unknown setting 'num_generation'"),
    ({"alpha": 1.5}, "alpha: must be in [0, 1]"),
    ({"reward_mode": "both"}, "reward_mode: expected one of positive-only"),
    ({"save_steps": "often"}, "save_steps: expected a number"),
    ({"num_generations": 1}, "at least 2 completions"),
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
    assert (s.model, s.alpha, s.max_steps, s.resume) == ("m", 0.2, 30, True)
    assert load(tmp_path / "checkpoint-7" / CONFIG_NAME).alpha == 0.1


def test_trl_config_bounds_the_vllm_context_to_the_run():
    from ltrl_cli.grpo.recipe import _grpo_args

    s = GrpoSettings(max_prompt_length=4096, max_completion_length=512, output_dir="unused", vllm_tensor_parallel_size=2)
    args = _grpo_args(s, world_size=1, on_gpu=False)
    assert (args.vllm_max_model_length, args.vllm_tensor_parallel_size, args.vllm_server_timeout) == (4608, 2, 240.0)
    assert _grpo_args(merge(s, {"vllm_max_model_length": 8192}), 1, False).vllm_max_model_length == 8192
    # the paper's update rule and the train script's optimizer and importance sampling reach TRL as such
    assert (args.weight_decay, args.adam_beta1, args.adam_beta2) == (0.1, 0.9, 0.98)
    assert (args.vllm_importance_sampling_correction, args.vllm_importance_sampling_mode) == (True, "token_mask")
    assert (args.vllm_importance_sampling_clip_min, args.vllm_importance_sampling_clip_max) == (0.5, 2.0)
    assert _grpo_args(merge(s, {"importance_sampling": "none"}), 1, False).vllm_importance_sampling_correction is False
    # the vLLM context never exceeds the total
    assert _grpo_args(merge(s, {"max_total_length": 4200}), 1, False).vllm_max_model_length == 4200
    assert (args.epsilon, args.epsilon_high, args.beta, args.loss_type, args.temperature) == (0.2, 0.28, 0.0, "dapo", 1.0)


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
