"""What Read the Docs and pip read: ``.readthedocs.yaml`` and the extras it names.

The package itself (sdist, wheel, an install in a fresh virtualenv) is checked by
``.ci/package-smoke`` (``make package``, part of ``make test``), which needs a build
and pip, so it is a script rather than a test here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READTHEDOCS = (ROOT / ".readthedocs.yaml").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def value(key: str) -> str:
    """The value of ``key:`` in .readthedocs.yaml (each key it has appears once)."""
    found = re.findall(rf"^[ ]*-?[ ]*{key}:[ ]*(\S[^\n]*?)[ ]*$", READTHEDOCS, re.MULTILINE)
    assert len(found) == 1, f"{key!r} appears {len(found)} times in .readthedocs.yaml"
    return found[0].strip("\"'")


def test_read_the_docs_builds_like_make_docs() -> None:
    assert value("version") == "2"
    assert value("python") == "3.11"
    assert (ROOT / value("configuration")).is_file()
    # Warnings are errors on Read the Docs as in `make docs` (sphinx-build -W).
    assert value("fail_on_warning") == "true"
    assert "sphinx-build -W " in (ROOT / "Makefile").read_text()


def test_read_the_docs_installs_the_package_with_the_docs_extra() -> None:
    assert value("method") == "pip"
    assert value("path") == "."
    extras = re.findall(r"extra_requirements:\n((?:\s+- \S+\n)+)", READTHEDOCS)
    assert [line.strip("- \n") for line in extras[0].splitlines()] == ["docs"]
    docs = PYPROJECT["project"]["optional-dependencies"]["docs"]
    assert any(requirement.startswith("sphinx") for requirement in docs)
    # The developers' environment builds the docs with the same extra.
    assert "hookpipe[test,docs]" in PYPROJECT["project"]["optional-dependencies"]["dev"]
