"""The hostile battery: programs a model (or a prompt injection) might write to escape or to hurt the
host. Each runs on every sandbox backend available (bubblewrap and the unshare fallback); each test
checks the concrete containment AND that the next call of the same interpreter still works."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
from support import require_in_ci, sandbox_uid

from llamasys.tools.code_interpreter import CodeInterpreter, InterpreterError
from llamasys.tools.sandbox import backend_problem, worker_source

OK_ONE = "completed\n[stdout]\n1\n[/stdout]"


async def assert_still_works(interpreter: CodeInterpreter) -> None:
    result = await interpreter.run(code="print(1)")
    assert result.content == OK_ONE, result.content


def attempt(body: str) -> str:
    """Wrap `body` so that success prints ESCAPED and an exception prints BLOCKED <type>."""
    indented = "\n".join("    " + line for line in body.strip().splitlines())
    return f"try:\n{indented}\n    print('ESCAPED')\nexcept BaseException as e:\n    print('BLOCKED', type(e).__name__, e)\n"


# a detached grandchild whose command line carries the session tag, to find it on the host
SLEEPER = (
    "import subprocess, sys\n"
    "subprocess.Popen([sys.executable, '-c', 'import os, time; os.setsid(); os.fork(); time.sleep(600)', "
    "'llamasys-session={session}'], start_new_session=True)"
)


def tagged_processes(session_id: str) -> list[int]:
    """Host processes whose command line carries this interpreter's session tag."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"llamasys-session={session_id}".encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def blocked(interpreter: CodeInterpreter, body: str) -> str:
    result = await interpreter.run(code=attempt(body))
    assert "BLOCKED" in result.content and "ESCAPED" not in result.content, result.content
    return result.content


# -- network -------------------------------------------------------------------------------------


async def test_tcp_connect_to_host_loopback_service(backend, make_interpreter):
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    port = server.getsockname()[1]
    try:
        interpreter = make_interpreter(backend)
        out = await blocked(
            interpreter, f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"
        )
        assert "ConnectionRefusedError" in out  # the sandbox's loopback is its own
        with pytest.raises(TimeoutError):
            server.accept()  # nothing reached the host's service
        await assert_still_works(interpreter)
    finally:
        server.close()


async def test_tcp_connect_to_the_internet(backend, make_interpreter):
    interpreter = make_interpreter(backend)
    out = await blocked(interpreter, "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)")
    assert "Network is unreachable" in out
    out = await blocked(
        interpreter,
        "import socket\nprint([n for n in socket.if_nameindex()])\nassert False, 'see interfaces'",
    )
    assert "'lo'" in out and "eth" not in out  # only loopback exists
    await assert_still_works(interpreter)


# a DNS query for example.com (type A), sent straight to a resolver address: no resolv.conf involved
DNS_QUERY = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"


async def network_evidence(interpreter: CodeInterpreter, resolver_port: int) -> tuple[str, str]:
    """(the sandbox's network namespace, its answer to a DNS query sent to a host-loopback resolver)."""
    result = await interpreter.run(
        code="import os, socket\nprint(os.readlink('/proc/self/ns/net'))\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.settimeout(2)\n"
        f"s.sendto({DNS_QUERY!r}, ('127.0.0.1', {resolver_port}))\n"
        "try:\n    print('answer', s.recv(512))\nexcept OSError as e:\n    print('no answer', type(e).__name__)"
    )
    lines = result.content.splitlines()
    assert lines[:2] == ["completed", "[stdout]"], result.content
    return lines[2], lines[3]


async def serve_dns_once(resolver: socket.socket) -> bytes | None:
    """Answer one query arriving at `resolver` (echoing it back, flagged as a response); None if none came."""
    loop = asyncio.get_running_loop()
    try:
        query, peer = await asyncio.wait_for(loop.sock_recvfrom(resolver, 512), timeout=4)
    except TimeoutError:
        return None
    await loop.sock_sendto(resolver, query[:2] + b"\x81\x80" + query[4:], peer)
    return query


