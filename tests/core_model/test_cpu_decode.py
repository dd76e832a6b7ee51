"""The C decode step (cpu_decode.c) against transformers' Llama and against the PyTorch step, in both
builds (this CPU's vector kernels and the portable C loops), for float32, bf16 and int8 models."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from support import require_in_ci
from tiny_engine import make_engine

from llamasys.apps.bench.baselines import transformers_model
from llamasys.core_model import native_library
from llamasys.core_model.config import RopeScaling
from llamasys.core_model.cpu_decode import CpuDecodeStep, fp8_to_bf16, kernel_features, unsupported_reason
from llamasys.core_model.engine import Engine
from llamasys.core_model.native_library import NativeBuildError, load_native_library
from llamasys.core_model.quantize import quantize_model
from llamasys.core_model.sampling import SamplingParams
from llamasys.core_model.testing import SHAPE_CASES, random_meta_state_dict, tiny_args

BUILDS = ["native", "portable"]


@pytest.fixture(scope="module", autouse=True)
def compiler():
    if not any(shutil.which(c) for c in ("cc", "gcc", "clang")):
        require_in_ci("a C compiler (Debian: apt-get install gcc) for the C decode step")


def step_logits(model, step, prompts: list[list[int]], next_tokens: list[int]):
    """Prefill each prompt into its own cache row with PyTorch, then one decode step for all rows."""
    with torch.inference_mode():
        for row, prompt in enumerate(prompts):
            n = len(prompt)
            model(torch.tensor([prompt]), torch.arange(n)[None], row_start=row, kv_len=n, exact=True)
        return step(torch.tensor(next_tokens), torch.tensor([len(p) for p in prompts]))


def random_prompts(vocab: int, lengths: list[int], seed: int) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, vocab, (n,), generator=g).tolist() for n in lengths]


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("case", SHAPE_CASES)
def test_float32_step_matches_transformers(case, build):
    """Rows of different lengths decoded together; each row's logits equal transformers' full forward
    of that row at its last position."""
    args = tiny_args(**SHAPE_CASES[case])
    sd = random_meta_state_dict(args, seed=11)
    model = make_engine(args, sd, max_batch_size=3, cpu_kernels=False).model
    step = CpuDecodeStep(model, portable=build == "portable")
    prompts = random_prompts(args.vocab_size, [7, 30, 1], seed=12)
    nxt = [3, 99, 250]
    ours = step_logits(model, step, prompts, nxt)
    hf = transformers_model(SimpleNamespace(args=args, state_dict=sd, tokenizer=None), torch.float32)
    with torch.no_grad():
        for row, prompt in enumerate(prompts):
            ref = hf(torch.tensor([prompt + [nxt[row]]])).logits[0, -1].float()
            diff = (ours[row] - ref).abs().max().item()
            assert diff <= 1e-4, f"row {row}: max abs diff {diff}"


def test_odd_shapes_take_the_tail_paths():
    """Sizes that are no multiple of 4 rows or 16/32/64 columns (the kernels' masked tails and padded
    last row group) give the same logits as the PyTorch step."""
    args = tiny_args(dim=72, n_heads=4, n_kv_heads=2, ffn_hidden_dim=100, vocab_size=301, rope_scaling=None)
    sd = random_meta_state_dict(args, seed=3)
    for build in BUILDS:
        model = make_engine(args, sd, cpu_kernels=False).model
        prompts = random_prompts(args.vocab_size, [5, 11], seed=4)
        ours = step_logits(model, CpuDecodeStep(model, portable=build == "portable"), prompts, [1, 2])
        with torch.inference_mode():
            ref = model(torch.tensor([[1], [2]]), torch.tensor([[5], [11]]), kv_len=64, last_only=True)
        torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("build", BUILDS)
def test_fp8_widening_is_exact(build):
    """Every float8_e4m3fn code (but the two NaNs, which clamped weights never hold) widens to the bf16
    that PyTorch's cast gives, through the vector path (whole 32-byte chunks) and the scalar one."""
    codes = torch.arange(256, dtype=torch.uint8)
    nan = (codes & 0x7F) == 0x7F
    codes[nan] = 0
    fp8 = codes.view(torch.float8_e4m3fn)
    expected = fp8.to(torch.bfloat16).view(torch.int16)
    assert torch.equal(fp8_to_bf16(fp8, portable=build == "portable").view(torch.int16), expected)
    assert torch.equal(fp8_to_bf16(fp8[:-3], portable=build == "portable").view(torch.int16), expected[:-3])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fp8_step_matches_the_pytorch_fp8_path(dtype):
    """Same quantized weights, weight-only both ways; the C step rounds activations to bf16 for its
    fp8 layers (measured ~0.003 in float32, ~0.009 in bf16, vs ~0.04 for fp8 itself against float32)."""
    args = tiny_args(n_layers=3)
    sd = random_meta_state_dict(args, seed=23)
    prompts = random_prompts(args.vocab_size, [9, 40], seed=24)
    for quantization in ("fp8", "fp8-all"):
        model = make_engine(args, sd, dtype=dtype, quantization=quantization, cpu_kernels=False).model
        with torch.inference_mode():
            for row, p in enumerate(prompts):
                model(torch.tensor([p]), torch.arange(len(p))[None], row_start=row, kv_len=len(p), exact=True)
            ref = model(torch.tensor([[5], [6]]), torch.tensor([[9], [40]]), kv_len=64, last_only=True)
        for build in BUILDS:
            got = step_logits(model, CpuDecodeStep(model, portable=build == "portable"), prompts, [5, 6])
            assert relative_error(got, ref) < (0.01 if dtype == torch.float32 else 0.02), (
                quantization,
                build,
            )


