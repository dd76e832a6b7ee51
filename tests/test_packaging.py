"""Every code folder with an `__init__.py` is listed in pyproject.toml's packages, so a non-editable install
(a wheel) carries it: an editable install finds unlisted sub-packages anyway, which is how one went missing."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = ["core_model", "tools", "safety", "agentic", "apps"]


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for top in CODE:
        for init in (ROOT / top).rglob("__init__.py"):
            folder = init.parent.relative_to(ROOT)
            if "weather_plugin" in folder.parts:  # a separate distribution with its own pyproject
                continue
            found.add(".".join(["llamasys", *folder.parts]))
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - found == set(), "pyproject.toml lists packages that do not exist"
