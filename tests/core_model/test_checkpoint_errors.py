"""Bad checkpoints fail with a CheckpointError that names the file and the problem."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support import require_in_ci

from llamasys.core_model.checkpoints import read_checkpoint
from llamasys.core_model.errors import CheckpointError, ModelError, UnknownModelError
from llamasys.core_model.testing import (
    random_meta_state_dict,
    tiny_args,
    write_gguf_checkpoint,
    write_hf_checkpoint,
    write_meta_checkpoint,
)


@pytest.fixture
def args():
    return tiny_args(n_layers=1)


def test_missing_and_unknown_paths(tmp_path):
    with pytest.raises(CheckpointError, match="no such file or folder"):
        read_checkpoint(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no params.json or config.json"):
        read_checkpoint(tmp_path / "empty")
    (tmp_path / "weights.bin").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a GGUF file"):
        read_checkpoint(tmp_path / "weights.bin")
    with pytest.raises(UnknownModelError, match="llama3.2-1b-instruct"):
        read_checkpoint("llama3.2-1b-instrct")


def test_meta_without_weights_or_with_bad_params(tmp_path, args):
    folder = write_meta_checkpoint(tmp_path / "m", args)
    for shard in folder.glob("consolidated.*.pth"):
        shard.unlink()
    with pytest.raises(CheckpointError, match=r"no consolidated\.\*\.pth"):
        read_checkpoint(folder)
    (folder / "params.json").write_text("{")
    with pytest.raises(CheckpointError, match="params.json: not valid JSON"):
        read_checkpoint(folder)
    (folder / "params.json").write_text(json.dumps({"dim": 64}))
    with pytest.raises(CheckpointError, match="missing the key 'n_heads'"):
        read_checkpoint(folder)


def test_corrupt_pth(tmp_path, args):
    folder = write_meta_checkpoint(tmp_path / "m", args)
    shard = folder / "consolidated.00.pth"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"consolidated\.00\.pth: cannot read this \.pth file"):
        read_checkpoint(folder)
    shard.write_bytes(b"garbage" * 10)
    with pytest.raises(CheckpointError, match="corrupt or incomplete"):
        read_checkpoint(folder)


def test_missing_tensor(tmp_path, args):
    sd = random_meta_state_dict(args)
    del sd["layers.0.feed_forward.w3.weight"]
    with pytest.raises(
        CheckpointError, match=r"1 weights missing \(first: layers\.0\.feed_forward\.w3\.weight\)"
    ):
        read_checkpoint(write_meta_checkpoint(tmp_path / "m", args, sd))
    with pytest.raises(CheckpointError, match="feed_forward.w3.weight"):
        read_checkpoint(write_gguf_checkpoint(tmp_path / "m.gguf", args, sd))


def test_wrong_shape_against_config(tmp_path, args):
    sd = random_meta_state_dict(args)
    folder = write_hf_checkpoint(tmp_path / "hf", args, sd)
    config = json.loads((folder / "config.json").read_text())
    config["intermediate_size"] = 192
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        CheckpointError,
        match=r"feed_forward\.w1\.weight has shape \(160, 64\) but the config calls for \(192, 64\)",
    ):
        read_checkpoint(folder)


def test_extra_layers_are_reported(tmp_path, args):
    sd = random_meta_state_dict(tiny_args(n_layers=2))
    folder = write_meta_checkpoint(tmp_path / "m", tiny_args(n_layers=2), sd)
    params = json.loads((folder / "params.json").read_text())
    params["n_layers"] = 1
    (folder / "params.json").write_text(json.dumps(params))
    with pytest.raises(CheckpointError, match="unexpected weights .*layers.1"):
        read_checkpoint(folder)


def test_truncated_safetensors(tmp_path, args):
    folder = write_hf_checkpoint(tmp_path / "hf", args)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) - 1000])
    with pytest.raises(
        CheckpointError, match=r"model\.safetensors: cannot read this safetensors file .*truncated"
    ):
        read_checkpoint(folder)


def test_sharded_index_names_a_missing_file(tmp_path, args):
    folder = write_hf_checkpoint(tmp_path / "hf", args, sharded=True)
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointError, match="listed in model.safetensors.index.json but missing"):
        read_checkpoint(folder)


def test_hf_missing_lm_head_without_tie(tmp_path, args):
    folder = write_hf_checkpoint(tmp_path / "hf", args, tie_embeddings=True)
    config = json.loads((folder / "config.json").read_text())
    config["tie_word_embeddings"] = False
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="no lm_head.weight"):
        read_checkpoint(folder)


def test_hf_unsupported_architecture_and_missing_tokenizer(tmp_path, args):
    folder = write_hf_checkpoint(tmp_path / "hf", args)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError, match="no tokenizer.json, tokenizer.model"):
        read_checkpoint(folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="deberta-v2", architectures=["DebertaV2ForSequenceClassification"])
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="'deberta-v2'.*not supported"):
        read_checkpoint(folder)


def test_tokenizer_larger_than_the_model(tmp_path, args):
    folder = write_meta_checkpoint(tmp_path / "m", args)
    (folder / "tokenizer.model").unlink()  # falls back to the 128,256-token Llama 3 tokenizer
    with pytest.raises(CheckpointError, match="the tokenizer has 128256 tokens but the model only 544"):
        read_checkpoint(folder)


def _gguf_with(tmp_path, name: str, arch: str = "llama", tensor=None, raw_dtype=None):
    from gguf import GGUFWriter

    path = tmp_path / name
    writer = GGUFWriter(str(path), arch)
    writer.add_block_count(1)
    if tensor is not None:
        writer.add_tensor("token_embd.weight", tensor, raw_dtype=raw_dtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_gguf_unsupported_architecture(tmp_path):
    with pytest.raises(CheckpointError, match="GGUF architecture 'qwen2' is not supported"):
        read_checkpoint(_gguf_with(tmp_path, "q.gguf", arch="qwen2"))


def test_gguf_unsupported_quant_type_names_the_tensor(tmp_path, args):
    from gguf import GGMLQuantizationType

    # Find a GGML type this gguf package cannot dequantize and store a tensor with it.
    unsupported = None
    from gguf.quants import dequantize

    for qtype in GGMLQuantizationType:
        try:
            dequantize(np.zeros((1, 1024), dtype=np.uint8), qtype)
        except NotImplementedError:
            unsupported = qtype
            break
        except Exception:  # noqa: S112 - wrong-size input for this type; keep looking
            continue
    if unsupported is None:
        require_in_ci("every GGML type is dequantizable by this gguf version: pick another refusal to test")
    from gguf.constants import GGML_QUANT_SIZES

    block, size = GGML_QUANT_SIZES[unsupported]
    raw = np.zeros((args.vocab_size, args.dim // block * size), dtype=np.uint8)
    if args.dim % block:
        require_in_ci(
            f"tiny dim {args.dim} does not fit the block of {unsupported.name}, the first type gguf refuses"
        )
    bad = _gguf_with(tmp_path, "bad.gguf", tensor=raw, raw_dtype=unsupported)
    with pytest.raises(CheckpointError, match=f"token_embd.weight uses quantization type {unsupported.name}"):
        from llamasys.core_model.checkpoints.gguf import _to_float32, open_gguf

        gguf = open_gguf(bad)
        _to_float32(gguf, gguf.tensors[0])


def test_gguf_integer_tensor_and_truncation(tmp_path, args):
    bad = _gguf_with(tmp_path, "int.gguf", tensor=np.zeros((4, 8), dtype=np.int32))
    from llamasys.core_model.checkpoints.gguf import _to_float32, open_gguf

    gguf = open_gguf(bad)
    with pytest.raises(CheckpointError, match="integer type I32"):
        _to_float32(gguf, gguf.tensors[0])
    path = write_gguf_checkpoint(tmp_path / "m.gguf", args)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 4096])
    with pytest.raises(CheckpointError, match="the file is truncated"):
        read_checkpoint(path)
    path.write_bytes(data[:200])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        read_checkpoint(path)


def test_all_errors_are_model_errors():
    assert issubclass(CheckpointError, ModelError)
    with pytest.raises(ModelError):
        read_checkpoint(torch.__file__)  # a .py file is not a checkpoint


def test_prequantized_meta_checkpoints_are_refused(tmp_path, args):
    folder = write_meta_checkpoint(tmp_path / "m", args)
    (folder / "fp8_scales_0.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="Meta's FP8 checkpoints.*quantization='fp8'"):
        read_checkpoint(folder)
    (folder / "fp8_scales_0.pt").unlink()
    params = json.loads((folder / "params.json").read_text())
    (folder / "params.json").write_text(json.dumps({**params, "quantization_args": {"group_size": 32}}))
    with pytest.raises(CheckpointError, match="QLoRA / SpinQuant"):
        read_checkpoint(folder)


def test_non_float_weights_are_refused(tmp_path, args):
    sd = random_meta_state_dict(args)
    sd["layers.0.attention.wq.weight"] = sd["layers.0.attention.wq.weight"].to(torch.float8_e4m3fn)
    with pytest.raises(CheckpointError, match="attention.wq.weight has dtype torch.float8_e4m3fn"):
        read_checkpoint(write_meta_checkpoint(tmp_path / "m", args, sd))


def test_converting_an_unknown_weight_name_to_hf_is_a_clear_error():
    from llamasys.core_model.checkpoints.hf import meta_state_dict_to_hf
    from llamasys.core_model.testing import random_meta_state_dict, tiny_args

    args = tiny_args()
    sd = random_meta_state_dict(args) | {"layers.0.attention.bias": torch.zeros(1)}
    with pytest.raises(CheckpointError, match="layers.0.attention.bias: not a Llama weight name"):
        meta_state_dict_to_hf(sd, args)
