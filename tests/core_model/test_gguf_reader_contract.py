"""The GGUF reader's promises that mutation testing found unpinned (`.ci/mutation.py config_gguf`).

Files are written by the `gguf` package's own `GGUFWriter`, or byte by byte from the GGUF specification
(magic, uint32 version, uint64 tensor and key counts, then typed key/values) for headers the writer would
never produce. Values are checked against numpy's own conversions; the RoPE divisors against the llama3
rule with the factor, original context and tolerance stated in the reader.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from llamasys.core_model.checkpoints.gguf import _scaling_from_rope_freqs, _to_float32, open_gguf
from llamasys.core_model.config import RopeScaling, llama3_frequency_divisors
from llamasys.core_model.errors import CheckpointError
from llamasys.core_model.testing import tiny_args


def _message(path: Path) -> str:
    with pytest.raises(CheckpointError) as info:
        open_gguf(path)
    return str(info.value)


def _header(version: int = 3, n_tensors: int = 0, n_kv: int = 0) -> bytes:
    return b"GGUF" + struct.pack("<I", version) + struct.pack("<QQ", n_tensors, n_kv)


def test_headers_refused_word_for_word(tmp_path: Path) -> None:
    missing = tmp_path / "missing.gguf"
    assert _message(missing) == f"{missing}: no such GGUF file"

    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGML" + bytes(20))
    assert _message(other) == f"{other}: not a GGUF file (starts with b'GGML')"

    for version in (1, 4):
        old = tmp_path / f"v{version}.gguf"
        old.write_bytes(_header(version))
        assert _message(old) == f"{old}: GGUF version {version} is not supported (expected 2 or 3)"


@pytest.mark.parametrize("version", [2, 3])
def test_versions_two_and_three_are_read(tmp_path: Path, version: int) -> None:
    path = tmp_path / "empty.gguf"
    # one uint32 key/value: general.alignment = 64
    key = b"general.alignment"
    path.write_bytes(_header(version, 0, 1) + struct.pack("<Q", len(key)) + key + struct.pack("<II", 4, 64))
    gguf = open_gguf(path)
    assert gguf.metadata == {"general.alignment": 64}
    assert gguf.tensors == []


def test_a_string_running_past_the_end_and_an_unknown_value_type_are_corrupt_headers(tmp_path: Path) -> None:
    long = tmp_path / "long.gguf"
    long.write_bytes(_header(3, 0, 1) + struct.pack("<Q", 1000) + b"key")
    assert _message(long) == (
        f"{long}: the GGUF header is truncated or corrupt (string runs past the end of the file): "
        "download the file again"
    )
    exact = tmp_path / "exact.gguf"  # a key that ends exactly at the end of the file, then nothing
    exact.write_bytes(_header(3, 0, 1) + struct.pack("<Q", 3) + b"key")
    assert "string runs past" not in _message(exact)

    unknown = tmp_path / "unknown.gguf"
    unknown.write_bytes(_header(3, 0, 1) + struct.pack("<Q", 3) + b"key" + struct.pack("<I", 99) + bytes(8))
    assert _message(unknown) == (
        f"{unknown}: the GGUF header is truncated or corrupt (unknown GGUF value type 99): download the file again"
    )


def _written(path: Path, alignment: int | None = None) -> dict[str, np.ndarray]:
    from gguf import GGMLQuantizationType, GGUFWriter

    rng = np.random.default_rng(0)
    f32 = rng.standard_normal((2, 3)).astype(np.float32)
    f16 = rng.standard_normal((3, 5)).astype(np.float16)
    bf16_bits = (rng.standard_normal((4, 6)).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    writer = GGUFWriter(str(path), "llama")
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    writer.add_string("general.name", "ünïcode name")
    writer.add_tensor("f32", f32)
    writer.add_tensor("f16", f16)
    writer.add_tensor("bf16", bf16_bits, raw_dtype=GGMLQuantizationType.BF16)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    as_float = (bf16_bits.astype(np.uint32) << 16).view(np.float32)  # bf16 is the top half of a float32
    return {"f32": f32, "f16": f16.astype(np.float32), "bf16": as_float}


@pytest.mark.parametrize("alignment", [None, 64, 256])
def test_tensors_read_back_exactly_at_any_alignment(tmp_path: Path, alignment: int | None) -> None:
    path = tmp_path / "t.gguf"
    want = _written(path, alignment)
    gguf = open_gguf(path)
    assert gguf.metadata["general.name"] == "ünïcode name"
    for info in gguf.tensors:
        assert info.offset % (alignment or 32) == 0
        got = _to_float32(gguf, info)
        assert got.dtype == torch.float32 and tuple(got.shape) == want[info.name].shape, info.name
        assert np.array_equal(got.numpy(), want[info.name]), info.name


def test_a_truncated_tensor_is_named_with_its_end_and_the_file_size(tmp_path: Path) -> None:
    path = tmp_path / "t.gguf"
    _written(path)
    infos = {t.name: t for t in open_gguf(path).tensors}
    last = max(infos.values(), key=lambda t: t.offset)
    data = path.read_bytes()
    cut = last.offset + last.nbytes - 2
    path.write_bytes(data[:cut])
    assert _message(path) == (
        f"{path}: tensor {last.name} ends at byte {last.offset + last.nbytes} but the file has {cut} bytes: "
        "the file is truncated, download it again"
    )


# ---------------------------------------------------------------------------------- rope_freqs


def _divisors(factor: float, original: int) -> torch.Tensor:
    args = tiny_args()
    return llama3_frequency_divisors(
        RopeScaling(factor=factor, original_max_position_embeddings=original), args.head_dim, args.rope_theta
    )


@pytest.mark.parametrize("factor", [2.5, 8.0, 32.0, 1.75])
def test_the_factor_read_from_rope_freqs_keeps_its_fraction(tmp_path: Path, factor: float) -> None:
    meta = {"llama.rope.scaling.original_context_length": 64}
    scaling = _scaling_from_rope_freqs(_divisors(factor, 64), meta, tiny_args(), tmp_path)
    assert scaling.factor == factor and scaling.original_max_position_embeddings == 64


def test_the_original_context_defaults_to_8192(tmp_path: Path) -> None:
    # tiny head_dim: with 8192 the lowest frequencies are scaled by the full factor
    scaling = _scaling_from_rope_freqs(_divisors(8.0, 8192), {}, tiny_args(), tmp_path)
    assert scaling.original_max_position_embeddings == 8192


def test_rope_freqs_of_another_length_or_off_by_a_tenth_of_a_percent_are_refused(tmp_path: Path) -> None:
    meta = {"llama.rope.scaling.original_context_length": 64}
    good = _divisors(8.0, 64)
    message = (
        f"{tmp_path}: rope_freqs.weight does not match Llama 3.1 rope scaling (factor 8, original context 64, "
        "low/high frequency factors 1/4): this frequency scaling is not supported"
    )
    for bad in (torch.cat([good, good[-1:]]), good * 1.001, good + 0.01):
        with pytest.raises(CheckpointError) as info:
            _scaling_from_rope_freqs(bad, meta, tiny_args(), tmp_path)
        assert str(info.value) == message.replace("factor 8,", f"factor {float(bad.max()):g},")
    # float32 rounding of the stored table is accepted
    assert _scaling_from_rope_freqs(good.float() * (1 + 2e-6), meta, tiny_args(), tmp_path).factor == 8.0
