"""The search agent: tools over an index, two action protocols, an offline policy, the rollout loop.

- `tools`: search / open / cite / answer over a `Searcher` + `PageStore`, with the rules that
  keep `opened` inside `seen` and `cited` inside `opened`.
- `protocols`: how actions travel: OpenAI-style tool calls, or text tags for models without
  tool calling.
- `lexical`: the offline search policy (an LLM stand-in that speaks the text-tag protocol).
- `rollout`: one rollout, from the question to an answer or an exhausted budget.
"""
