"""The third-party baselines the engine benchmark compares against: transformers' LlamaForCausalLM on the same
weights, and llama.cpp (llama-cpp-python) on the same GGUF file.

Each baseline runs in a process of its own (`IsolatedBaseline`, which starts
`python -m llamasys.apps.bench.baselines`): a baseline that crashes (llama.cpp built for a CPU feature
the machine lacks dies with SIGILL), hangs or is not installed is reported in the JSON as `failed` /
`skipped` with the reason, and our own figures stand. The transformers side is still timed run by run,
alternating with the engine: the parent asks for one run at a time over the child's stdin/stdout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import torch

from llamasys.core_model.checkpoints.hf import meta_state_dict_to_hf

__all__ = ["IsolatedBaseline", "TransformersRunner", "time_llama_cpp", "transformers_model"]

_MARK = "@@llamasys-baseline "  # prefixes protocol lines: whatever else a library prints is ignored


class IsolatedBaseline:
    """A baseline in a child process. `report` is None while it works, else `{"failed": why}` (crash:
    the signal or exit status and the end of its stderr; timeout) or `{"skipped": why}` (not installed).

    >>> side = IsolatedBaseline({"op": "llama_cpp", ...}, timeout_s=600)   # one-shot: side.result
    >>> side = IsolatedBaseline({"op": "transformers", ...})               # then side.run() per repeat
    """

    def __init__(self, request: dict[str, Any], *, timeout_s: float = 900.0) -> None:
        self.timeout_s = timeout_s
        self.report: dict[str, Any] | None = None
        self.tokens: list[int] = []
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by close())
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "llamasys.apps.bench.baselines"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
        )
        reply = self._call(request)
        self.result: dict[str, Any] = reply or {}
        if reply is not None and ("failed" in reply or "skipped" in reply):
            self.report = reply
            self.close()

    @property
    def ok(self) -> bool:
        return self.report is None

    def run(self) -> tuple[float, float] | None:
        """One timed run (prefill seconds, decode tokens/s), or None once the child has failed."""
        reply = self._call({"op": "run"})
        if reply is None or "run" not in reply:
            if reply is not None:
                self.report = reply
            return None
        self.tokens = reply["tokens"]
        return float(reply["run"][0]), float(reply["run"][1])

    def _call(self, message: dict[str, Any]) -> dict[str, Any] | None:
        if self.report is not None:
            return None
        timer = threading.Timer(self.timeout_s, self._proc.kill)
        timer.start()
        try:
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.write(json.dumps(message) + "\n")
            self._proc.stdin.flush()
            while True:
                line = self._proc.stdout.readline()
                if not line:
                    raise EOFError
                if line.startswith(_MARK):
                    return json.loads(line[len(_MARK) :])  # type: ignore[no-any-return]
        except (EOFError, OSError, ValueError):
            self._died(timed_out=not timer.is_alive())
            return None
        finally:
            timer.cancel()

    def _died(self, *, timed_out: bool) -> None:
        code = self._proc.wait()
        self._stderr.seek(0)
        tail = self._stderr.read()[-1500:]
        if timed_out:
            why = f"did not answer within {self.timeout_s:g} s and was stopped"
        elif code < 0:
            why = f"crashed with {signal.Signals(-code).name}"
        else:
            why = f"exited with status {code}"
        self.report = {"failed": f"the baseline process {why}", "stderr_tail": tail}

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self._proc.stdin.flush()
                self._proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._stderr.close()


def transformers_model(checkpoint: Any, dtype: torch.dtype, device: str | torch.device = "cpu"):
    """transformers' LlamaForCausalLM holding the checkpoint's tensors (Meta layout converted back)."""
    import dataclasses

    from transformers import LlamaConfig, LlamaForCausalLM

    a = checkpoint.args
    rope_scaling = None
    if a.rope_scaling is not None:
        rope_scaling = {"rope_type": "llama3"} | dataclasses.asdict(a.rope_scaling)
    tied = checkpoint.state_dict["output.weight"] is checkpoint.state_dict["tok_embeddings.weight"]
    config = LlamaConfig(
        hidden_size=a.dim,
        intermediate_size=a.ffn_hidden_dim,
        num_hidden_layers=a.n_layers,
        num_attention_heads=a.n_heads,
        num_key_value_heads=a.n_kv_heads,
        vocab_size=a.vocab_size,
        rms_norm_eps=a.norm_eps,
        rope_theta=a.rope_theta,
        rope_scaling=rope_scaling,
        max_position_embeddings=a.max_position_embeddings,
        tie_word_embeddings=tied,
        head_dim=a.head_dim,
        bos_token_id=getattr(checkpoint.tokenizer, "bos_id", None),
        eos_token_id=None,
        pad_token_id=0,
    )
    hf = meta_state_dict_to_hf(checkpoint.state_dict, a, tied=tied)
    model = LlamaForCausalLM(config)
    missing, unexpected = model.load_state_dict(hf, strict=False)
    if unexpected or set(missing) - {"lm_head.weight"}:
        raise RuntimeError(
            f"transformers baseline: weights did not map (missing {missing}, unexpected {unexpected})"
        )
    return model.to(device=device, dtype=dtype).eval()


class _TokenClock:
    """A transformers streamer that only timestamps: `put` gets the prompt first, then each new token."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def put(self, value) -> None:
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


