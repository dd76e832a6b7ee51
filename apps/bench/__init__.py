"""Benchmarks, each against a baseline measured in the same run; `llamasys bench ...` runs them and prints JSON.

Modules: `engine` (decode/prefill vs transformers and llama.cpp, roofline), `rag` (retrieval), `tools` (the
sandboxed interpreter), `safety` (shield latency), `baselines` (the third-party baselines), `timing` (the one
timing / percentile / bandwidth helper every benchmark uses).
"""
