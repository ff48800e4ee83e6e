"""ltrl: long-context RL data and training toolkit (LongTraceRL, arXiv 2605.31584)."""

__version__ = "0.1.0"
