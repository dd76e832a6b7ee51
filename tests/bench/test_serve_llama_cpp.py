"""The llama.cpp comparison of `llamasys bench serve`: the launcher and the streaming client, against a
stand-in for llama-cpp-python's server that behaves as its source does (one request at a time behind a
lock; with `interrupt_requests` on, the default, a stream is cut off without its final chunk as soon as
another request waits). None of this needs llama-cpp-python; the real server is run by the bench itself."""

from __future__ import annotations

import sys

import pytest

from llamasys.apps.bench import serve
from llamasys.apps.bench.serve import LlamaCppServer, _llama_cpp_contention, _llama_cpp_server, _most_at_once

FAKE_SERVER = r"""
import argparse, json, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--interrupt_requests", default="True")  # llama_cpp.server's default
args, _ = parser.parse_known_args()
interrupt = args.interrupt_requests != "False"
lock, waiting, count = threading.Lock(), [0], threading.Lock()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def chunk(self, data):
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def event(self, payload):
        self.chunk(b"data: " + payload.encode() + b"\r\n\r\n")

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert body["stream"] is True and body["temperature"] == 0
        with count:
            waiting[0] += 1
        with lock:  # one Llama object: one request at a time
            with count:
                waiting[0] -= 1
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(body["max_tokens"]):
                time.sleep(0.01)
                choice = {"text": "x", "index": 0, "logprobs": None, "finish_reason": None}
                self.event(json.dumps({"choices": [choice]}))
                if interrupt and waiting[0]:  # what llama_cpp.server does: [DONE], then drop the response
                    self.event("[DONE]")
                    self.close_connection = True
                    return
            self.event(json.dumps({"choices": [{"text": "", "index": 0, "finish_reason": "length"}]}))
            self.event("[DONE]")
            self.chunk(b"")

ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
"""


@pytest.fixture
def fake_server(tmp_path) -> tuple[str, ...]:
    path = tmp_path / "fake_llama_cpp_server.py"
    path.write_text(FAKE_SERVER)
    return (sys.executable, str(path))


def test_the_server_is_told_to_queue_requests_not_to_cut_them_off():
    argv = LlamaCppServer("m.gguf", 2).argv(8123)
    assert argv[:3] == [sys.executable, "-m", "llama_cpp.server"]
    flags = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert flags["--interrupt_requests"] == "False" and flags["--logits_all"] == "False"
    assert flags["--model"] == "m.gguf" and flags["--port"] == "8123" and flags["--host"] == "127.0.0.1"
    assert flags["--n_threads"] == flags["--n_threads_batch"] == "2" and flags["--n_ctx"] == "2048"


def test_four_streams_on_a_server_that_serves_one_at_a_time(fake_server):
    result = _llama_cpp_server("m.gguf", [f"prompt {i}" for i in range(4)], 5, 1, command=fake_server)
    assert result["available"] is True and "error" not in result and "errors" not in result, result
    assert result["requests_complete"] == 4 and result["tokens"] == result["tokens_expected"] == 20
    assert result["streams_decoding_at_once"] == 1  # it queued them: never two streams at once
    assert result["ttft"]["n"] == 4 and result["inter_token"]["n"] == 4 * 4
    assert result["aggregate_tok_s"] > 0 and result["aggregate_decode_tok_s"] > 0


def test_without_the_flag_the_streams_are_cut_off_and_reported(fake_server):
    class Interrupting(LlamaCppServer):  # the launcher as it was before: llama_cpp.server's default
        def argv(self, port: int) -> list[str]:
            argv = super().argv(port)
            at = argv.index("--interrupt_requests")
            return argv[:at] + argv[at + 2 :]

    with Interrupting("m.gguf", 1, command=fake_server) as server:
        result = server.run([f"prompt {i}" for i in range(4)], 20)
    assert result["requests_complete"] < 4
    assert any("incomplete chunked read" in e or "peer closed" in e for e in result["errors"]), result


def test_a_server_that_exits_is_an_error_in_the_report_not_an_exception():
    command = (sys.executable, "-c", "import sys; print('no such model file', file=sys.stderr); sys.exit(3)")
    result = _llama_cpp_server("m.gguf", ["p"], 4, 1, command=command)
    assert result["available"] is True
    assert "exited (3)" in result["error"] and "no such model file" in result["error"]
    with pytest.raises(RuntimeError, match="did not listen within"):
        LlamaCppServer("m.gguf", 1, command=(sys.executable, "-c", "import time; time.sleep(30)"),
                       start_timeout_s=0.5).__enter__()  # fmt: skip


def test_one_stream_idle_and_beside_busy_processes(fake_server):
    # 0 busy processes: the test checks the bookkeeping, not the machine; the bench passes at least 1
    result = _llama_cpp_contention("m.gguf", "prompt", 0, 6, 1, command=fake_server)
    assert result["idle"]["tokens"] == result["busy"]["tokens"] == 6, result
    assert result["kept"] > 0


def test_without_llama_cpp_python_or_a_gguf_it_says_why(monkeypatch):
    assert _llama_cpp_server(None, ["p"], 4, 1)["available"] is False
    monkeypatch.setattr(serve.importlib.util, "find_spec", lambda name: None)
    result = _llama_cpp_server("m.gguf", ["p"], 4, 1)
    assert result["available"] is False and "pip install" in result["reason"]


def test_streams_at_once_counts_overlapping_token_intervals():
    def run(first: float, last: float) -> dict:
        return {"times": [first, (first + last) / 2, last]}

    assert _most_at_once([run(0, 1), run(1, 2), run(2, 3)]) == 1  # one after another (touching)
    assert _most_at_once([run(0, 3), run(1, 2), run(1.5, 4), run(5, 6)]) == 3
    assert _most_at_once([run(0, 1), {"times": []}]) == 1 and _most_at_once([]) == 0
