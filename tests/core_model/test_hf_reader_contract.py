"""The Hugging Face reader's promises that mutation testing found unpinned (`.ci/mutation.py config_hf`).

Safetensors files here are written byte by byte from the format's specification (8-byte little-endian header
length, JSON header with dtype / shape / data_offsets, then the data), so that layouts the `safetensors`
library never writes (unaligned offsets, odd header lengths) can be read too; where the library can read the
file it is the oracle. The q/k permutation oracle is the `permute` of transformers'
`convert_llama_weights_to_hf.py`, written out here.
"""

from __future__ import annotations

import datetime
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from llamasys.core_model.checkpoints.hf import (
    _read_bin,
    _read_safetensors,
    _unpermute,
    hf_name_to_meta,
    meta_state_dict_to_hf,
    read_chat_template,
)
from llamasys.core_model.errors import CheckpointError
from llamasys.core_model.testing import random_meta_state_dict, tiny_args

_NUMPY = {"F32": np.float32, "U8": np.uint8, "I16": np.int16, "F64": np.float64}


def _write_safetensors(
    path: Path, tensors: list[tuple[str, str, list[int], np.ndarray]], pad: int = 0
) -> int:
    """Tensors back to back in the given order; the header padded with `pad` spaces. Returns the data start."""
    header, offset, blobs = {}, 0, []
    for name, dtype, shape, array in tensors:
        data = np.ascontiguousarray(array, dtype=_NUMPY[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode() + b" " * pad
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    return 8 + len(text)


def _read(path: Path) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    _read_safetensors(path, out)
    return out


# --------------------------------------------------------------------------------------------- safetensors


def test_tensors_of_three_dimensions_and_size_one_dims_read_like_the_safetensors_library(
    tmp_path: Path,
) -> None:
    from safetensors.torch import load_file, save_file

    torch.manual_seed(0)
    tensors = {
        "cube": torch.randn(2, 3, 4),
        "one_in_the_middle": torch.randn(4, 1, 3),
        "one_first": torch.randn(1, 5),
        "four_d": torch.randn(2, 1, 3, 2),
        "empty": torch.randn(0, 3),
    }
    path = tmp_path / "lib.safetensors"
    save_file(tensors, str(path))
    got, want = _read(path), load_file(str(path))
    assert set(got) == set(want)
    for name, tensor in want.items():
        assert got[name].shape == tensor.shape, name
        assert torch.equal(got[name], tensor), name
        assert got[name].is_contiguous(), name


def test_unaligned_tensors_are_copied_with_the_right_bytes(tmp_path: Path) -> None:
    # a 1-byte tensor first puts the float32 one at data offset 1; padding the header by 0-3 bytes moves the
    # data start through every alignment, so the float32 and int16 tensors are unaligned in most files
    weights = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    shorts = np.array([[1, -2], [300, -32768]], dtype=np.int16)
    for pad in range(4):  # every alignment of the data start
        path = tmp_path / f"unaligned{pad}.safetensors"
        base = _write_safetensors(
            path,
            [("byte", "U8", [1], np.array([9])), ("w", "F32", [2, 3], weights), ("s", "I16", [2, 2], shorts)],
            pad=pad,
        )
        got = _read(path)
        assert got["byte"].tolist() == [9]
        assert np.array_equal(got["w"].numpy(), weights), (pad, base)
        assert np.array_equal(got["s"].numpy(), shorts), (pad, base)
        assert got["w"].shape == (2, 3) and got["w"].dtype == torch.float32


def test_tensors_are_a_private_map_writing_to_one_never_changes_the_file(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "private.safetensors"
    save_file({"w": torch.arange(4.0)}, str(path))  # aligned: the tensor is a view of the map, not a copy
    before = path.read_bytes()
    _read(path)["w"].add_(100)
    assert path.read_bytes() == before
    assert _read(path)["w"].tolist() == [0, 1, 2, 3]


def test_a_header_that_fills_the_file_exactly_is_an_empty_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "empty.safetensors"
    path.write_bytes(struct.pack("<Q", 2) + b"{}")
    assert _read(path) == {}


def _error(path: Path) -> str:
    with pytest.raises(CheckpointError) as info:
        _read(path)
    return str(info.value)


def _corrupt(path: Path, why: str) -> str:
    return f"{path}: cannot read this safetensors file ({why}); it is truncated or corrupt: download it again"


def test_corrupt_files_are_named_word_for_word(tmp_path: Path) -> None:
    short = tmp_path / "short.safetensors"
    short.write_bytes(b"\x01\x00\x00")
    assert _error(short) == _corrupt(short, "only 3 bytes")

    claims = tmp_path / "claims.safetensors"
    claims.write_bytes(struct.pack("<Q", 3) + b"{}")
    assert _error(claims) == _corrupt(claims, "the header claims 3 bytes but the file has 10")

    huge = tmp_path / "huge.safetensors"  # an unsigned length: 2**64 - 1, not -1
    huge.write_bytes(b"\xff" * 8 + b"{}")
    assert _error(huge) == _corrupt(huge, f"the header claims {2**64 - 1} bytes but the file has 10")

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", 2) + b"{x")
    assert _error(bad).startswith(f"{bad}: cannot read this safetensors file (bad header: ")

    entry = tmp_path / "entry.safetensors"
    text = json.dumps({"w": {"dtype": "F32", "shape": [2]}}).encode()
    entry.write_bytes(struct.pack("<Q", len(text)) + text)
    assert _error(entry) == _corrupt(entry, "bad header entry for w: 'data_offsets'")


def test_sizes_that_disagree_with_the_header_are_named_word_for_word(tmp_path: Path) -> None:
    path = tmp_path / "size.safetensors"
    header = {
        "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
        "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [4, 24]},
    }
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(24))
    assert _error(path) == _corrupt(path, "w holds 20 bytes, not the [2, 3] x F32 its header says")

    cut = tmp_path / "cut.safetensors"
    base = _write_safetensors(cut, [("w", "F32", [2, 3], np.zeros((2, 3)))])
    cut.write_bytes(cut.read_bytes()[:-4])
    assert _error(cut) == _corrupt(cut, f"w ends at byte {base + 24} but the file has {base + 20} bytes")


# ------------------------------------------------------------------------------------------------ .bin


def test_a_bin_file_with_pickled_objects_is_refused_not_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "pytorch_model.bin"
    torch.save({"w": torch.ones(2), "when": datetime.datetime(2024, 7, 23)}, path)
    with pytest.raises(CheckpointError) as info:
        _read_bin(path, {})
    assert str(info.value).startswith(f"{path}: cannot read this .bin file (")
    assert str(info.value).endswith("); download it again")

    plain = tmp_path / "plain.bin"
    torch.save({"w": torch.arange(4.0)}, plain)
    out: dict[str, torch.Tensor] = {}
    _read_bin(plain, out)
    assert torch.equal(out["w"], torch.arange(4.0)) and out["w"].device.type == "cpu"


# ------------------------------------------------------------------------------------------------ names


def test_unknown_names_pass_through_and_buffers_are_skipped() -> None:
    assert hf_name_to_meta("model.something_else.weight") == "model.something_else.weight"
    assert hf_name_to_meta("model.layers.3.mlp.extra.weight") == "model.layers.3.mlp.extra.weight"
    assert hf_name_to_meta("model.layers.12.self_attn.k_proj.weight") == "layers.12.attention.wk.weight"
    assert hf_name_to_meta("model.layers.0.self_attn.rotary_emb.inv_freq") is None
    assert hf_name_to_meta("lm_head.weight") == "output.weight"


# ---------------------------------------------------------------------------------- q/k permutation


def _transformers_permute(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """transformers/models/llama/convert_llama_weights_to_hf.py `permute` (Meta layout -> HF layout)."""
    dim1, dim2 = w.shape
    return w.view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2).reshape(dim1, dim2)


@pytest.mark.parametrize("tied", [False, True])
def test_meta_to_hf_names_and_layout_match_transformers_conversion(tied: bool) -> None:
    args = tiny_args()
    state = random_meta_state_dict(args, seed=3)
    hf = meta_state_dict_to_hf(state, args, tied=tied)
    assert ("lm_head.weight" in hf) is not tied
    if not tied:
        assert hf["lm_head.weight"] is state["output.weight"]
    assert hf["model.embed_tokens.weight"] is state["tok_embeddings.weight"]
    assert hf["model.norm.weight"] is state["norm.weight"]
    for layer in range(args.n_layers):
        q, k = state[f"layers.{layer}.attention.wq.weight"], state[f"layers.{layer}.attention.wk.weight"]
        assert torch.equal(
            hf[f"model.layers.{layer}.self_attn.q_proj.weight"], _transformers_permute(q, args.n_heads)
        )
        assert torch.equal(
            hf[f"model.layers.{layer}.self_attn.k_proj.weight"], _transformers_permute(k, args.n_kv_heads)
        )
        assert (
            hf[f"model.layers.{layer}.self_attn.v_proj.weight"]
            is state[f"layers.{layer}.attention.wv.weight"]
        )
        assert (
            hf[f"model.layers.{layer}.mlp.down_proj.weight"]
            is state[f"layers.{layer}.feed_forward.w2.weight"]
        )
    assert len(hf) == len(state) - (1 if tied else 0)


def test_the_tie_defaults_to_the_models_own_setting() -> None:
    args = tiny_args()
    state = random_meta_state_dict(args, seed=4)
    for setting in (False, True):
        tied_args = tiny_args(tie_word_embeddings=setting)
        assert ("lm_head.weight" in meta_state_dict_to_hf(state, tied_args)) is not setting


@pytest.mark.parametrize("shape", [(10, 4), (12, 4), (16,)])
def test_a_q_weight_that_does_not_split_into_heads_is_refused_by_name(
    tmp_path: Path, shape: tuple[int, ...]
) -> None:
    # 10 rows: not a multiple of 4 heads; 12 rows: 3 per head, odd (RoPE pairs); 1-D: not a matrix
    with pytest.raises(CheckpointError) as info:
        _unpermute(torch.zeros(shape), 4, tmp_path, "q")
    assert str(info.value) == (
        f"{tmp_path}: weight q has shape {shape}, which does not split into 4 heads: config and weights do not "
        "belong together"
    )
    # the columns do not matter: 8 rows split into 4 heads of 2 whatever the width
    assert _unpermute(torch.arange(24.0).reshape(8, 3), 4, tmp_path, "q").shape == (8, 3)
    assert _unpermute(torch.arange(96.0).reshape(8, 12), 4, tmp_path, "q").shape == (8, 12)


# ---------------------------------------------------------------------------------------- chat template


def test_chat_template_sources_in_order(tmp_path: Path) -> None:
    assert read_chat_template(tmp_path) is None
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps(
            {"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}
        )
    )
    assert read_chat_template(tmp_path) == "D"
    default_first = [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": default_first}))
    assert read_chat_template(tmp_path) == "D"
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"chat_template": [{"name": "tool_use", "template": "T"}, "junk"]})
    )
    assert read_chat_template(tmp_path) == "T"
    (tmp_path / "tokenizer_config.json").write_text("{not json")
    with pytest.raises(CheckpointError) as info:
        read_chat_template(tmp_path)
    assert str(info.value).startswith(f"{tmp_path / 'tokenizer_config.json'}: not valid JSON (")
    (tmp_path / "chat_template.jinja").write_text("{{ 'é' }}", encoding="utf-8")
    assert read_chat_template(tmp_path) == "{{ 'é' }}"