async def test_dns_resolution(backend, make_interpreter):
    """Names do not resolve because there is no network, not for want of /etc/resolv.conf: a query sent
    straight to a resolver on the host's loopback never arrives, and the sandbox's network namespace is
    not the host's. The same probe from a sandbox with network=True reaches the resolver, so this test
    fails on a sandbox that shares the host's network."""
    host_namespace = os.readlink("/proc/self/ns/net")
    resolver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    resolver.bind(("127.0.0.1", 0))
    resolver.setblocking(False)
    port = resolver.getsockname()[1]
    try:
        isolated = make_interpreter(backend)
        probe = asyncio.create_task(network_evidence(isolated, port))
        arrived = await serve_dns_once(resolver)
        namespace, answer = await probe
        assert arrived is None and answer.startswith("no answer"), (arrived, answer)
        assert namespace.startswith("net:[") and namespace != host_namespace
        out = await blocked(isolated, "import socket\nsocket.getaddrinfo('example.com', 443)")
        assert "gaierror" in out
        await assert_still_works(isolated)

        problem = backend_problem(backend, True)
        if problem is not None:
            require_in_ci(f"sandbox backend {backend} with network=True does not start: {problem}")
        shared = make_interpreter(backend, network=True)
        probe = asyncio.create_task(network_evidence(shared, port))
        arrived = await serve_dns_once(resolver)
        namespace, answer = await probe
        assert arrived == DNS_QUERY and answer.startswith("answer"), (arrived, answer)
        assert namespace == host_namespace
    finally:
        resolver.close()


async def test_abstract_unix_socket_of_the_host(backend, make_interpreter):
    name = f"\0llamasys-test-{uuid.uuid4().hex}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(name)
    server.listen()
    try:
        interpreter = make_interpreter(backend)
        out = await blocked(
            interpreter,
            f"import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({name!r})",
        )
        assert "ConnectionRefusedError" in out
        await assert_still_works(interpreter)
    finally:
        server.close()


# -- reading what is not ours --------------------------------------------------------------------


async def test_read_etc_shadow(backend, make_interpreter):
    interpreter = make_interpreter(backend)
    out = await blocked(interpreter, "print(open('/etc/shadow').read())")
    assert "root:" not in out
    await assert_still_works(interpreter)


async def test_read_host_home(backend, make_interpreter):
    home = Path.home()
    secret = home / f".llamasys-test-secret-{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    secret.write_text(token)
    try:
        interpreter = make_interpreter(backend)
        out = await blocked(interpreter, f"print(open({str(secret)!r}).read())")
        assert token not in out
        listing = await interpreter.run(code=f"import os\nprint(sorted(os.listdir({str(home)!r})))")
        assert secret.name not in listing.content
        await assert_still_works(interpreter)
    finally:
        secret.unlink()


async def test_read_another_sessions_files(backend, make_interpreter):
    token = uuid.uuid4().hex
    alice = make_interpreter(backend)
    bob = make_interpreter(backend)
    await alice.run(code=f"open('secret.txt', 'w').write({token!r})")
    out = await blocked(bob, "print(open('/workspace/secret.txt').read())")
    assert token not in out
    hunt = await bob.run(
        code="import os\nfor root, dirs, files in os.walk('/'):\n"
        "    dirs[:] = [d for d in dirs if root != '/' or d not in ('proc', 'usr', 'sys')]\n"
        "    if 'secret.txt' in files: print('FOUND', root)"
    )
    assert "FOUND" not in hunt.content
    assert (await alice.download("secret.txt")).decode() == token
    await assert_still_works(bob)


async def test_read_parent_environ_and_host_secrets(backend, make_interpreter, monkeypatch):
    secret = "sk-llamasys-fake-" + uuid.uuid4().hex
    monkeypatch.setenv("LLAMASYS_FAKE_API_KEY", secret)
    interpreter = make_interpreter(backend)
    out = await blocked(interpreter, f"print(open('/proc/{os.getpid()}/environ').read())")
    assert "FileNotFoundError" in out  # the host's processes are not visible
    result = await interpreter.run(
        code="import os, glob\nprint(dict(os.environ))\n"
        "for p in glob.glob('/proc/*/environ'):\n"
        "    try: print(p, open(p, 'rb').read())\n"
        "    except OSError as e: print(p, e)\n"
    )
    assert "LLAMASYS_FAKE_API_KEY" not in result.content and secret not in result.content
    assert "/workspace" in result.content  # the output is real: HOME is there
    await assert_still_works(interpreter)


async def test_project_sources_and_removed_modules(backend, make_interpreter):
    interpreter = make_interpreter(backend)
    project = str(Path(__file__).resolve().parents[2])
    out = await blocked(
        interpreter, f"import sys\nsys.path.insert(0, {project!r})\nimport llamasys.tools.base"
    )
    assert "ModuleNotFoundError" in out
    await blocked(interpreter, f"open({project + '/pyproject.toml'!r}).read()")
    await assert_still_works(interpreter)


