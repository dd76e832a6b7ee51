"""Evaluations: `llamasys eval tools`.

- `bfcl`: BFCL's single-turn categories through a model's own tool format (`load_items`, `run_bfcl`,
  `EngineModel`, `OpenAIToolModel`); `checker`: our AST checker written from BFCL's rules.
- `agent_tasks` / `agent_eval`: held-out agent tasks run through `llamasys.agentic.Agent` with real tools.
"""
