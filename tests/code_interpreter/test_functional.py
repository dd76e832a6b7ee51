"""What the interpreter is for: notebook-like state, tracebacks, plots, files, restarts, sessions."""

from __future__ import annotations

import asyncio
import io
import os

import pytest
from PIL import Image
from support import require_in_ci, sandbox_uid

from llamasys.tools.code_interpreter import CodeInterpreter, InterpreterError, InterpreterPool

OK_ONE = "completed\n[stdout]\n1\n[/stdout]"


async def test_state_persists_between_calls(backend, make_interpreter):
    interpreter = make_interpreter(backend)
    assert (await interpreter.run(code="import math\nx = 40")).content == "completed"
    await interpreter.run(code="x += 2\ndef double(v):\n    return 2 * v")
    result = await interpreter.run(code="print(x)\ndouble(math.floor(2.5))")
    assert result.content == "completed\n[stdout]\n42\n4\n[/stdout]"
    assert result.error is False and result.metadata["status"] == "completed"
    assert (await interpreter.run(code="None")).content == "completed"  # None is not echoed


async def test_exceptions_come_back_with_tracebacks(bwrap_backend, make_interpreter):
    interpreter = make_interpreter(bwrap_backend)
    result = await interpreter.run(code="def f(v):\n    return 1 / v\n\nprint('before')\nf(0)")
    assert result.error is True and result.metadata["status"] == "failed"
    assert result.content.startswith(
        "failed\n[stdout]\nbefore\n[/stdout]\n[stderr]\nTraceback (most recent call last):"
    )
    assert "line 5, in <module>" in result.content and "line 2, in f" in result.content
    assert "return 1 / v" in result.content  # the cell's source line is shown
    assert result.content.endswith("ZeroDivisionError: division by zero\n[/stderr]")
    assert "interpreter_worker" not in result.content  # no frames of the worker itself
    syntax = await interpreter.run(code="def broken(:\n    pass")
    assert syntax.content.startswith("failed") and "SyntaxError" in syntax.content
    library = await interpreter.run(code="import json\njson.loads('{')")
    assert "JSONDecodeError" in library.content and 'File "' not in library.content  # paths shortened
    assert (await interpreter.run(code="import sys\nsys.exit(0)")).content == "completed"
    exited = await interpreter.run(code="import sys\nsys.exit(3)")
    assert exited.content == "failed\n[stderr]\nSystemExit: 3\n[/stderr]"
    assert (await interpreter.run(code="print(1)")).content == OK_ONE


async def test_stdout_and_stderr_blocks(bwrap_backend, make_interpreter):
    interpreter = make_interpreter(bwrap_backend)
    result = await interpreter.run(
        code="import sys, subprocess\nprint('out')\nprint('err', file=sys.stderr)\n"
        "subprocess.run(['sh', '-c', 'echo child-out; echo child-err >&2'])\nNone"
    )
    assert result.content == (
        "completed\n[stdout]\nout\nchild-out\n[/stdout]\n[stderr]\nerr\nchild-err\n[/stderr]"
    )


async def test_output_is_capped_with_a_visible_note(bwrap_backend, make_interpreter):
    interpreter = make_interpreter(bwrap_backend, max_output_chars=1000)
    result = await interpreter.run(
        code="import sys\nsys.stdout.write('A' * 500 + 'B' * 9000 + 'C' * 500)\nNone"
    )
    assert "A" * 500 in result.content and "C" * 500 in result.content
    assert "[... 9000 characters of output truncated (the limit is 1000 per stream) ...]" in result.content
    assert "B" not in result.content


async def test_matplotlib_figure_comes_back_as_png(backend, make_interpreter):
    interpreter = make_interpreter(backend, wall_timeout_s=30)
    result = await interpreter.run(
        code="import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(4, 3))\n"
        "ax.plot([1, 2, 3], [3, 1, 2])\nax.set_title('demo')\nplt.show()"
    )
    assert result.content == "completed", result.content  # show() is harmless, no warning printed
    assert [a.mime_type for a in result.attachments] == ["image/png"]
    png = result.attachments[0].data
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.size == (400, 300)  # 4 x 3 inches at 100 dpi
    assert result.metadata["figures"] == 1
    again = await interpreter.run(code="print(len(plt.get_fignums()))")
    assert again.content == "completed\n[stdout]\n0\n[/stdout]" and again.attachments == []


async def test_uploaded_csv_is_read_by_pandas_and_written_files_come_back(backend, make_interpreter):
    interpreter = make_interpreter(backend, wall_timeout_s=30)
    await interpreter.upload("data/sales.csv", b"region,amount\nnorth,10\nsouth,32\nnorth,5\n")
    assert {"name": "data/sales.csv", "size": 40} in await interpreter.list_files()
    result = await interpreter.run(
        code="import pandas as pd\ndf = pd.read_csv('data/sales.csv')\n"
        "totals = df.groupby('region').amount.sum()\ntotals.to_csv('totals.csv')\nprint(totals.to_dict())"
    )
    assert result.content == "completed\n[stdout]\n{'north': 15, 'south': 32}\n[/stdout]", result.content
    [attachment] = result.attachments
    assert attachment.name == "totals.csv" and attachment.mime_type == "text/csv"
    assert attachment.data == b"region,amount\nnorth,15\nsouth,32\n"
    assert result.metadata["files"] == [{"name": "totals.csv", "size": 32, "attached": True}]
    assert await interpreter.download("totals.csv") == attachment.data
    with pytest.raises(InterpreterError, match="failed"):
        await interpreter.download("missing.csv")


