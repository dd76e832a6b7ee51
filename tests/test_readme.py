"""Every ```python block of README.md runs as written (issue 12, fault 10): each in a fresh interpreter,
in an empty working directory, with LLAMASYS_HOME in a temporary folder (so nothing touches the user's
cache). Blocks that only sketch an API are written as ```text in the README, not here.

A failing block is named in the failure: its number, its README line and the heading it sits under."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
# Blocks that load a real model (SmolLM2, MiniLM, the agent app): seconds to a minute each on a CPU.
_HEAVY = re.compile(
    r'load_model\("smollm2|Agent\("smollm2|read_checkpoint\("smollm2|build_app\(|MemoryStore\('
)


def readme_blocks() -> list[tuple[int, int, str, str]]:
    """(number, line, heading, code) of every ```python block."""
    blocks, heading, code, start = [], "(top)", None, 0
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), start=1):
        if code is None:
            if line.startswith("#"):
                heading = line.lstrip("#").strip()
            elif line.strip() == "```python":
                code, start = [], number
        elif line.strip() == "```":
            blocks.append((len(blocks) + 1, start, heading, "\n".join(code) + "\n"))
            code = None
        else:
            code.append(line)
    return blocks


BLOCKS = readme_blocks()


@pytest.mark.parametrize(
    "number, line, heading, code",
    [
        pytest.param(
            *block,
            id=f"block{block[0]}-line{block[1]}",
            marks=[pytest.mark.slow] * bool(_HEAVY.search(block[3])),
        )
        for block in BLOCKS
    ],
)
def test_readme_python_block_runs_as_written(tmp_path, number, line, heading, code):
    env = {**os.environ, "LLAMASYS_HOME": str(tmp_path / "home"), "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, (
        f"README.md python block {number} (line {line}, under '{heading}') fails as written "
        f"(exit {done.returncode}):\n{code}\n--- stderr ---\n{done.stderr[-3000:]}"
    )


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 5