def test_fp8_prefill_uses_the_fast_widening_with_the_same_logits():
    args = tiny_args()
    sd = random_meta_state_dict(args, seed=25)
    fast = make_engine(args, sd, dtype=torch.bfloat16, quantization="fp8-all")
    slow = make_engine(args, sd, dtype=torch.bfloat16, quantization="fp8-all", cpu_kernels=False)
    layer = fast.model.layers[0].feed_forward.w13
    assert layer.widen_to_bf16 is fp8_to_bf16 and slow.model.layers[0].feed_forward.w13.widen_to_bf16 is None
    tokens = random_prompts(args.vocab_size, [30], seed=26)
    assert torch.equal(fast.forward(tokens[0]), slow.forward(tokens[0]))  # exact widening: same numbers


@pytest.mark.parametrize("quantization", [None, "int8"])
def test_bf16_and_int8_stay_close_to_float32(quantization):
    """Measured: bf16 ~0.006 and int8 (W8A8, blocks of 32) ~0.012 relative max logit error against the
    float32 model; the PyTorch bf16 step shows ~0.013 on the same weights. Bound: 0.04."""
    args = tiny_args(rope_scaling=RopeScaling(factor=8.0, original_max_position_embeddings=64))
    sd = random_meta_state_dict(args, seed=21)
    prompts = random_prompts(args.vocab_size, [9, 40], seed=22)
    f32 = make_engine(args, sd, cpu_kernels=False).model
    ref = step_logits(f32, CpuDecodeStep(f32), prompts, [5, 6])
    results = {}
    for build in BUILDS:
        model = make_engine(args, sd, dtype=torch.bfloat16, cpu_kernels=False).model
        if quantization:
            quantize_model(model, quantization)
        got = step_logits(model, CpuDecodeStep(model, portable=build == "portable"), prompts, [5, 6])
        assert torch.isfinite(got).all()
        assert relative_error(got, ref) < 0.04
        results[build] = got
    # Both builds compute the same integer dot products and bf16 products; only float sums reorder.
    assert relative_error(results["native"], results["portable"]) < 2e-3


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("quantization", [None, "int8"])
def test_a_row_gives_the_same_logits_alone_and_batched(quantization, build):
    """Serving batches rows of different requests; a greedy request must not change with its company. The
    batched kernels share weight loads between rows in tiles, so row i is decoded in steps of i + 1
    rows (alone in its tile or not) and compared bit for bit with the step over all four."""
    args = tiny_args(dim=80, ffn_hidden_dim=168)  # inner sizes with partial blocks: the tail paths too
    sd = random_meta_state_dict(args, seed=41)
    model = make_engine(args, sd, dtype=torch.bfloat16, max_batch_size=4, cpu_kernels=False).model
    if quantization:
        quantize_model(model, quantization)
    step = CpuDecodeStep(model, portable=build == "portable")
    prompts = random_prompts(args.vocab_size, [5, 12, 3, 20], seed=42)
    nxt = [7, 8, 9, 10]
    full = step_logits(model, step, prompts, nxt)
    for i in range(3):
        part = step_logits(model, step, prompts[: i + 1], nxt[: i + 1])
        assert torch.equal(part[i], full[i]), f"row {i} differs between a {i + 1}-row step and a 4-row step"


