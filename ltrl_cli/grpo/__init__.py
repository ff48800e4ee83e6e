"""`ltrl grpo`: GRPO training with the method's composite reward.

- config.py: the settings (the paper's defaults, YAML, flags), their validation, and what
  follows from them (the batch layout, the checkpoint to resume, the vLLM check); launch.py
  and recipe.py both build on it and never import each other;
- launch.py: the torchrun command line and an injectable launch function;
- recipe.py: the script every rank runs under torchrun;
- trainer.py: TRL's GRPOTrainer with the reward shaped after the cross-rank gather;
- shaping.py: the reward glue over `ltrl_cli.reward.rules` (no torch);
- form.py: the train script's rollout rules: ill-formed completions, the total-length cut;
- verl.py: the same reward as verl reward functions (per response, or whole groups);
- data.py: training rows from the assemble / released layout;
- tiny.py: a tiny random Qwen3 and a tokenizer trained on the spot, for CPU tries and tests.

Nothing here is imported by `ltrl --help`; torch and TRL load only inside the recipe.
"""
