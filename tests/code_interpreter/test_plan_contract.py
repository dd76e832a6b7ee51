"""The sandbox's launch plan held to exact values (`.ci/mutation.py sandbox_plan` left 421 survivors, most in
code no fast test read): the environment the worker gets, the `none` and `unshare` plans, the privilege drop,
the staging directory and the system layout. Nothing here starts a process; `shutil.which` and the host's
directory checks are replaced where the answer would depend on the machine."""

from __future__ import annotations

import os
import shutil

import pytest

from llamasys.tools import sandbox
from llamasys.tools.sandbox import (
    CAPTURE_DIR,
    WORKDIR,
    WORKER_IN_SANDBOX,
    SandboxLimits,
    SandboxUnavailableError,
    plan_launch,
    sandbox_env,
    worker_source,
)

ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/workspace",
    "USER": "sandbox",
    "LOGNAME": "sandbox",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TMPDIR": "/tmp",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "MPLBACKEND": "Agg",
    "MPLCONFIGDIR": "/tmp/matplotlib",
    "XDG_CACHE_HOME": "/tmp/cache",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_MAX_THREADS": "1",
}


@pytest.fixture
def tools(monkeypatch):
    """setpriv, unshare and bwrap found at fixed paths, whatever is installed."""
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: f"/usr/bin/{name}")


def test_the_worker_environment_is_exactly_this_and_nothing_from_the_host(monkeypatch) -> None:
    monkeypatch.setenv("LLAMASYS_FAKE_API_KEY", "sk-secret")
    assert sandbox_env() == ENV
    assert sandbox_env({"MY_SETTING": "1", "LANG": "de_DE.UTF-8"}) == {
        **ENV,
        "MY_SETTING": "1",
        "LANG": "de_DE.UTF-8",
    }
    assert sandbox_env(None) == ENV


def test_the_unsandboxed_plan_uses_private_folders_and_the_real_worker_path() -> None:
    plan = plan_launch(["python", WORKER_IN_SANDBOX, "--x"], SandboxLimits(), backend="none", env={"A": "b"})
    try:
        assert plan.backend == "none"
        assert plan.argv == ["python", worker_source(), "--x"]
        assert plan.cleanup_dirs == [plan.workdir, plan.capture_dir]
        assert os.path.basename(plan.workdir).startswith("llamasys-unsandboxed-")
        assert os.path.basename(plan.capture_dir).startswith("llamasys-capture-")
        assert os.path.isdir(plan.workdir) and os.path.isdir(plan.capture_dir)
        assert plan.env == {
            **ENV,
            "A": "b",
            "HOME": plan.workdir,
            "TMPDIR": plan.capture_dir,
            "MPLCONFIGDIR": os.path.join(plan.capture_dir, "matplotlib"),
        }
    finally:
        for folder in plan.cleanup_dirs:
            shutil.rmtree(folder, ignore_errors=True)


def test_an_unknown_backend_is_refused_by_name() -> None:
    with pytest.raises(ValueError) as info:
        plan_launch(["python"], SandboxLimits(), backend="docker")  # type: ignore[arg-type]
    assert str(info.value) == "unknown sandbox backend 'docker': expected one of bwrap, unshare, none"


def test_the_privilege_drop_is_exactly_this(tools) -> None:
    assert sandbox._drop_privileges(1234) == [
        "/usr/bin/setpriv",
        "--reuid=1234",
        "--regid=1234",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


def test_missing_setpriv_and_unshare_are_named(monkeypatch) -> None:
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailableError) as info:
        sandbox._drop_privileges(1)
    assert str(info.value) == "setpriv (util-linux) is needed to start the sandbox"
    with pytest.raises(SandboxUnavailableError) as info:
        plan_launch(["python"], SandboxLimits(), backend="unshare")
    assert str(info.value) == "unshare (util-linux) is not installed"


