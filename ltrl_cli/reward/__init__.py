"""The method's reward: rules, judges and the reward server (a domain package, below the
stages; it stands on the LLM clients and the ground floor).

- rules.py: the reward arithmetic as pure functions (normalise, rubric recall, split,
  group normalisation, the four combinations), shared by `ltrl score`, `ltrl grpo` and the
  server;
- judge.py: outcome judges (exact, contains, the LLM judge) and their verdicts;
- scoring.py: judging and scoring a group of responses (what the score stage and the
  server's `/evaluate_group` share), and the value checks;
- evaluate.py: one `/evaluate` request scored exactly as the authors' server scores it;
- service.py: the server's work without HTTP (`/evaluate`, `/evaluate_group`, judge errors);
- server.py: `ltrl score --serve`, the HTTP side (workers, limits, timeouts, signals).

The `<think>` splitter they use is `ltrl_cli.think` (ground floor: the model clients use it too).
"""
