"""The paper's five long-context benchmarks: one module each (load, prompt, grade), plus the runner."""