async def test_large_written_files_are_listed_not_attached(bwrap_backend, make_interpreter):
    interpreter = make_interpreter(bwrap_backend, attach_files_max_bytes=1000)
    result = await interpreter.run(
        code="open('small.txt', 'w').write('hi')\nopen('big.bin', 'wb').write(bytes(5000))"
    )
    assert [a.name for a in result.attachments] == ["small.txt"]
    assert {"name": "big.bin", "size": 5000, "attached": False} in result.metadata["files"]
    assert len(await interpreter.download("big.bin")) == 5000


async def test_timeout_restarts_the_worker_and_keeps_uploads(backend, make_interpreter):
    interpreter = make_interpreter(backend, wall_timeout_s=1.5)
    await interpreter.upload("keep.txt", b"uploaded")
    await interpreter.run(code="x = 1\nopen('scratch.txt', 'w').write('mine')")
    result = await interpreter.run(code="import time\ntime.sleep(30)")
    assert result.content.startswith("timeout\n[stderr]\nExecution stopped")
    assert "state" in result.content and result.metadata == {
        "status": "timeout",
        "state_lost": True,
        "restarts": 1,
        "backend": backend,
    }
    after = await interpreter.run(
        code="import os\nprint(sorted(os.listdir('.')), open('keep.txt').read())\nx"
    )
    assert "['keep.txt'] uploaded" in after.content and "NameError" in after.content
    assert (await interpreter.run(code="print(1)")).content == OK_ONE


async def test_restart_and_close(bwrap_backend, make_interpreter):
    interpreter = make_interpreter(bwrap_backend)
    assert await interpreter.start() > 0 and interpreter.running
    await interpreter.run(code="y = 5")
    await interpreter.restart()
    assert "NameError" in (await interpreter.run(code="y")).content
    await interpreter.close()
    await interpreter.close()  # twice is fine
    closed = await interpreter.run(code="print(1)")
    assert closed.error and "closed" in closed.content


async def test_sessions_run_concurrently_and_apart(bwrap_backend):
    pool = InterpreterPool(backend=bwrap_backend, wall_timeout_s=10)
    try:
        sessions = [await pool.get(f"s{i}") for i in range(4)]
        assert len({id(s) for s in sessions}) == 4 and await pool.get("s0") is sessions[0]
        await asyncio.gather(*(s.run(code=f"me = {i}") for i, s in enumerate(sessions)))
        results = await asyncio.gather(
            *(
                s.run(code="import time, os\ntime.sleep(0.3)\nprint(me, len(os.listdir('.')))")
                for s in sessions
            )
        )
        assert [r.content for r in results] == [f"completed\n[stdout]\n{i} 0\n[/stdout]" for i in range(4)]
    finally:
        await pool.close()
    assert len(pool) == 0 and not sessions[0].running


async def test_pool_reaps_idle_and_evicts_least_recently_used(bwrap_backend):
    pool = InterpreterPool(backend=bwrap_backend, max_sessions=2, idle_timeout_s=0.3)
    try:
        a = await pool.get("a")
        await a.run(code="print(1)")
        b = await pool.get("b")
        await b.run(code="print(1)")
        await (await pool.get("a")).run(code="print(1)")  # b is now the least recently used
        c = await pool.get("c")
        assert "b" not in pool and "a" in pool and "c" in pool and not b.running
        await c.run(code="print(1)")
        await asyncio.sleep(0.5)
        assert sorted(await pool.reap()) == ["a", "c"] and len(pool) == 0
        assert not a.running and not c.running
    finally:
        await pool.close()


async def test_network_option_shares_the_host_network(bwrap_backend, make_interpreter):
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        interpreter = make_interpreter(bwrap_backend, network=True)
        result = await interpreter.run(
            code=f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5)\nprint('connected')"
        )
        assert "connected" in result.content
    finally:
        server.close()


async def test_unsandboxed_runs_only_when_allowed(tmp_path):
    refused = CodeInterpreter(backend="none")
    result = await refused.run(code="print(1)")
    assert result.error and "allow_unsandboxed=True" in result.content
    await refused.close()
    allowed = CodeInterpreter(backend="none", allow_unsandboxed=True)
    try:
        result = await allowed.run(code="import os\nprint(os.getcwd())")
        workdir = result.content.split("\n")[2]
        assert os.path.isdir(workdir) and "llamasys-unsandboxed-" in workdir
    finally:
        await allowed.close()
    assert not os.path.exists(workdir)  # its temporary working directory is removed


async def test_tool_contract(bwrap_backend, make_interpreter):
    interpreter = make_interpreter(bwrap_backend)
    definition = interpreter.definition
    assert definition.name == "code_interpreter"
    assert definition.parameters["properties"]["code"]["type"] == "string"
    assert definition.parameters["required"] == ["code"]
    bad = await interpreter.run(source="print(1)")
    assert bad.error and bad.metadata["kind"] == "invalid_arguments"


