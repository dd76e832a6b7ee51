"""An Engine straight from a state dict, no files: for tests of the decoder and of generation
(importable as `tiny_engine`; tests/ is on pytest's pythonpath)."""

from types import SimpleNamespace

import torch

from llamasys.core_model.config import ModelArgs
from llamasys.core_model.engine import Engine


def make_engine(args: ModelArgs, state_dict, **kw) -> Engine:
    """float32, 64 positions, 2 rows unless `kw` says otherwise; no tokenizer."""
    checkpoint = SimpleNamespace(
        args=args, state_dict=state_dict, tokenizer=None, chat_template=None, path=None
    )
    kw = {"dtype": torch.float32, "max_seq_len": 64, "max_batch_size": 2} | kw
    return Engine.from_checkpoint(checkpoint, **kw)
