"""The README's install steps agree with pyproject.toml: the Python it needs, and how to get each extra."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_readme_states_the_python_version_pip_requires():
    minimum = re.fullmatch(r">=(\d+\.\d+)", PROJECT["requires-python"])
    assert minimum, PROJECT["requires-python"]
    first_section = README.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    assert f"needs Python {minimum[1]} or newer" in first_section


def test_the_readme_says_how_to_install_every_extra_a_user_needs():
    extras = set(PROJECT["optional-dependencies"]) - {"test"}
    assert extras == {"web", "tools", "bench"}
    for extra in extras:
        assert f"| `{extra}` | `.venv/bin/pip install -e '.[{extra}]'` |" in README, extra
    # The test extra installs everything the extras do, so the suite exercises them all.
    everything_else = {requirement for extra in extras for requirement in PROJECT["optional-dependencies"][extra]}
    assert everything_else <= set(PROJECT["optional-dependencies"]["test"])
