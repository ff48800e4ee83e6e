"""Question writing (method stage 1), as `agent/` holds the search agent; `stages/synth.py`
is the stage over it.

- questions.py: Chain, Draft, SynthOptions, the Writer protocol, and the text tests.
- prompt.py: the LLM writer (the prompt, the request, reading the model's JSON).
- template.py: the offline `template` writer (deterministic, labelled as not an LLM).
- checks.py: the checks every draft meets, whichever writer wrote it.
"""
