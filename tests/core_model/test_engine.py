"""Generation: batching, stopping, stop strings, streaming, logprobs, errors — tiny random model, CPU."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from llamasys.core_model import Completion, Engine, SamplingParams
from llamasys.core_model.engine import _Text
from llamasys.core_model.errors import SequenceTooLongError
from llamasys.core_model.messages import StopReason
from llamasys.core_model.testing import random_meta_state_dict, tiny_args


class ByteTokenizer:
    """Test tokenizer: ids < 256 are raw bytes, a few specials above; others print as letters."""

    specials = {"<|begin_of_text|>": 256, "<|end_of_text|>": 257, "<|eot_id|>": 258, "<|eom_id|>": 259}

    def __init__(self, vocab_size: int = 300, stop_ids=(257, 258, 259)):
        self.vocab_size = vocab_size
        self.bos_id, self.eos_id = 256, 257
        self.stop_ids = frozenset(stop_ids)
        self._names = {v: k for k, v in self.specials.items()}

    def special_id(self, tok: str) -> int:
        return self.specials[tok]

    def is_special(self, i: int) -> bool:
        return i in self._names

    def decode_bytes(self, ids) -> bytes:
        out = b""
        for i in ids:
            if i < 256:
                out += bytes([i])
            elif i in self._names:
                out += self._names[i].encode()
            else:
                out += chr(ord("a") + i % 26).encode()
        return out

    def decode(self, ids) -> str:
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def encode(self, text, *, bos=False, eos=False, allow_special=False):
        return [256] * bos + list(text.encode()) + [257] * eos


def engine_for(tokenizer=None, seed: int = 0, **kw) -> Engine:
    args = tiny_args()
    ckpt = SimpleNamespace(
        args=args,
        state_dict=random_meta_state_dict(args, seed),
        tokenizer=tokenizer or ByteTokenizer(stop_ids=()),
        chat_template=None,
        path=None,
    )
    kw = {"dtype": torch.float32, "max_seq_len": 96, "max_batch_size": 2} | kw
    return Engine.from_checkpoint(ckpt, **kw)


PROMPTS = [
    [256, 72, 105],
    [256, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
    [256, 40],
    [256, 1, 2, 3, 4, 5, 6],
    [256, 99] * 3,
]


def test_batched_generation_equals_one_by_one():
    engine = engine_for()
    params = SamplingParams(max_tokens=12)
    batched = engine.generate(PROMPTS, params)  # 5 prompts, max_batch_size 2: chunks of 2, 2, 1
    single = [engine.generate([p], params)[0] for p in PROMPTS]
    assert [c.tokens for c in batched] == [c.tokens for c in single]
    assert all(len(c.tokens) == 12 and c.stop_reason == StopReason.out_of_tokens for c in batched)
    assert batched[1].prompt_tokens == 11 and batched[0].tokens_per_s > 0 and batched[0].decode_s > 0


def test_greedy_tokens_follow_forward_argmax():
    engine = engine_for()
    [c] = engine.generate([PROMPTS[1]], SamplingParams(max_tokens=6))
    logits = engine.forward(PROMPTS[1] + c.tokens[:-1])
    assert logits[0, len(PROMPTS[1]) - 1 :].argmax(-1).tolist() == c.tokens


def test_stop_tokens_map_to_stop_reasons():
    engine = engine_for()
    [free] = engine.generate([PROMPTS[0]], SamplingParams(max_tokens=10))
    target = free.tokens[4]
    first = free.tokens.index(target)
    [c] = engine.generate([PROMPTS[0]], SamplingParams(max_tokens=10, stop_token_ids=[target]))
    assert c.tokens == free.tokens[: first + 1] and c.stop_token_id == target
    assert c.stop_reason == StopReason.end_of_turn
    assert c.text == ByteTokenizer().decode(free.tokens[:first])  # the stop token is not in the text

    class EomTokenizer(ByteTokenizer):
        specials = ByteTokenizer.specials | {"<|eom_id|>": target}

    eom = engine_for(EomTokenizer(stop_ids=(target,)))
    [c] = eom.generate([PROMPTS[0]], SamplingParams(max_tokens=10))
    assert c.stop_reason == StopReason.end_of_message and c.tokens[-1] == target


def test_stop_token_ids_add_to_the_tokenizers_stop_ids():
    """`SamplingParams.stop_token_ids` are stops in addition to the tokenizer's own (its <|eot_id|>):
    passing any must not make generation run past the end of turn (issue 18: replacing them ran 20
    tokens to out_of_tokens instead of 4 to end_of_turn)."""
    [free] = engine_for().generate([PROMPTS[0]], SamplingParams(max_tokens=20))
    eot = free.tokens[3]
    first = free.tokens.index(eot)
    unused = next(i for i in range(260, 300) if i not in free.tokens)

    class EotTokenizer(ByteTokenizer):
        specials = {**ByteTokenizer.specials, "<|eot_id|>": eot}

    engine = engine_for(EotTokenizer(stop_ids=(eot,)))
    for extra in ((), (unused,), (unused, unused + 1)):
        [c] = engine.generate([PROMPTS[0]], SamplingParams(max_tokens=20, stop_token_ids=extra))
        assert c.tokens == free.tokens[: first + 1] and len(c.tokens) <= 4, extra
        assert c.stop_reason == StopReason.end_of_turn and c.stop_token_id == eot
        streamed = list(engine.stream(PROMPTS[0], SamplingParams(max_tokens=20, stop_token_ids=extra)))
        assert [e.token_id for e in streamed if e.token_id is not None] == c.tokens
    # an extra stop id that comes first wins; the tokenizer's still stops the rows that reach it first
    earlier = free.tokens[1]
    if earlier != eot:
        [c] = engine.generate([PROMPTS[0]], SamplingParams(max_tokens=20, stop_token_ids=[earlier]))
        assert c.tokens == free.tokens[: free.tokens.index(earlier) + 1] and c.stop_token_id == earlier


def test_rows_stop_independently_in_a_batch():
    engine = engine_for()
    free = engine.generate(PROMPTS[:2], SamplingParams(max_tokens=10))
    stop = free[0].tokens[2]
    both = engine.generate(PROMPTS[:2], SamplingParams(max_tokens=10, stop_token_ids=[stop]))
    for f, b in zip(free, both, strict=True):
        cut = f.tokens.index(stop) + 1 if stop in f.tokens else len(f.tokens)
        assert b.tokens == f.tokens[:cut]


class LetterTokenizer(ByteTokenizer):
    def decode_bytes(self, ids) -> bytes:
        return b"".join(bytes([ord("a") + i % 7]) for i in ids)


def test_stop_strings_cut_the_text():
    engine = engine_for(LetterTokenizer(stop_ids=()))
    [free] = engine.generate([PROMPTS[3]], SamplingParams(max_tokens=20))
    stop = free.text[5:8]
    index = free.text.index(stop)
    [c] = engine.generate([PROMPTS[3]], SamplingParams(max_tokens=20, stop=[stop, "zzzz"]))
    assert c.text == free.text[:index] and c.stop_string == stop
    assert c.stop_reason == StopReason.end_of_turn
    assert len(c.tokens) == index + len(stop)  # one letter per token: stopped on the completing token


def test_stream_matches_generate_and_holds_back_stop_prefixes():
    engine = engine_for(LetterTokenizer(stop_ids=()))
    params = SamplingParams(max_tokens=15)
    [c] = engine.generate([PROMPTS[2]], params)
    events = list(engine.stream(PROMPTS[2], params))
    assert [e.token_id for e in events[:-1]] == c.tokens
    assert "".join(e.text for e in events) == c.text
    final = events[-1]
    assert final.token_id is None and final.stop_reason == StopReason.out_of_tokens
    assert isinstance(final.completion, Completion) and final.completion.tokens == c.tokens

    stop = c.text[6:9]
    events = list(engine.stream(PROMPTS[2], SamplingParams(max_tokens=15, stop=stop)))
    streamed = "".join(e.text for e in events)
    assert streamed == c.text[: c.text.index(stop)]
    assert stop not in streamed


def test_text_never_splits_multibyte_characters():
    class Utf8Pieces(ByteTokenizer):
        pieces = {
            1: b"h",
            2: "é".encode()[:1],
            3: "é".encode()[1:],
            4: "😀".encode()[:2],
            5: "😀".encode()[2:],
        }

        def decode_bytes(self, ids):
            return b"".join(self.pieces[i] for i in ids)

    text = _Text(Utf8Pieces(), stops=())
    deltas = []
    for i in [1, 2, 3, 4, 5]:
        text.add(i)
        deltas.append(text.take())
    assert deltas == ["h", "", "é", "", "😀"]
    text.add(2)
    text.finish()  # a dangling lead byte at the end becomes U+FFFD, never an exception
    assert text.take(final=True) == "\ufffd"


def test_logprobs_are_the_model_distribution():
    engine = engine_for()
    [c] = engine.generate([PROMPTS[0]], SamplingParams(max_tokens=4, logprobs=3))
    logp = torch.log_softmax(engine.forward(PROMPTS[0] + c.tokens[:-1])[0, len(PROMPTS[0]) - 1 :], -1)
    for t, (lp, tok) in enumerate(zip(c.logprobs, c.tokens, strict=True)):
        assert lp.token_id == tok and lp.logprob == pytest.approx(logp[t, tok].item(), abs=1e-5)
        assert [i for i, _ in lp.top] == logp[t].topk(3).indices.tolist()


def test_sampling_is_reproducible_through_the_engine():
    engine = engine_for()
    params = SamplingParams(temperature=1.0, top_p=0.95, seed=11, max_tokens=16)
    a = engine.generate(PROMPTS[:2], params)
    b = engine.generate(PROMPTS[:2], params)
    c = engine.generate(PROMPTS[:2], params.model_copy(update={"seed": 12}))
    assert [x.tokens for x in a] == [x.tokens for x in b]
    assert [x.tokens for x in a] != [x.tokens for x in c]


def test_too_long_and_bad_prompts_are_clear_errors():
    engine = engine_for(max_seq_len=32)
    with pytest.raises(
        SequenceTooLongError, match=r"prompt of 30 tokens \+ max_tokens 8 = 38 exceeds max_seq_len 32"
    ):
        engine.generate([[1] * 30], SamplingParams(max_tokens=8))
    with pytest.raises(ValueError, match="at least one token"):
        engine.generate([[]])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        engine.generate([[1, 100000]])
    [c] = engine.generate([[1] * 24], SamplingParams(max_tokens=8))  # exactly fits
    assert len(c.tokens) == 8


def test_weight_bytes():
    engine = engine_for()
    n_params = sum(t.numel() for t in random_meta_state_dict(tiny_args()).values())
    assert engine.weight_bytes == n_params * 4


def test_cuda_graphs_need_cuda():
    with pytest.raises(ValueError, match="needs device='cuda'"):
        engine_for(cuda_graphs=True)


@pytest.mark.slow
def test_compiled_decode_step_gives_the_same_tokens():
    eager = engine_for()
    compiled = engine_for(compile=True)
    params = SamplingParams(max_tokens=6)
    assert [c.tokens for c in compiled.generate(PROMPTS[:2], params)] == [
        c.tokens for c in eager.generate(PROMPTS[:2], params)
    ]
    [single] = compiled.generate([PROMPTS[1]], params)  # one row: the compiled step keeps the mask
    assert single.tokens == eager.generate([PROMPTS[1]], params)[0].tokens


def test_bf16_gemv_fast_path_matches_onednn_path():
    engine = engine_for(dtype=torch.bfloat16, cpu_kernels=False)  # the PyTorch decode step
    assert engine._gemv_fast_path  # CPU + bf16
    tokens, positions = torch.tensor([65]), torch.tensor([3])
    engine.forward(PROMPTS[0])  # fill positions 0..2 of row 0
    fast = engine._decode(tokens, positions, kv_len=4, exact=True)
    assert torch._C._get_mkldnn_enabled()  # the switch is restored
    engine._gemv_fast_path = False
    slow = engine._decode(tokens, positions, kv_len=4, exact=True)
    assert (fast - slow).abs().max().item() < 0.05 * slow.abs().max().item()