async def test_auto_falls_back_to_unshare_without_bwrap(unshare_backend, monkeypatch, make_interpreter):
    from llamasys.tools import sandbox

    real = sandbox.backend_problem
    monkeypatch.setattr(
        sandbox,
        "backend_problem",
        lambda b, network=False: "bwrap missing" if b == "bwrap" else real(b, network),
    )
    interpreter = make_interpreter("auto")
    result = await interpreter.run(code="import os\nprint(os.getuid())")
    uid = sandbox_uid(unshare_backend)
    assert (
        result.content == f"completed\n[stdout]\n{uid}\n[/stdout]" and result.metadata["backend"] == "unshare"
    )


async def test_background_reaper_closes_idle_sessions(bwrap_backend):
    pool = InterpreterPool(backend=bwrap_backend, idle_timeout_s=0.2)
    try:
        interpreter = await pool.get("idle")
        await interpreter.run(code="print(1)")
        pool.start_reaper(interval_s=0.1)
        for _ in range(50):
            if "idle" not in pool:
                break
            await asyncio.sleep(0.1)
        assert "idle" not in pool and not interpreter.running
    finally:
        await pool.close()


async def test_a_cancelled_call_does_not_desynchronise_the_next(bwrap_backend, make_interpreter):
    interpreter = make_interpreter(bwrap_backend)
    await interpreter.run(code="print(1)")
    task = asyncio.create_task(interpreter.run(code="import time\ntime.sleep(3)\nprint('late')"))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    result = await interpreter.run(code="print(2)")
    assert result.content == "completed\n[stdout]\n2\n[/stdout]" and result.metadata["restarts"] == 1


def _llamasys_source_dirs() -> list[str]:
    import importlib.util

    folders = []
    for package in ("core_model", "tools", "safety", "agentic", "apps"):
        spec = importlib.util.find_spec(f"llamasys.{package}")
        folders += list(spec.submodule_search_locations or []) if spec else []
    return sorted({os.path.realpath(f) for f in folders})


def _readable_by_others(folder: str) -> bool:
    """The folder, and a file in it, can be read by a uid that is neither owner nor group."""
    import stat

    mode = os.stat(folder).st_mode
    if not (mode & stat.S_IROTH and mode & stat.S_IXOTH):
        return False
    first = next((e for e in os.scandir(folder) if e.is_file(follow_symlinks=False)), None)
    return first is None or bool(first.stat().st_mode & stat.S_IROTH)


@pytest.mark.slow
async def test_works_for_an_unprivileged_host(backend):
    """The common deployment: the service runs as an ordinary user, not root. Simulated from root by
    running a host process as uid 65534 (with the Python installation made reachable for it)."""
    import shutil
    import subprocess
    import sys
    import textwrap

    from llamasys.tools.sandbox import python_paths, reveal_in_closed_dirs

    host_uid = os.geteuid() or 65534  # an ordinary user runs it as is; root simulates one
    if os.geteuid() == 0 and shutil.which("bwrap") is None:
        require_in_ci("simulating an unprivileged host from root needs bubblewrap (apt-get install it)")
    codes = [
        "import os\nprint('uid', os.getuid())",
        "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=1)",
        "import os\nn = 0\ntry:\n    while n < 100:\n        if os.fork() == 0:\n"
        "            import time; time.sleep(5); os._exit(0)\n        n += 1\nexcept OSError:\n    print('forks', n)",
    ]
    script = textwrap.dedent(
        f"""
        import asyncio, os
        from llamasys.tools.code_interpreter import CodeInterpreter

        async def main():
            interpreter = CodeInterpreter(backend={backend!r}, max_processes=12)
            for code in {codes!r}:
                print(repr((await interpreter.run(code=code)).content), flush=True)
            await interpreter.close()
            print("host uid", os.getuid())

        asyncio.run(main())
        """
    )
    command = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp", sys.executable, "-"]
    if os.geteuid() == 0:
        # The host needs this Python and llamasys' own source folders (an editable install reads them
        # from the checkout, which may sit under a private directory such as /root or a mktemp -d).
        sources = python_paths() + _llamasys_source_dirs()
        unreadable = [p for p in sources if not _readable_by_others(p)]
        if unreadable:
            require_in_ci(
                f"cannot simulate an unprivileged host: {unreadable[0]} is not readable by other users "
                "(a checkout made under umask 077?); clone with a umask of 022 to run this test"
            )
        stage = ["bwrap", "--dev-bind", "/", "/", "--die-with-parent", *reveal_in_closed_dirs(sources)]
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        command = [*stage, "--", *drop, *command]
    done = subprocess.run(command, input=script, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[-1] == f"host uid {host_uid}"
    assert "uid " in lines[0]  # 65534 under bubblewrap, 0 of its own user namespace under unshare
    assert "Network is unreachable" in lines[1]
    forks = int(lines[2].split("forks ")[1].split("\\n")[0])
    assert forks < 12
