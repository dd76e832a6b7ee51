"""Pure pieces without a sandbox: the result format, output capping, name checks, launch plans and the
fail-closed choice of a backend."""

from __future__ import annotations

import os

import pytest
from support import require_in_ci

from llamasys.tools import sandbox
from llamasys.tools.code_interpreter import _check_name, _join_stream, format_output
from llamasys.tools.interpreter_worker import CappedText
from llamasys.tools.sandbox import SandboxLimits, SandboxUnavailableError, choose_backend, plan_launch


def test_format_follows_meta_layout():
    assert format_output("completed", "7\n", "") == "completed\n[stdout]\n7\n[/stdout]"
    assert format_output("completed", "", "") == "completed"
    assert (
        format_output("failed", "a\n", "boom\n")
        == "failed\n[stdout]\na\n[/stdout]\n[stderr]\nboom\n[/stderr]"
    )
    assert format_output("timeout", "", "slow") == "timeout\n[stderr]\nslow\n[/stderr]"


def test_format_shortens_file_paths_in_stderr_only():
    stderr = 'Traceback (most recent call last):\n  File "/usr/lib/x.py", line 12, in f\nValueError: v\n'
    out = format_output("failed", 'File "/keep/me.py", line 3', stderr)
    assert "  line 12, in f" in out and "/usr/lib/x.py" not in out
    assert 'File "/keep/me.py", line 3' in out


def test_capped_text_keeps_head_and_tail():
    stream = CappedText(10)
    for piece in ("0123", "4567", "89ab", "cdef"):
        stream.write(piece)
    head, dropped, tail = stream.value()
    assert (head, dropped, tail) == ("01234", 6, "bcdef")
    small = CappedText(100)
    small.write("hello")
    assert small.value() == ("hello", 0, "")
    with pytest.raises(TypeError):
        small.write(b"bytes")  # type: ignore[arg-type]


def test_join_stream_notes_truncation():
    text = _join_stream(["ab", 5, "yz", "", 0, ""], 4)
    assert text == "ab\n[... 5 characters of output truncated (the limit is 4 per stream) ...]\nyz"
    assert _join_stream(["out\n", 0, "", "child\n", 0, ""], 100) == "out\nchild\n"


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../x", "a/../../b", ".", "a\0b"])
def test_bad_file_names_are_refused(name):
    with pytest.raises(Exception, match="invalid file name"):
        _check_name(name)


def test_good_file_names():
    assert _check_name("data/sales.csv") == "data/sales.csv"
    assert _check_name("./x.txt") == "x.txt"


def test_bwrap_plan_isolates_everything(monkeypatch):
    monkeypatch.setenv("LLAMASYS_FAKE_API_KEY", "sk-secret")
    if sandbox.shutil.which("bwrap") is None:
        require_in_ci("bubblewrap is not installed (apt-get install bubblewrap)")
    plan = plan_launch(["python", "w.py"], SandboxLimits(workdir_bytes=1234), backend="bwrap")
    argv = plan.argv
    for flag in ("--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"):
        assert flag in argv
    assert "--share-net" not in argv and "--clearenv" in argv and "--seccomp" in argv
    assert argv[argv.index("--tmpfs", argv.index("1234") - 3) + 1] == "/workspace"
    assert plan.env == {"PATH": "/usr/local/bin:/usr/bin:/bin"}  # the launcher itself gets no host env
    assert "sk-secret" not in " ".join(argv) and "LLAMASYS_FAKE_API_KEY" not in " ".join(argv)
    assert argv[-3:] == ["--", "python", "w.py"]
    if os.geteuid() == 0:
        assert "--reuid=65534" in argv  # host root never runs the sandbox
    networked = plan_launch(["python"], SandboxLimits(), backend="bwrap", network=True)
    assert "--share-net" in networked.argv


def test_python_installed_under_tmp_stays_visible(monkeypatch):
    """A checkout's venv under /tmp (as on CI) is bound after the private /tmp, not hidden by it."""
    venv = "/tmp/checkout/.venv"
    monkeypatch.setattr(sandbox, "python_paths", lambda: [venv, "/opt/python"])
    if sandbox.shutil.which("bwrap") is not None:
        argv = plan_launch(["python"], SandboxLimits(), backend="bwrap").argv
        inner = argv.index("--unshare-all")
        tmpfs_tmp = next(i for i in range(inner, len(argv)) if argv[i] == "--tmpfs" and argv[i + 1] == "/tmp")
        bind_venv = next(i for i in range(inner, len(argv)) if argv[i] == "--ro-bind" and argv[i + 1] == venv)
        assert tmpfs_tmp < bind_venv
    script = sandbox._unshare_script(["python"], SandboxLimits(), network=False, uid=65534, env={}, root=True)
    assert "llamasys-stage /tmp" not in script  # staging elsewhere, so the venv is still there to bind
    assert script.index("llamasys-tmp $R/tmp") < script.index(f"mount --rbind {venv} $R{venv}")


def test_missing_bwrap_is_reported(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailableError, match="apt-get install bubblewrap"):
        plan_launch(["python"], SandboxLimits(), backend="bwrap")


def test_choice_falls_back_then_fails_closed(monkeypatch):
    problems = {"bwrap": "bwrap is not installed", "unshare": None}
    monkeypatch.setattr(sandbox, "backend_problem", lambda backend, network=False: problems.get(backend))
    assert choose_backend("auto") == "unshare"
    problems["unshare"] = "unshare: Operation not permitted"
    with pytest.raises(SandboxUnavailableError, match="cannot sandbox") as failure:
        choose_backend("auto")
    assert "bwrap is not installed" in str(failure.value) and "allow_unsandboxed=True" in str(failure.value)
    with pytest.raises(SandboxUnavailableError):
        choose_backend("bwrap")
    assert choose_backend("auto", allow_unsandboxed=True) == "none"
    with pytest.raises(SandboxUnavailableError, match="allow_unsandboxed"):
        choose_backend("none")
    with pytest.raises(ValueError, match="unknown sandbox backend"):
        choose_backend("docker")


def test_seccomp_program_layout():
    import struct

    program = sandbox.seccomp_program("x86_64")
    assert program is not None and len(program) % 8 == 0
    instructions = [struct.unpack("<HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    assert instructions[0] == (0x20, 0, 0, 4) and instructions[1][3] == 0xC000003E  # check the arch first
    assert instructions[-2] == (0x06, 0, 0, 0x7FFF0000) and instructions[-1] == (0x06, 0, 0, 0x00050001)
    deny = len(instructions) - 1
    jumps = {ins[3]: i + 1 + ins[1] for i, ins in enumerate(instructions) if ins[0] in (0x15, 0x35) and i > 1}
    for name in ("ptrace", "keyctl", "add_key", "mount", "unshare", "bpf", "io_uring_setup"):
        assert jumps[sandbox._DENIED_SYSCALLS["x86_64"][name]] == deny  # each one lands on EPERM
    assert jumps[0x40000000] == deny  # and so does the x32 ABI
    assert sandbox.seccomp_program("sparc") is None
