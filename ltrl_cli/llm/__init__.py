"""The LLM layer shared by synth, search-agent, the LLM judge and eval.

- base.py: ChatRequest, ChatResponse, the LLM protocol.
- openai.py: any OpenAI-compatible endpoint (retries, backoff, Retry-After, one session per loop).
- vllm.py, hf.py: in-process models (vLLM batched on GPUs; transformers on CPU).
- cache.py: the sqlite response cache and CachedLLM, which make killed runs resumable.
- runner.py: bounded_map (a window of async calls under a plain generator) and run_sync.
- options.py: the shared command options and make_llm.
- text.py: reasoning split (over ltrl_cli.think), tool calls written as text, forgiving JSON.
- template.py: the offline question writer of `ltrl synth`.
"""
