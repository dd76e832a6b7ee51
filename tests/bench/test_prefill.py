"""`llamasys bench prefill` on a tiny random-weight checkpoint: both GEMM paths timed, compared, flag restored."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from llamasys.apps.cli import app
from llamasys.core_model import model as model_module
from llamasys.core_model.testing import tiny_args, write_meta_checkpoint


def test_bench_prefill_times_both_paths_against_the_float32_model(tmp_path):
    folder = write_meta_checkpoint(tmp_path / "m", tiny_args())
    flag = model_module._cpu_has_bf16_gemm
    result = CliRunner().invoke(app, ["bench", "prefill", "--model", str(folder), "--tokens", "48", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert model_module._cpu_has_bf16_gemm is flag  # the forced choice does not leak
    assert report["tokens"] == 48 and report["native_bf16_gemm"] == flag()
    for side in ("float32_gemm", "bf16_gemm", "float32_gemm_again"):
        assert report[side]["cpu_s"] > 0 and report[side]["argmax_as_float32_model"]
        assert 0 < report[side]["max_abs_vs_float32_model"] < 0.1  # bf16 rounding, not a different model
    # float32 GEMMs round once, at the end of each layer: no further from the float32 model than bf16 GEMMs
    assert (
        report["float32_gemm"]["max_abs_vs_float32_model"]
        <= report["bf16_gemm"]["max_abs_vs_float32_model"] * 1.5
    )
    expected = round(report["bf16_gemm"]["cpu_s"] / report["float32_gemm"]["cpu_s"], 2)
    assert report["cpu_speedup_float32_over_bf16"] == expected
