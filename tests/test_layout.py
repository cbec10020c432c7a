"""The package's shape: no import cycles between its modules.

Who may know whom is stated by import-linter contracts in pyproject.toml (``make lint``);
this test adds what a layers contract cannot see: cycles inside one package.
"""

from __future__ import annotations

import graphlib

import grimp
import pytest


def test_no_import_cycles_between_hookpipes_modules() -> None:
    # Imports under TYPE_CHECKING count too: a cycle there is entanglement all the same.
    graph = grimp.build_graph("hookpipe", exclude_type_checking_imports=False)
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
