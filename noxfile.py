"""Test legs beyond the default one (`make test`: Python 3.11 + Django 5.2 in .venv).

`make test-django6` runs `nox -s django6`: the suite on Django 6.x with each Python 3.12+
found on this machine. Interpreters that are missing are skipped, not failed.
"""

from __future__ import annotations

import shutil

import nox

nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = False

DJANGO6_PYTHONS = [v for v in ("3.12", "3.13") if shutil.which(f"python{v}")]


@nox.session(python=DJANGO6_PYTHONS or ["3.13"])
def django6(session: nox.Session) -> None:
    # The dev tools too: tests run mypy (a user's --strict) and read the import graph.
    session.install("-e", ".[dev]", "Django>=6.0,<7")
    session.run("python", "-c", "import django; print('Django', django.get_version())")
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *session.posargs)
