"""A GGUF whose metadata lacks (or has an unknown) `tokenizer.ggml.pre` (issue 12, fault 2).

The case from the report: a Llama 3 vocabulary without the key split "In 2024 we sold 1234567 units"
into other ids than Meta's tokenizer (`2024` became `20` + `24`). A known vocabulary is recognised;
anything else is split the GPT-2 way with a warning that says so."""

from __future__ import annotations

import logging

import pytest

from llamasys.core_model.checkpoints.gguf import open_gguf
from llamasys.core_model.testing import tiny_args, write_gguf_checkpoint
from llamasys.core_model.tokenizers.gguf import gguf_tokenizer
from llamasys.core_model.tokenizers.llama3 import Llama3Tokenizer

TEXTS = [
    "In 2024 we sold 1234567 units",  # the reported case
    "I'm sure they've 3.14159 reasons, aren't they?",
    "  leading spaces\tand\ttabs\n\nnew lines",
    "émigré café naïve — 東京 2020",
    "x=12345678901234567890;y=-0.5e10",
]


@pytest.fixture(scope="module")
def llama3_gguf_metadata(tmp_path_factory) -> dict:
    args = tiny_args(vocab_size=128256, tie_word_embeddings=True)
    path = write_gguf_checkpoint(tmp_path_factory.mktemp("gguf") / "l3.gguf", args, weight_type="F16")
    return dict(open_gguf(path).metadata)


@pytest.mark.parametrize("pre", ["absent", "llama-bpe"])
def test_a_llama3_vocabulary_without_the_key_splits_as_meta_does(llama3_gguf_metadata, pre, caplog):
    meta = dict(llama3_gguf_metadata)
    if pre == "absent":
        del meta["tokenizer.ggml.pre"]
    meta_tok = Llama3Tokenizer.default()
    with caplog.at_level(logging.WARNING):
        tok = gguf_tokenizer(meta)
    assert "ASSUMING" not in caplog.text
    for text in TEXTS:
        assert tok.encode(text, bos=False, eos=False) == meta_tok.encode(text, bos=False, eos=False), text


@pytest.mark.parametrize("pre", ["absent", "some-future-pre"])
def test_an_unrecognised_vocabulary_is_split_with_a_loud_warning(tmp_path, pre, caplog):
    meta = dict(open_gguf(write_gguf_checkpoint(tmp_path / "tiny.gguf", tiny_args())).metadata)
    if pre == "absent":
        del meta["tokenizer.ggml.pre"]
    else:
        meta["tokenizer.ggml.pre"] = pre
    with caplog.at_level(logging.WARNING):
        gguf_tokenizer(meta)
    assert "ASSUMING GPT-2's pre-tokenizer split" in caplog.text