async def test_devices(backend, make_interpreter):
    interpreter = make_interpreter(backend)
    for device in ("/dev/sda", "/dev/vda", "/dev/mem", "/dev/kmsg", "/dev/port"):
        out = await blocked(interpreter, f"open({device!r}, 'rb').read(16)")
        assert "FileNotFoundError" in out or "PermissionError" in out
    await assert_still_works(interpreter)


# -- writing where we should not -----------------------------------------------------------------


async def test_write_outside_the_working_directory(backend, make_interpreter):
    worker = Path(worker_source())
    before = hashlib.sha256(worker.read_bytes()).hexdigest()
    interpreter = make_interpreter(backend)
    for target in ("/usr/evil", "/etc/evil", "/evil", "/opt/llamasys/interpreter_worker.py", str(worker)):
        out = await blocked(interpreter, f"open({target!r}, 'w').write('pwned')")
        assert "OSError" in out or "PermissionError" in out or "FileNotFoundError" in out, out
    assert hashlib.sha256(worker.read_bytes()).hexdigest() == before
    assert not any(Path(p).exists() for p in ("/usr/evil", "/etc/evil", "/evil"))
    await assert_still_works(interpreter)


async def test_private_tmp(backend, make_interpreter):
    name = f"llamasys-test-{uuid.uuid4().hex}"
    interpreter = make_interpreter(backend)
    result = await interpreter.run(code=f"open('/tmp/{name}', 'w').write('x'); print('written')")
    assert "written" in result.content
    assert not Path("/tmp", name).exists()
    await assert_still_works(interpreter)


async def test_symlink_escape(backend, make_interpreter):
    interpreter = make_interpreter(backend)
    home_file = str(Path.home() / ".bashrc")
    out = await interpreter.run(
        code=f"import os\nos.symlink('/etc/shadow', 'shadow')\nos.symlink({home_file!r}, 'rc')\n"
        "os.symlink('/', 'root')\nprint('links made')"
    )
    assert "links made" in out.content
    await blocked(interpreter, "print(open('shadow').read())")
    for name in ("shadow", "rc", "root/etc/shadow"):
        with pytest.raises(InterpreterError):
            await interpreter.download(name)  # resolved inside the sandbox, and refused
    await assert_still_works(interpreter)


async def test_dotdot_escape(backend, make_interpreter):
    interpreter = make_interpreter(backend)
    await blocked(interpreter, "print(open('../../../../../../etc/shadow').read())")
    for name in ("../etc/passwd", "/etc/passwd", "a/../../x"):
        with pytest.raises(InterpreterError, match="invalid file name"):
            await interpreter.download(name)
        with pytest.raises(InterpreterError, match="invalid file name"):
            await interpreter.upload(name, b"x")
    await assert_still_works(interpreter)


# -- resources -----------------------------------------------------------------------------------


async def test_fork_bomb(backend, make_interpreter):
    interpreter = make_interpreter(backend, max_processes=24)
    result = await interpreter.run(
        code="import os, time\npids = []\ntry:\n    for _ in range(5000):\n        pid = os.fork()\n"
        "        if pid == 0:\n            time.sleep(60)\n            os._exit(0)\n        pids.append(pid)\n"
        "except OSError as e:\n    print('BLOCKED after', len(pids), type(e).__name__)\n"
    )
    assert "BLOCKED after" in result.content, result.content
    assert int(result.content.split("BLOCKED after ")[1].split()[0]) < 24
    await assert_still_works(interpreter)


