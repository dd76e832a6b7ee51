"""Mutation testing (mutmut) of the modules whose behaviour is a promise, one module at a time.

    python .ci/mutation.py                 # every module in MODULES
    python .ci/mutation.py chunking rrf    # only these
    python .ci/mutation.py --list          # the table

For each module it copies the committed tree (`git archive HEAD`: commit your new tests first) into
`$LLAMASYS_MUTATION_DIR/<name>` (default /tmp/llamasys-mutation), points mutmut at that one file and
at the tests that check it ([tool.mutmut] in pyproject.toml holds the shared settings), runs
`mutmut run`, and prints one JSON line per module: killed, survived, timeouts, no tests, the kill rate
(killed + timeouts over all mutants that some test ran) and the names of the survivors (`mutmut show
NAME` in that folder prints the change). Slow: minutes to hours per module on two cores; not in CI.

In the copy the code folders move under `llamasys/`, so that mutmut's `mutants/llamasys/<folder>`
is what the tests' ordinary `llamasys.<folder>` imports reach, not the editable install.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("core_model", "tools", "safety", "agentic", "apps")

# The checkpoint readers' promises: every real model shape, every config spelling, the errors and the formats
# against each other and transformers. Without the two tests that load the real SmolLM2 GGUF and the real Llama 3
# tokenizer (88 s and 33 s of a 160 s run at load 4): each mutant of a reader function would run them again.
_CHECKPOINT_TESTS = [
    "tests/core_model/test_checkpoint_formats.py",
    "tests/core_model/test_config_fields.py",
    "tests/core_model/test_real_shapes.py",
    "tests/core_model/test_checkpoint_errors.py",
    "--deselect",
    "tests/core_model/test_checkpoint_formats.py::test_smollm2_gguf_weights_equal_transformers_gguf_loader",
    "--deselect",
    "tests/core_model/test_checkpoint_formats.py::test_real_llama3_tokenizer_in_every_format",
]

# name -> (the file to mutate, the tests that hold its promises)
MODULES: dict[str, tuple[str, list[str]]] = {
    "config_meta": ("core_model/checkpoints/meta.py", _CHECKPOINT_TESTS),
    "config_hf": ("core_model/checkpoints/hf.py", _CHECKPOINT_TESTS),
    "config_gguf": ("core_model/checkpoints/gguf.py", _CHECKPOINT_TESTS),
    "sampling": ("core_model/sampling.py", ["tests/core_model/test_sampling.py"]),
    "tool_call_codec": (
        "core_model/chat/tool_call_codec.py",
        [
            "tests/chat_format",
            # the chat CLI drives a model (the SmolLM2 one 14 s a run) and the SmolLM2 token-id test loads
            # its GGUF (10 s): both reach the codec but hold none of its promises the other files miss
            "--ignore",
            "tests/chat_format/test_chat_cli.py",
            "--deselect",
            "tests/chat_format/test_template_format.py::"
            "test_smollm2_token_ids_match_transformers_apply_chat_template",
        ],
    ),
    "llama_guard": (
        "safety/llama_guard.py",
        [
            "tests/safety/test_llama_guard.py",
            "tests/safety/test_llama_guard_decisions.py",
            "tests/safety/test_llama_guard_rendering.py",
            # minutes per run on a 128k-vocabulary model: the other tests hold the decision's promises
            "--deselect",
            "tests/safety/test_llama_guard.py::"
            "test_random_weights_always_give_a_readable_verdict_and_the_unmasked_score",
        ],
    ),
    "prompt_guard": (
        "safety/prompt_guard.py",
        ["tests/safety/test_prompt_guard.py", "tests/safety/test_prompt_guard_contract.py"],
    ),
    "tool_arguments": (
        "tools/base.py",
        ["tests/tools/test_base.py", "tests/tools/test_base_contract.py", "tests/tools/test_decorator.py"],
    ),
    "sandbox_plan": (
        "tools/sandbox.py",
        ["tests/code_interpreter/test_format_and_plan.py", "tests/code_interpreter/test_plan_contract.py"],
    ),
    "chunking": (
        "tools/memory/chunking.py",
        ["tests/memory/test_chunking.py", "tests/memory/test_chunk_windows.py"],
    ),
    # the MiniLM-embedding retrieval tests took the whole budget in the stats run: exact values, no embedder
    "hybrid_fusion": ("tools/memory/search.py", ["tests/memory/test_search_contract.py"]),
    "agent_turn": (  # the turn loop itself (inference, tool calls, shields, steps), beside the SDK layer
        "agentic/turn.py",
        [
            "tests/agentic",
            "--deselect",
            "tests/agentic/test_tool_sources.py::test_mcp_toolset_and_langchain_tool",
        ],
    ),
    "agent_loop": (
        "agentic/agent.py",
        [
            "tests/agentic",
            # the MCP client hands its server sys.stderr, which mutmut's runner has closed ("I/O operation
            # on closed file"): the stats run failed on it; the unentered-toolset test still runs
            "--deselect",
            "tests/agentic/test_tool_sources.py::test_mcp_toolset_and_langchain_tool",
        ],
    ),
}

STATUS = re.compile(r"^\s*(?P<name>\S+__mutmut_\d+): (?P<status>.+?)\s*$")


def copy_repository(target: Path) -> str:
    """The committed tree (`git archive HEAD`) into `target`; returns the commit. Not the working tree:
    other people's half-done edits there made the stats run fail before any mutant (llama_guard), and a
    run should be repeatable from its commit."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return commit


