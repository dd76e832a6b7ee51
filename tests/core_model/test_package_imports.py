"""`llamasys.core_model` exports its engine lazily: the plain message types (used by tools, the
server and the CLI) must not drag torch in, while `from llamasys.core_model import load_model` works."""

import subprocess
import sys


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_message_types_do_not_import_torch():
    out = _run("import sys, llamasys.core_model.messages, llamasys.tools; print('torch' in sys.modules)")
    assert out.strip() == "False"


def test_engine_names_resolve_on_first_use():
    out = _run(
        "from llamasys.core_model import load_model, SamplingParams, Engine; print(load_model.__module__)"
    )
    assert out.strip() == "llamasys.core_model.engine"
    err = subprocess.run(
        [sys.executable, "-c", "import llamasys.core_model as m; m.no_such_name"],
        capture_output=True,
        text=True,
    )
    assert err.returncode != 0 and "no attribute 'no_such_name'" in err.stderr
