"""persona-llm benchmarks against the raw provider SDKs (scripts, not tests).

Run them from the repository root with ``python -m benchmarks`` (``--quick`` for fewer
iterations); see ``benchmarks/README.md``.
"""
