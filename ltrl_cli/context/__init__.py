"""Long contexts (method stage 4): gold pages and tiered distractors packed to a token target.
"""
