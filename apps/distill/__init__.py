"""Distillation of tool use into the small default model: verified synthetic data, LoRA training, export.

- `generate`: the data generator (`generate`, `verify_example`, `render_example`; see its docstring).
- `catalogue`: the random catalogue of custom tools; `tasks`: material for the built-in tools.
- `train`: LoRA fine-tuning with assistant-only loss, shared-prefix packing, checkpoints and `--resume`.

The CLI is `llamasys distill generate|train|export`.
"""