def test_engine_uses_the_c_step_and_generates_like_pytorch():
    args = tiny_args()
    sd = random_meta_state_dict(args, seed=31)
    fast = make_engine(args, sd, max_seq_len=96)
    slow = make_engine(args, sd, max_seq_len=96, cpu_kernels=False)
    assert isinstance(fast.cpu_step, CpuDecodeStep) and slow.cpu_step is None
    fast.tokenizer = slow.tokenizer = SimpleNamespace(decode_bytes=lambda ids: b"t" * len(ids))
    prompts = random_prompts(args.vocab_size, [4, 17], seed=32)
    params = SamplingParams(max_tokens=12, temperature=0.8, top_p=0.9, seed=7, logprobs=2)
    a, b = fast.generate(prompts, params), slow.generate(prompts, params)
    assert [c.tokens for c in a] == [c.tokens for c in b]
    for ca, cb in zip(a, b, strict=True):
        for la, lb in zip(ca.logprobs, cb.logprobs, strict=True):
            assert abs(la.logprob - lb.logprob) < 1e-4


def test_environment_variable_turns_the_c_step_off(monkeypatch):
    args = tiny_args()
    monkeypatch.setenv("LLAMASYS_CPU_KERNELS", "0")
    assert make_engine(args, random_meta_state_dict(args)).cpu_step is None


def test_unsupported_models_fall_back_or_say_why():
    args = tiny_args()
    sd = random_meta_state_dict(args)
    emulated = make_engine(args, sd, cpu_kernels=False).model
    quantize_model(emulated, "fp8-all", fp8_mode="emulate")  # W8A8 emulation: PyTorch only
    assert "Fp8Linear layers in mode emulate" in unsupported_reason(emulated)
    assert Engine(emulated, tokenizer=None).cpu_step is None
    with pytest.raises(ValueError, match="cpu_kernels=True.*Fp8Linear layers in mode emulate"):
        Engine(emulated, tokenizer=None, cpu_kernels=True)
    with pytest.raises(ValueError, match="float16"):
        make_engine(args, sd, dtype=torch.float16, cpu_kernels=True)
    assert make_engine(args, sd, compile=True).cpu_step is None


def test_bad_rows_are_clear_errors():
    args = tiny_args()
    engine = make_engine(args, random_meta_state_dict(args))
    step = engine.cpu_step
    with pytest.raises(ValueError, match="3 rows"):
        step(torch.tensor([1, 2, 3]), torch.tensor([0, 0, 0]))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        step(torch.tensor([args.vocab_size]), torch.tensor([0]))
    with pytest.raises(ValueError, match="position outside 0..63"):
        step(torch.tensor([1]), torch.tensor([64]))


