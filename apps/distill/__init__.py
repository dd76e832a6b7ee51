"""Distillation of tool use into the small default model: verified synthetic data, LoRA training, export.

- `generate`: the data generator (`generate`, `verify_example`, `render_example`; see its docstring).
- `catalogue`: the random catalogue of custom tools; `tasks`: material for the built-in tools.
- `teacher`: the same requests answered by a stronger model, kept when they verify.
- `train`: LoRA fine-tuning with assistant-only loss, shared-prefix packing, checkpoints and `--resume`.
- `export`: the latest checkpoint's adapter (float16) with its provenance, into the repository.

The CLI is `llamasys distill generate|train|export`.
"""
