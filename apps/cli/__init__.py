"""The `llamasys` command line. Each command lives in its own module and registers itself on the
typer apps of `app.py`; importing them here is what puts them on the command line."""

from . import (  # noqa: F401  (imported for their registrations)
    agent_commands,
    bench,
    chat,
    distill_commands,
    eval_commands,
    mcp_commands,
    model_commands,
    moderate,
    serve,
)
from .app import app


def main() -> None:
    app()
