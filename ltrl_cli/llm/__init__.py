"""Model clients and their protocol, shared by synth, search-agent, the LLM judge and eval.

- base.py: ChatRequest, ChatResponse, the LLM protocol.
- openai.py: any OpenAI-compatible endpoint (retries, backoff, Retry-After, one session per loop).
- vllm.py, hf.py: in-process models (vLLM batched on GPUs; transformers on CPU).
- cache.py: the sqlite response cache and CachedLLM, which make killed runs resumable.
- factory.py: LLMOptions and make_llm, which pick a client from parsed options.
- text.py: reasoning split (over ltrl_cli.think), tool calls written as text, forgiving JSON.

The window of concurrent calls is `ltrl_cli.concurrency`; the command options are
`ltrl_cli.commands.options`; the question writers are `ltrl_cli.synth`.
"""
