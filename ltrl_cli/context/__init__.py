"""Long contexts (method stage 4): gold pages and tiered distractors packed to a token target;
`stages/assemble.py` is the stage over it.

- layout.py: the assembled record's layout, the prompt template, the strategies, rendering.
- builder.py: ContextBuilder (choosing, packing and cutting documents; the exact token count).
"""