@pytest.mark.slow
async def test_recursive_fork_bomb(backend, make_interpreter):
    interpreter = make_interpreter(backend, max_processes=24, wall_timeout_s=3)
    session = interpreter.session_id
    result = await interpreter.run(
        code="import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    assert result.content.startswith("timeout")
    assert tagged_processes(session) == []  # every forked process died with the sandbox
    await assert_still_works(interpreter)


async def test_memory_bomb(backend, make_interpreter):
    interpreter = make_interpreter(backend, memory_bytes=512 << 20)
    result = await interpreter.run(code="blocks = []\nwhile True:\n    blocks.append(bytearray(64 << 20))")
    assert result.content.startswith("failed") and "MemoryError" in result.content
    result = await interpreter.run(code="x = bytearray(8 << 30)")
    assert "MemoryError" in result.content
    await assert_still_works(interpreter)


async def test_cpu_spin_is_stopped_by_the_cpu_budget(backend, make_interpreter):
    interpreter = make_interpreter(backend, cpu_seconds=1, wall_timeout_s=20)
    await interpreter.run(code="kept = 'state'")
    result = await interpreter.run(code="while True:\n    pass")
    assert result.content.startswith("failed") and "CPUTimeExceeded" in result.content
    assert (await interpreter.run(code="print(kept)")).content == "completed\n[stdout]\nstate\n[/stdout]"
    await assert_still_works(interpreter)


async def test_cpu_spin_ignoring_sigxcpu_hits_the_wall_clock(backend, make_interpreter):
    interpreter = make_interpreter(backend, cpu_seconds=1, wall_timeout_s=2.5)
    result = await interpreter.run(
        code="import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass"
    )
    assert result.content.startswith("timeout") and "state" in result.content
    assert result.metadata["state_lost"] is True
    await assert_still_works(interpreter)


async def test_sleep_past_the_timeout(backend, make_interpreter):
    interpreter = make_interpreter(backend, wall_timeout_s=1.5)
    session = interpreter.session_id
    await interpreter.run(code="x = 42")
    result = await interpreter.run(code=f"{SLEEPER.format(session=session)}\nimport time\ntime.sleep(600)")
    assert result.content.startswith("timeout\n[stderr]\n") and "1.5 s wall-clock limit" in result.content
    assert tagged_processes(session) == []  # the worker and its child are gone
    lost = await interpreter.run(code="print(x)")
    assert "NameError" in lost.content  # a fresh worker: the state is gone, as the result said
    await assert_still_works(interpreter)


async def test_gigabytes_of_output(backend, make_interpreter):
    interpreter = make_interpreter(backend, max_output_chars=2000, wall_timeout_s=30)
    result = await interpreter.run(
        code="import sys, os\nchunk = 'y' * (1 << 20)\nfor _ in range(2048):\n    sys.stdout.write(chunk)\n"
        "try:\n    for _ in range(256):\n        os.write(1, b'z' * (1 << 20))\nexcept OSError as e:\n"
        "    print('fd output stopped:', e)\n"
    )
    assert result.content.startswith("completed")
    assert len(result.content) < 3 * 2000 + 1000
    assert "characters of output truncated" in result.content
    assert "File too large" in result.content or "No space left" in result.content
    await assert_still_works(interpreter)


async def test_filling_the_disk(backend, make_interpreter):
    interpreter = make_interpreter(backend, max_file_bytes=16 << 20, workdir_bytes=48 << 20)
    out = await blocked(
        interpreter, "with open('big', 'wb') as f:\n    while True:\n        f.write(bytes(1 << 20))"
    )
    assert "File too large" in out
    out = await blocked(
        interpreter,
        "for i in range(100):\n    with open(f'part{i}', 'wb') as f:\n        for _ in range(15):\n"
        "            f.write(bytes(1 << 20))",
    )
    assert "No space left" in out
    for where in ("/tmp", "/dev/shm"):
        out = await blocked(
            interpreter,
            f"for i in range(100):\n    with open('{where}/f%d' % i, 'wb') as f:\n        for _ in range(15):\n"
            "            f.write(bytes(1 << 20))",
        )
        assert "No space left" in out
    await assert_still_works(interpreter)


async def test_raising_own_limits(backend, make_interpreter):
    interpreter = make_interpreter(backend)
    for name in ("RLIMIT_NPROC", "RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE"):
        out = await blocked(
            interpreter,
            f"import resource\nresource.setrlimit(resource.{name}, (resource.RLIM_INFINITY,) * 2)",
        )
        assert "ValueError" in out or "PermissionError" in out
    await assert_still_works(interpreter)


# -- processes and privileges --------------------------------------------------------------------


async def test_killing_the_parent_and_everyone(backend, make_interpreter):
    # a host process of the very uid the sandbox runs as: still out of reach
    bystander = subprocess.Popen(["sleep", "60"], user=65534 if os.geteuid() == 0 else None)
    try:
        interpreter = make_interpreter(backend)
        await interpreter.run(code=attempt(f"import os\nos.kill({os.getpid()}, 9)"))
        await interpreter.run(code=attempt(f"import os\nos.kill({bystander.pid}, 9)"))
        await interpreter.run(code=attempt("import os\nos.kill(os.getppid(), 9)"))
        await interpreter.run(code="import os\nos.kill(-1, 9)")
        await interpreter.run(code="import subprocess\nsubprocess.run(['kill', '-9', '-1'])")
        await asyncio.sleep(0.2)
        assert bystander.poll() is None  # alive; and so are we
        await assert_still_works(interpreter)
    finally:
        bystander.kill()
        bystander.wait()


async def test_setuid_root(backend, make_interpreter):
    interpreter = make_interpreter(backend)
    uid = sandbox_uid(backend)
    if uid == 0:
        # an ordinary user's unshare sandbox: root of a user namespace that maps only the host user,
        # with every capability gone and no way to regain one
        status = await interpreter.run(code="print(open('/proc/self/status').read())")
        for line in ("CapEff:\t0000000000000000", "CapPrm:\t0000000000000000", "CapBnd:\t0000000000000000"):
            assert line in status.content, status.content
        assert "NoNewPrivs:\t1" in status.content
        mapped = await interpreter.run(code="print(open('/proc/self/uid_map').read().split())")
        assert mapped.content == f"completed\n[stdout]\n['0', '{os.geteuid()}', '1']\n[/stdout]"
    else:
        out = await blocked(interpreter, "import os\nos.setuid(0)")
        assert "PermissionError" in out or "Invalid argument" in out  # EINVAL: uid 0 is not even mapped
    await blocked(interpreter, "import os\nos.setgroups([0])")
    ids = await interpreter.run(code="import os\nprint(os.getuid(), os.geteuid())")
    assert ids.content == f"completed\n[stdout]\n{uid} {uid}\n[/stdout]"
    await assert_still_works(interpreter)


async def test_spawning_a_shell(backend, make_interpreter, monkeypatch):
    monkeypatch.setenv("LLAMASYS_FAKE_TOKEN", "tok-should-not-leak")
    interpreter = make_interpreter(backend)
    result = await interpreter.run(
        code="import subprocess\nprint(subprocess.run(['/bin/sh', '-c', 'id -u; env; cat /etc/shadow; ls /root; "
        "echo done'], capture_output=True, text=True))"
    )
    assert f"stdout='{sandbox_uid(backend)}\\n" in result.content and "done" in result.content
    assert "tok-should-not-leak" not in result.content and "root:" not in result.content
    await assert_still_works(interpreter)


async def test_ptrace_and_mount_and_namespaces(backend, make_interpreter):
    interpreter = make_interpreter(backend)
    libc = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    check = "\nif rc != 0: raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))"
    await blocked(interpreter, libc + f"rc = libc.ptrace(16, {os.getpid()}, 0, 0)" + check)  # PTRACE_ATTACH
    await blocked(interpreter, libc + "rc = libc.ptrace(16, 1, 0, 0)" + check)  # the sandbox's own PID 1
    await blocked(interpreter, libc + "rc = libc.mount(b'none', b'/mnt', b'tmpfs', 0, None)" + check)
    await blocked(interpreter, libc + "rc = libc.unshare(0x10000000)" + check)  # CLONE_NEWUSER
    await blocked(interpreter, libc + "rc = libc.unshare(0x00020000)" + check)  # CLONE_NEWNS
    await blocked(interpreter, libc + "rc = libc.sethostname(b'evil', 4)" + check)
    await blocked(interpreter, libc + "rc = libc.chroot(b'/tmp')" + check)
    await blocked(
        interpreter, "import subprocess\nsubprocess.run(['mount', '-t', 'tmpfs', 'x', '/mnt'], check=True)"
    )
    await assert_still_works(interpreter)


async def test_ctypes_segfault_crashes_only_the_worker(backend, make_interpreter):
    interpreter = make_interpreter(backend)
    await interpreter.run(code="kept = 1")
    result = await interpreter.run(code="import ctypes\nctypes.string_at(0)")
    assert result.content.startswith("failed") and "SIGSEGV" in result.content
    assert result.metadata["state_lost"] is True
    await assert_still_works(interpreter)


async def test_terminal_injection(backend, make_interpreter):
    interpreter = make_interpreter(backend)
    out = await blocked(
        interpreter,
        "import fcntl, termios\nfd = open('/dev/tty', 'wb')\nfcntl.ioctl(fd, termios.TIOCSTI, b'x')",
    )
    assert "OSError" in out or "No such device" in out
    await assert_still_works(interpreter)


async def test_hijacking_the_protocol_pipe(backend, make_interpreter):
    interpreter = make_interpreter(backend)
    result = await interpreter.run(
        code="import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'\\xff\\xff\\xff\\xf0garbage')\n"
        "    except OSError:\n        pass\n"
    )
    assert result.content.startswith("failed") and result.metadata["state_lost"] is True
    await assert_still_works(interpreter)


async def test_background_process_dies_with_the_session(backend, make_interpreter):
    interpreter = make_interpreter(backend)
    session = interpreter.session_id
    await interpreter.run(code=SLEEPER.format(session=session))
    await interpreter.run(code="import time\ntime.sleep(0.3)")
    assert len(tagged_processes(session)) >= 3  # the worker, the sleeper and the sleeper's own child
    await assert_still_works(interpreter)
    await interpreter.close()
    await asyncio.sleep(0.2)
    assert tagged_processes(session) == []


async def test_host_session_keyring(backend, make_interpreter):
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    keyctl, add_key, join_session, invalidate, session = 250, 248, 1, 21, -3
    if os.uname().machine != "x86_64":
        require_in_ci("the keyring syscall numbers below are x86_64's")
    # a private session keyring for this test process, so nothing leaks into its parent's
    if libc.syscall(keyctl, join_session, None) < 0:
        require_in_ci("kernel keyrings are not available here (keyctl join_session failed)")
    secret = b"host-keyring-secret-" + uuid.uuid4().hex.encode()
    key = libc.syscall(add_key, b"user", b"llamasys-test", secret, len(secret), ctypes.c_int(session))
    assert key > 0
    try:
        interpreter = make_interpreter(backend)
        out = await blocked(
            interpreter,
            "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.syscall.restype = ctypes.c_long\n"
            "buf = ctypes.create_string_buffer(256)\n"
            f"n = libc.syscall(250, 11, ctypes.c_long({key}), buf, 256)\n"
            "print('read', buf.raw[:max(n, 0)])\n"
            "if n < 0: raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))",
        )
        assert secret.decode() not in out
        await assert_still_works(interpreter)
    finally:
        libc.syscall(keyctl, invalidate, ctypes.c_long(key))


async def test_closing_the_standard_descriptors(backend, make_interpreter):
    interpreter = make_interpreter(backend)
    await interpreter.run(code="import os, sys\nos.close(1)\nos.close(2)\nos.close(0)\nsys.stdout = None")
    result = await interpreter.run(
        code="import subprocess\nsubprocess.run(['echo', 'child'])\nprint('parent')"
    )
    assert result.content == "completed\n[stdout]\nparent\nchild\n[/stdout]", result.content
    await assert_still_works(interpreter)


async def test_exiting_the_worker(backend, make_interpreter):
    interpreter = make_interpreter(backend)
    result = await interpreter.run(code="import os\nos._exit(0)")
    assert result.content.startswith("failed") and result.metadata["state_lost"] is True
    await assert_still_works(interpreter)


async def test_thousands_of_figures(bwrap_backend, make_interpreter):
    interpreter = make_interpreter(bwrap_backend, wall_timeout_s=30, max_figures=3)
    result = await interpreter.run(
        code="import matplotlib.pyplot as plt\nfor i in range(500):\n    plt.figure(figsize=(1, 1))"
    )
    assert len(result.attachments) == 3 and "497 more figures were not returned" in result.content
    await assert_still_works(interpreter)


async def test_sandbox_dies_with_its_host_process(backend, tmp_path):
    """If the service that owns the interpreter dies (crash, SIGKILL), its sandboxes die with it."""
    import sys
    import textwrap

    script = tmp_path / "host.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio, sys
            from llamasys.tools.code_interpreter import CodeInterpreter

            async def main():
                interpreter = CodeInterpreter(backend={backend!r}, session_id="orphan-{uuid.uuid4().hex[:8]}")
                await interpreter.run(code="print(1)")
                busy = asyncio.create_task(interpreter.run(code="import time\\ntime.sleep(600)"))
                await asyncio.sleep(0.3)  # the worker is inside a long call, not reading its pipe
                print(interpreter.session_id, flush=True)
                await busy

            asyncio.run(main())
            """
        )
    )
    host = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        session = host.stdout.readline().strip()
        assert session.startswith("orphan-") and tagged_processes(session)
    finally:
        host.kill()
        host.wait()
    for _ in range(50):
        if not tagged_processes(session):
            break
        await asyncio.sleep(0.1)
    assert tagged_processes(session) == []