@pytest.mark.parametrize("root", [True, False])
@pytest.mark.parametrize("network", [False, True])
def test_the_unshare_plan_command_line(tools, monkeypatch, root: bool, network: bool) -> None:
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 0 if root else 1000)
    plan = plan_launch(["python", "w.py"], SandboxLimits(), backend="unshare", network=network)
    assert (plan.backend, plan.workdir, plan.capture_dir) == ("unshare", WORKDIR, CAPTURE_DIR)
    assert plan.env == {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    flags = [
        "--mount",
        "--pid",
        "--fork",
        "--kill-child",
        "--ipc",
        "--uts",
        "--cgroup",
        "--propagation",
        "private",
    ]
    if not network:
        flags.append("--net")
    if not root:
        flags = ["--user", "--map-root-user", *flags]
    assert plan.argv[: 4 + len(flags) + 3] == [
        "/usr/bin/setpriv",
        "--pdeathsig=KILL",
        "--",
        "/usr/bin/unshare",
        *flags,
        "--",
        "/bin/sh",
        "-c",
    ]
    assert len(plan.argv) == 4 + len(flags) + 4
    script = plan.argv[-1]
    assert script.startswith("set -eu\n") and script.endswith("\n")
    assert ("ip link set lo up" in script) is not network
    owner = ",uid=65534,gid=65534" if root else ""
    assert f"size={SandboxLimits().workdir_bytes}{owner} llamasys-work $R/workspace" in script
    drop = "--reuid=65534" in script.splitlines()[-1]
    assert drop is root


def test_the_unshare_script_binds_read_only_and_runs_the_command_with_only_its_env(
    tools, monkeypatch
) -> None:
    monkeypatch.setattr(sandbox, "python_paths", lambda: ["/usr/lib"])
    limits = SandboxLimits(tmp_bytes=777, workdir_bytes=999)
    script = sandbox._unshare_script(
        ["python", "w.py"], limits, network=False, uid=42, env={"K": "v"}, root=True
    )
    lines = script.splitlines()
    assert lines[:5] == [
        "set -eu",
        f"mount -t tmpfs -o mode=0755,size=1m llamasys-stage {sandbox._stage_dir(['/usr/lib', worker_source()])}",
        f"R={sandbox._stage_dir(['/usr/lib', worker_source()])}/.llamasys-root",
        "mkdir -m 0755 $R",
        "mount -t tmpfs -o mode=0755,size=1m llamasys-root $R",
    ]
    i = lines.index("mount --rbind /usr/lib $R/usr/lib")
    assert lines[i - 1] == "mkdir -p $R/usr/lib"
    assert lines[i + 1] == "mount -o remount,bind,ro,nosuid,nodev $R/usr/lib"
    j = lines.index(f"mount --rbind {worker_source()} $R{WORKER_IN_SANDBOX}")
    assert lines[j - 1] == "mkdir -p $R/opt/llamasys && touch $R/opt/llamasys/interpreter_worker.py"
    assert "mount -t tmpfs -o mode=1777,nosuid,nodev,size=777 llamasys-tmp $R/tmp" in lines
    assert (
        "mount -t tmpfs -o mode=0700,nosuid,nodev,size=999,uid=42,gid=42 llamasys-work $R/workspace" in lines
    )
    assert "mount -t proc -o nosuid,nodev,noexec proc $R/proc" in lines
    for device in ("null", "zero", "full", "random", "urandom", "tty"):
        assert f"touch $R/dev/{device} && mount --bind /dev/{device} $R/dev/{device}" in lines
    assert lines[-3:-1] == ["if command -v ip >/dev/null 2>&1; then ip link set lo up; fi", "cd $R/workspace"]
    assert "mount -o remount,bind,ro $R" in lines and "hostname sandbox" in lines
    assert lines[-1] == (
        "exec chroot $R /bin/sh -c 'cd /workspace && /usr/bin/setpriv --reuid=42 --regid=42 --clear-groups "
        "--inh-caps=-all --bounding-set=-all --no-new-privs -- /usr/bin/env -i K=v python w.py'"
    )
    unprivileged = sandbox._unshare_script(["python"], limits, network=True, uid=42, env={}, root=False)
    assert unprivileged.splitlines()[-1] == (
        "exec chroot $R /bin/sh -c 'cd /workspace && /usr/bin/setpriv --inh-caps=-all --bounding-set=-all "
        "--no-new-privs -- /usr/bin/env -i python'"
    )
    assert "size=999 llamasys-work" in unprivileged


def test_the_staging_directory_avoids_every_path_still_to_bind(monkeypatch) -> None:
    monkeypatch.setattr(sandbox.os.path, "isdir", lambda path: True)
    assert sandbox._stage_dir([]) == "/tmp"
    assert sandbox._stage_dir(["/tmpfiles/py"]) == "/tmp"  # a sibling with the same prefix is not inside
    assert sandbox._stage_dir(["/tmp/venv"]) == "/mnt"
    assert sandbox._stage_dir(["/tmp", "/mnt/x", "/media/y"]) == "/srv"
    with pytest.raises(SandboxUnavailableError) as info:
        sandbox._stage_dir(["/tmp/a", "/mnt", "/media/b", "/srv/c", "/run/d"])
    assert str(info.value) == (
        "no staging directory for the unshare sandbox: the Python installation covers /tmp, /mnt, "
        "/media, /srv and /run; install bubblewrap instead"
    )
    monkeypatch.setattr(sandbox.os.path, "isdir", lambda path: path != "/tmp")
    assert sandbox._stage_dir([]) == "/mnt"


def test_the_system_layout_binds_directories_and_recreates_symlinks(monkeypatch) -> None:
    links = {"/bin", "/lib"}
    dirs = {"/sbin", "/lib64"}
    monkeypatch.setattr(sandbox.os.path, "islink", lambda path: path in links)
    monkeypatch.setattr(sandbox.os.path, "isdir", lambda path: path in dirs)
    assert sandbox._system_layout() == [
        ("bind", "/usr"),
        ("symlink", "/bin"),
        ("bind", "/sbin"),
        ("symlink", "/lib"),
        ("bind", "/lib64"),
    ]


@pytest.fixture
def fixed_host(tools, monkeypatch):
    """A host with one Python folder, /usr bound, /bin a symlink, one /etc file and a seccomp filter."""
    monkeypatch.setattr(sandbox, "python_paths", lambda: ["/opt/py"])
    monkeypatch.setattr(sandbox, "worker_source", lambda: "/src/interpreter_worker.py")
    monkeypatch.setattr(sandbox, "_system_layout", lambda: [("bind", "/usr"), ("symlink", "/bin")])
    monkeypatch.setattr(sandbox.os, "readlink", lambda path: "usr/bin")
    monkeypatch.setattr(
        sandbox,
        "_etc_paths",
        lambda network: ["/etc/ld.so.cache"] + (["/etc/resolv.conf"] if network else []),
    )
    monkeypatch.setattr(sandbox, "seccomp_program", lambda: b"filter")


INNER = [
    "/usr/bin/bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
    "--hostname", "sandbox",
]  # fmt: skip


def _inner_rest(network: bool) -> list[str]:
    etc = ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    if network:
        etc += ["--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf"]
    return [
        *(["--share-net"] if network else []),
        "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", *etc,
        "--perms", "1777", "--size", "77", "--tmpfs", "/tmp",
        "--ro-bind", "/opt/py", "/opt/py",
        "--ro-bind", "/src/interpreter_worker.py", "/opt/llamasys/interpreter_worker.py",
        "--proc", "/proc", "--dev", "/dev",
        "--perms", "1777", "--size", "77", "--tmpfs", "/dev/shm",
        "--perms", "0700", "--size", "99", "--tmpfs", "/workspace",
        "--remount-ro", "/", "--seccomp", "{seccomp-fd}",
        "--chdir", "/workspace", "--uid", "5", "--gid", "5", "--clearenv",
    ]  # fmt: skip


def test_the_bwrap_command_line_for_a_user(fixed_host, monkeypatch) -> None:
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    limits = SandboxLimits(tmp_bytes=77, workdir_bytes=99)
    argv = sandbox._bwrap_command(["python", "w.py"], limits, network=False, uid=5, env={"K": "v"})
    assert argv == [
        "/usr/bin/setpriv", "--pdeathsig=KILL", "--", *INNER, *_inner_rest(False),
        "--setenv", "K", "v", "--", "python", "w.py",
    ]  # fmt: skip


def test_the_bwrap_command_line_for_root_drops_to_the_sandbox_uid(fixed_host, monkeypatch) -> None:
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 0)
    limits = SandboxLimits(tmp_bytes=77, workdir_bytes=99)
    argv = sandbox._bwrap_command(["python"], limits, network=True, uid=5, env={})
    outer = ["/usr/bin/bwrap", "--dev-bind", "/", "/", "--unshare-pid", "--die-with-parent", "--"]
    drop = ["/usr/bin/setpriv", "--reuid=5", "--regid=5", "--clear-groups", "--inh-caps=-all"]
    drop += ["--bounding-set=-all", "--no-new-privs", "--"]
    assert argv == [*outer, *drop, *INNER, *_inner_rest(True), "--", "python"]


def test_without_a_seccomp_filter_bwrap_gets_no_seccomp_argument(fixed_host, monkeypatch) -> None:
    monkeypatch.setattr(sandbox, "seccomp_program", lambda: None)
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    argv = sandbox._bwrap_command(["python"], SandboxLimits(), network=False, uid=5, env={})
    assert "--seccomp" not in argv and "{seccomp-fd}" not in argv


def test_the_plan_describes_itself_as_a_shell_line() -> None:
    plan = sandbox.LaunchPlan("bwrap", ["a b", "c"], {}, WORKDIR, CAPTURE_DIR)
    assert plan.describe() == "'a b' c"
