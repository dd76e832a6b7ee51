"""Every `llamasys ...` command line in README.md's ```bash blocks names a real command and only options
that command has: the python blocks run as written (test_readme.py), and the shell lines, which take
minutes to hours (training, evaluation), are at least checked against the command line itself, so that a
renamed or removed option cannot leave the README's recipes quietly broken."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import typer.main

from llamasys.apps.cli import app

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_command_lines() -> list[tuple[int, list[str]]]:
    """(README line, words) of every line of a ```bash block that runs `llamasys`, with its
    backslash continuations joined and its trailing comment dropped."""
    commands, in_bash, pending, start = [], False, "", 0
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if not in_bash:
            in_bash = stripped == "```bash"
            continue
        if stripped == "```":
            in_bash = False
            continue
        if not pending:
            start = number
        pending += " " + stripped.removesuffix("\\")
        if stripped.endswith("\\"):
            continue
        text = shlex.split(pending, comments=True)
        pending = ""
        if text and text[0] == "llamasys":
            commands.append((start, text))
    return commands


COMMANDS = readme_command_lines()
ROOT_COMMAND = typer.main.get_command(app)


def resolve(words: list[str]):
    """The command `llamasys WORDS...` runs (a typer command; typer vendors its own click, so groups
    are told by their `commands`) and the words left for its options and arguments."""
    command, rest = ROOT_COMMAND, list(words)
    while hasattr(command, "commands") and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        assert sub is not None, (
            f"`llamasys {' '.join(words)}`: {rest[0]!r} is not a command of `{command.name or 'llamasys'}` "
            f"(it has {', '.join(sorted(command.commands))})"
        )
        command, rest = sub, rest[1:]
    return command, rest


@pytest.mark.parametrize("line, words", COMMANDS, ids=[f"line{line}" for line, _ in COMMANDS])
def test_readme_command_line_names_real_options(line, words):
    command = shlex.join(words)
    target, rest = resolve(words[1:])
    assert not hasattr(target, "commands") or not rest or rest[0] in ("--help", "-h"), (
        f"README line {line}: `{command}` stops at a command group"
    )
    known = {name for param in target.params for name in (*param.opts, *param.secondary_opts)}
    known |= {"--help"}
    for word in rest:
        if word.startswith("-") and word != "-":
            option = word.split("=", 1)[0]
            assert option in known, (
                f"README line {line}: `{command}` uses {option}, which `{target.name}` does not take "
                f"(it takes {', '.join(sorted(known))})"
            )


def test_the_readme_has_command_lines():
    """The parser finds the recipes (the distillation rounds alone are more than 20 lines)."""
    assert len(COMMANDS) >= 30
    assert any(words[:3] == ["llamasys", "distill", "train"] for _, words in COMMANDS)