def configure(target: Path, source: str, tests: list[str]) -> None:
    """Lay the copy out as installed (llamasys/<folder>/...) and add this module's choices to its
    [tool.mutmut] section."""
    # mutmut names mutants after the file's path, and the tests import llamasys.<folder>.<module>:
    # with the folders under llamasys/ the two agree, and mutmut's mutants/ (first on sys.path) is
    # the namespace package's first portion, ahead of the editable install
    for folder in FOLDERS:
        if (target / folder).exists():
            (target / "llamasys").mkdir(exist_ok=True)
            (target / folder).rename(target / "llamasys" / folder)
    folder = source.split("/", 1)[0]
    text = (target / "pyproject.toml").read_text(encoding="utf-8")
    marker = "[tool.mutmut]\n"
    if marker not in text:
        raise SystemExit("pyproject.toml has no [tool.mutmut] section: the shared settings live there")
    extra = (
        f"source_paths = [{'llamasys/' + folder!r}]\n"
        f"only_mutate = [{'llamasys/' + source!r}]\n"
        f"also_copy = {['llamasys/' + f for f in FOLDERS if f != folder]!r}\n"
        f"pytest_add_cli_args_test_selection = {tests!r}\n"
    )
    (target / "pyproject.toml").write_text(text.replace(marker, marker + extra), encoding="utf-8")


def results(target: Path, mutmut: str) -> dict[str, str]:
    done = subprocess.run([mutmut, "results", "--all", "true"], cwd=target, capture_output=True, text=True)
    found = {}
    for line in done.stdout.splitlines():
        match = STATUS.match(line)
        if match:
            found[match["name"]] = match["status"]
    return found


def run_module(name: str, base: Path, mutmut: str, budget_s: float | None) -> dict:
    source, tests = MODULES[name]
    if not (ROOT / source).exists():
        return {"module": name, "file": source, "error": "not in the repository yet"}
    target = base / name
    commit = copy_repository(target)
    configure(target, source, tests)
    load_before = os.getloadavg()
    started = time.monotonic()
    # one thread for torch's reductions: the runs share the machine, and a float32 sum split over a
    # different number of threads can round differently from the single-thread run a test was checked at
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("CI", None)
    try:
        run = subprocess.run(
            [mutmut, "run", "--max-children", os.environ.get("LLAMASYS_MUTATION_JOBS", "1")],
            cwd=target,
            env=env,
            capture_output=True,
            text=True,
            timeout=budget_s,
        )
        finished = run.returncode == 0
        log = run.stdout[-3000:] + run.stderr[-3000:]
    except subprocess.TimeoutExpired as exc:
        finished = False
        log = f"stopped after {budget_s} s (LLAMASYS_MUTATION_BUDGET_S): {str(exc.stdout or '')[-1000:]}"
    (target / "mutation.log").write_text(log, encoding="utf-8")
    statuses = results(target, mutmut)
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    tested = killed + counts.get("survived", 0)
    return {
        "module": name,
        "file": source,
        "tests": tests,
        "mutants": len(statuses),
        "counts": counts,
        "kill_rate": round(killed / tested, 3) if tested else None,
        "survivors": sorted(n for n, s in statuses.items() if s == "survived"),
        "finished": finished,
        "seconds": round(time.monotonic() - started, 1),
        "commit": commit,
        "load_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],  # at start, at end
        "folder": str(target),
    }


def main(argv: list[str]) -> int:
    if argv[1:] == ["--list"]:
        for name, (source, tests) in MODULES.items():
            print(f"{name:16} {source:40} {' '.join(tests)}")
        return 0
    names = argv[1:] or list(MODULES)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        print(f"unknown module(s) {unknown}: choose from {', '.join(MODULES)}", file=sys.stderr)
        return 2
    mutmut = shutil.which("mutmut") or str(Path(sys.executable).parent / "mutmut")
    base = Path(os.environ.get("LLAMASYS_MUTATION_DIR", "/tmp/llamasys-mutation"))
    budget = os.environ.get("LLAMASYS_MUTATION_BUDGET_S")
    for name in names:
        print(json.dumps(run_module(name, base, mutmut, float(budget) if budget else None)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
