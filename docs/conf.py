"""Sphinx configuration for the hookpipe documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html`` from the
repository root. The pages are hand-written reST; nothing here imports hookpipe or
Django, so the build needs no settings module and no database.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

project = "hookpipe"
author = "the hookpipe authors"
copyright = "the hookpipe authors"

# The version lives in pyproject.toml; read it as text so the build imports nothing.
_match = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
release = _match.group(1) if _match else "unknown"
version = ".".join(release.split(".")[:2])

extensions: list[str] = []

exclude_patterns = ["_build", "examples", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

highlight_language = "python"

html_theme = "alabaster"
html_theme_options = {
    "description": "One ordered request pipeline for Django.",
    "fixed_sidebar": True,
}
html_static_path: list[str] = []
html_title = f"hookpipe {release}"
