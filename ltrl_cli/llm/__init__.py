"""The LLM layer shared by synth, search-agent, the LLM judge and eval."""