def test_build_failures_raise_and_the_engine_falls_back(tmp_path, monkeypatch, caplog):
    (tmp_path / "broken.c").write_text("int f(void) { return missing_symbol; }\n")
    monkeypatch.setattr(native_library, "_SOURCES", tmp_path)
    monkeypatch.setenv("LLAMASYS_HOME", str(tmp_path / "cache"))
    with pytest.raises(NativeBuildError, match="(?s)compiling broken.c failed.*missing_symbol"):
        load_native_library("broken.c")
    with pytest.raises(NativeBuildError, match="kernel source .*absent.c is missing"):
        load_native_library("absent.c")
    assert not list((tmp_path / "cache" / "kernels").glob("*.so"))  # nothing half-written is left
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("LLAMASYS_HOME", str(tmp_path / "not-a-folder"))
    monkeypatch.setattr(native_library, "_SOURCES", native_library.Path(native_library.__file__).parent)
    native_library._load.cache_clear()
    try:
        with pytest.raises(NativeBuildError, match="cannot write compiled kernels.*LLAMASYS_HOME"):
            load_native_library("cpu_decode.c")
    finally:
        native_library._load.cache_clear()

    def broken(*a, **k):
        raise NativeBuildError("no C compiler found")

    monkeypatch.setattr("llamasys.core_model.cpu_decode.CpuDecodeStep", broken)
    args = tiny_args()
    with caplog.at_level("WARNING"):
        engine = make_engine(args, random_meta_state_dict(args))
    assert engine.cpu_step is None and "C decode step is unavailable" in caplog.text
    with pytest.raises(NativeBuildError):
        make_engine(args, random_meta_state_dict(args), cpu_kernels=True)


def test_libraries_are_cached_per_source_and_flags(tmp_path, monkeypatch):
    monkeypatch.setenv("LLAMASYS_HOME", str(tmp_path))
    native_library._load.cache_clear()
    try:
        load_native_library("cpu_decode.c")
        load_native_library("cpu_decode.c", defines=("LS_NO_INTRINSICS",))
        built = sorted(p.name for p in (tmp_path / "kernels").glob("*.so"))
        assert len(built) == 2 and all(name.startswith("cpu_decode-") for name in built)
        mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "kernels").glob("*.so")}
        native_library._load.cache_clear()  # a new process: finds the built files, compiles nothing
        load_native_library("cpu_decode.c")
        assert {p: p.stat().st_mtime_ns for p in (tmp_path / "kernels").glob("*.so")} == mtimes
    finally:
        native_library._load.cache_clear()


def test_one_openmp_runtime_is_shared_with_pytorch():
    """The compiled step links `libgomp.so.1`, which must resolve to the copy PyTorch already loaded
    (one thread pool), not to a second runtime. Checked in a fresh interpreter."""
    code = (
        "from llamasys.core_model.cpu_decode import kernel_features; kernel_features()\n"
        "maps = open('/proc/self/maps').read().split('\\n')\n"
        "print('\\n'.join(sorted({l.split()[-1] for l in maps if l.endswith('/libgomp.so.1')})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = out.stdout.split()
    assert len(loaded) == 1, loaded
    torch_lib = Path(torch.__file__).parent / "lib"
    if (torch_lib / "libgomp.so.1").exists():
        assert Path(loaded[0]).parent == torch_lib


def test_cpus_with_avx512_bf16_and_vnni_get_the_vector_kernels():
    """On such a CPU the fast kernels must be compiled in, not the loops; on one without AVX-512 (no
    skip: both kinds of CPU run this) none of the AVX-512 kernels may be, or the step would crash."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        require_in_ci("needs Linux /proc/cpuinfo to know the CPU's flags")
    flags = set(cpuinfo.read_text().split())
    if {"avx512f", "avx512_bf16", "avx512_vnni"} <= flags:
        assert kernel_features() == ["avx512", "avx512_bf16", "avx512_vnni", "fp8"]
    elif "avx512f" not in flags:
        assert kernel_features() == (["avx2"] if {"avx2", "fma"} <= flags else [])
    assert kernel_features(portable=True) == []
