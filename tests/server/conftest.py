"""The server tests' fixtures live in server_fixtures.py (importable by the tests too, with openai_schema.py:
this folder goes on sys.path here, since `conftest` is the name of tests/conftest.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from server_fixtures import minilm, scripted, server, tiny_checkpoint, tiny_engine  # noqa: E402,F401
