"""The Meta reader's promises that mutation testing found unpinned (`.ci/mutation.py config_meta`): the error
texts word for word, .pth files with anything but tensors refused without unpickling objects, and the tie
of `output.weight` to the embedding only when both are truly one tensor (or equal)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
import torch

from llamasys.core_model.checkpoints import read_checkpoint
from llamasys.core_model.checkpoints.meta import _load_shard, merge_meta_shards, read_params
from llamasys.core_model.errors import CheckpointError
from llamasys.core_model.testing import meta_params, random_meta_state_dict, tiny_args, write_meta_checkpoint


def _message(call, *args) -> str:
    with pytest.raises(CheckpointError) as info:
        call(*args)
    return str(info.value)


def test_params_errors_word_for_word(tmp_path: Path) -> None:
    assert _message(read_params, tmp_path) == (
        f"{tmp_path}: no params.json: expected a Meta Llama checkpoint folder"
    )
    path = tmp_path / "params.json"
    path.write_text(json.dumps({**meta_params(tiny_args()), "dim": "x"}))
    assert _message(read_params, tmp_path) == f"{path}: invalid literal for int() with base 10: 'x'"
    path.write_text(json.dumps({**meta_params(tiny_args()), "n_heads": None}))
    assert _message(read_params, tmp_path).startswith(f"{path}: int() argument must be")


def test_an_unreadable_pth_names_the_first_line_of_torchs_error(tmp_path: Path) -> None:
    path = tmp_path / "consolidated.00.pth"
    path.write_bytes(b"garbage, not a zip archive")
    message = _message(_load_shard, path)
    prefix, rest = message.split(" (", 1)
    assert prefix == f"{path}: cannot read this .pth file"
    reason, suffix = rest.rsplit("); ", 1)
    assert suffix == "it is corrupt or incomplete: download it again"
    assert reason.startswith("mmap can only be used with files saved with")  # torch's own text, one line
    assert "\n" not in message


def test_a_pth_with_pickled_objects_is_refused_not_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "consolidated.00.pth"
    torch.save({"w": torch.ones(2), "when": datetime.datetime(2024, 7, 23)}, path)
    assert _message(_load_shard, path).startswith(f"{path}: cannot read this .pth file (")


@pytest.mark.parametrize("content", [{"w": torch.ones(2), "step": 3}, [torch.ones(2)]])
def test_a_pth_that_is_not_a_dict_of_tensors_is_refused_by_name(tmp_path: Path, content) -> None:
    path = tmp_path / "consolidated.00.pth"
    torch.save(content, path)
    assert _message(_load_shard, path) == f"{path}: expected a dict of tensors (a Meta consolidated.*.pth)"


def test_meta_fp8_checkpoints_are_refused_word_for_word(tmp_path: Path) -> None:
    folder = write_meta_checkpoint(tmp_path / "m", tiny_args())
    (folder / "fp8_scales_0.pt").write_bytes(b"")
    assert _message(read_checkpoint, folder) == (
        f"{folder}: this is one of Meta's FP8 checkpoints (fp8_scales_*.pt), which this engine does not read: "
        "use the bf16 checkpoint and load it with quantization='fp8'"
    )


def _with_output(tmp_path: Path, make_output) -> tuple[Path, dict]:
    """A one-shard Meta folder whose output.weight is `make_output(storage)`, a view sharing one storage
    with the embedding (torch.save keeps views of one storage as views)."""
    args = tiny_args()
    state = random_meta_state_dict(args, seed=7)
    vocab, dim = args.vocab_size, args.dim
    storage = torch.randn(2 * vocab * dim, generator=torch.Generator().manual_seed(1))
    state["tok_embeddings.weight"] = storage[: vocab * dim].view(vocab, dim)
    state["output.weight"] = make_output(storage, vocab, dim)
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "params.json").write_text(json.dumps(meta_params(args)))
    torch.save(state, folder / "consolidated.00.pth")
    write_meta_checkpoint(tmp_path / "tok", args)  # only for its tokenizer.model
    (folder / "tokenizer.model").write_bytes((tmp_path / "tok" / "tokenizer.model").read_bytes())
    return folder, state


def test_an_output_in_the_same_storage_at_another_offset_is_not_tied(tmp_path: Path) -> None:
    folder, state = _with_output(tmp_path, lambda s, v, d: s[v * d :].view(v, d))
    checkpoint = read_checkpoint(folder)
    assert checkpoint.args.tie_word_embeddings is False
    assert torch.equal(checkpoint.state_dict["output.weight"], state["output.weight"])
    assert not torch.equal(
        checkpoint.state_dict["output.weight"], checkpoint.state_dict["tok_embeddings.weight"]
    )


def test_an_output_in_the_same_storage_with_other_strides_is_not_tied(tmp_path: Path) -> None:
    folder, state = _with_output(tmp_path, lambda s, v, d: s.as_strided((v, d), (1, v)))
    checkpoint = read_checkpoint(folder)
    assert checkpoint.args.tie_word_embeddings is False
    assert torch.equal(checkpoint.state_dict["output.weight"], state["output.weight"])


def test_an_output_of_another_shape_in_the_same_storage_is_a_shape_error_not_a_tie(tmp_path: Path) -> None:
    folder, _ = _with_output(tmp_path, lambda s, v, d: s[: (v - 1) * d].view(v - 1, d))
    with pytest.raises(CheckpointError, match="output.weight"):
        read_checkpoint(folder)


def test_the_same_tensor_saved_twice_is_tied(tmp_path: Path) -> None:
    folder, state = _with_output(tmp_path, lambda s, v, d: s[: v * d].view(v, d))
    checkpoint = read_checkpoint(folder)
    assert checkpoint.args.tie_word_embeddings is True
    assert checkpoint.state_dict["output.weight"] is checkpoint.state_dict["tok_embeddings.weight"]


def test_replicated_one_dimensional_weights_come_from_the_first_shard() -> None:
    shards = [
        {"norm.weight": torch.full((4,), 1.0), "layers.0.attention.wq.weight": torch.zeros(2, 4)},
        {"norm.weight": torch.full((4,), 2.0), "layers.0.attention.wq.weight": torch.ones(2, 4)},
    ]
    merged = merge_meta_shards(shards)
    assert merged["norm.weight"].tolist() == [1.0] * 4
    assert merged["layers.0.attention.wq.weight"].shape == (4, 4)
