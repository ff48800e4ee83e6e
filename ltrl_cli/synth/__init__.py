"""Question writing (method stage 1): what a writer works from, the writers and the checks.

- questions.py: Chain, Draft, the Writer protocol, and the text tests the checks use.
- template.py: the offline `template` writer (deterministic, labelled as not an LLM).
"""
