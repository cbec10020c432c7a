"""The package's shape (issue 9): small modules, no import cycles between them.

The layers themselves are import-linter contracts in pyproject.toml (``make lint``); these
tests add what a layers contract cannot see: cycles inside one package, and size.
"""

from __future__ import annotations

import graphlib
from pathlib import Path

import grimp
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hookpipe"
#: About 350 lines: a module that outgrows it likely holds a second job.
MAX_LINES = 350


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts
    }
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_no_import_cycles_between_hookpipes_modules() -> None:
    graph = grimp.build_graph("hookpipe", exclude_type_checking_imports=True)
    # A package imports its own modules to re-export them (hookpipe.plugins -> .base);
    # that is not a cycle between jobs, so edges into a module from its own package go.
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for module in graph.modules:
        imported = {
            other
            for other in graph.find_modules_directly_imported_by(module)
            if not other.startswith(module + ".")
        }
        sorter.add(module, *imported)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")