class TransformersRunner:
    """One timed run = one generate of `new_tokens`; the streamer's timestamps split prefill (up to
    the first new token) from decode (first to last new token)."""

    def __init__(self, model, prompt: list[int], new_tokens: int, batch: int = 1) -> None:
        device = next(model.parameters()).device
        self.model, self.n_prompt, self.new_tokens, self.batch = model, len(prompt), new_tokens, batch
        self.ids = torch.tensor([prompt] * batch, device=device)
        self.kw = dict(attention_mask=torch.ones_like(self.ids), do_sample=False, pad_token_id=0)
        self.tokens: list[int] = []
        self._generate(2, None)  # warm-up

    def _generate(self, n: int, streamer) -> torch.Tensor:
        with torch.inference_mode():
            return self.model.generate(
                self.ids, max_new_tokens=n, min_new_tokens=n, streamer=streamer, **self.kw
            )

    def run(self) -> tuple[float, float]:
        clock = _TokenClock()
        start = time.perf_counter()
        out = self._generate(self.new_tokens, clock)
        self.tokens = out[0, self.n_prompt :].tolist()
        first, last = clock.times[1], clock.times[-1]  # times[0] is the prompt
        return first - start, self.batch * (self.new_tokens - 1) / max(last - first, 1e-9)


def time_llama_cpp(
    gguf_path: str, prompt: list[int], new_tokens: int, threads: int, repeats: int
) -> dict[str, Any]:
    """llama.cpp (through llama-cpp-python) on the same GGUF file and prompt ids, greedy, batch 1: the
    generator is timestamped like the transformers streamer (prefill = up to the first token, decode =
    first to last); the context is reset before each run, so every run prefills the whole prompt."""
    try:
        import llama_cpp  # type: ignore[import-not-found]
    except ImportError:
        return {
            "skipped": "llama-cpp-python is not installed (pip install llama-cpp-python builds from source)"
        }
    llm = llama_cpp.Llama(
        model_path=gguf_path, n_threads=threads, n_ctx=len(prompt) + new_tokens + 8, verbose=False
    )

    def run(n: int) -> tuple[float, float, list[int]]:
        llm.reset()
        times, tokens = [], []
        start = time.perf_counter()
        for token in llm.generate(prompt, temp=0.0, top_k=1, reset=True):
            times.append(time.perf_counter())
            tokens.append(int(token))
            if len(tokens) == n:
                break
        return times[0] - start, (n - 1) / max(times[-1] - times[0], 1e-9), tokens

    run(4)  # warm-up
    runs = [run(new_tokens) for _ in range(repeats)]
    return {
        "version": getattr(llama_cpp, "__version__", None),
        "threads": threads,
        "prefill_tok_s": round(len(prompt) / min(r[0] for r in runs), 1),
        "decode_tok_s": round(max(r[1] for r in runs), 2),
        "decode_tok_s_runs": [round(r[1], 2) for r in runs],
        "tokens": runs[0][2],
    }


def _serve() -> None:
    """The child side: requests as JSON lines on stdin, replies as marked JSON lines on stdout."""
    from llamasys.apps.bench.timing import rss_mb

    out = sys.stdout
    sys.stdout = sys.stderr  # anything a library prints stays out of the protocol

    def reply(value: dict[str, Any]) -> None:
        out.write(_MARK + json.dumps(value) + "\n")
        out.flush()

    runner: TransformersRunner | None = None
    for line in sys.stdin:
        request = json.loads(line)
        op = request.get("op")
        if op == "quit":
            return
        try:
            if request.get("threads"):
                torch.set_num_threads(int(request["threads"]))
            if op == "llama_cpp":
                reply(time_llama_cpp(**request["args"]))
            elif op == "transformers":
                try:
                    import transformers  # noqa: F401
                except ImportError:
                    reply({"skipped": "transformers is not installed (pip install transformers)"})
                    continue
                from llamasys.core_model.checkpoints import read_checkpoint

                before = rss_mb()
                dtype = getattr(torch, request["dtype"])
                model = transformers_model(read_checkpoint(request["model"]), dtype, request["device"])
                runner = TransformersRunner(model, request["prompt"], request["new_tokens"], request["batch"])
                reply({"ready": True, "rss_growth_mb": round(rss_mb() - before, 1)})
            elif op == "run" and runner is not None:
                prefill_s, decode = runner.run()
                reply({"run": [prefill_s, decode], "tokens": runner.tokens})
            else:
                reply({"failed": f"unknown request {op!r}"})
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which carries on
            reply({"failed": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    _serve()
