"""hookpipe's pytest plugin: the ``hookpipe_tester`` fixture (docs/testing.rst).

pytest loads it in every project where hookpipe is installed (the ``pytest11`` entry
point in ``pyproject.toml``; ``-p no:hookpipe`` turns it off), including projects that
do not test Django at all, and before pytest-cov starts measuring. So it lives outside
the ``hookpipe`` package and imports neither hookpipe nor Django when it loads: the
fixture does, when a test asks for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from hookpipe import PluginTester


@pytest.fixture
def hookpipe_tester() -> Iterator[PluginTester]:
    """A :class:`hookpipe.PluginTester`: build plugins with a subconfig, make
    requests and snapshots, run the handlers a request would meet; what it
    ``configure()`` s is undone after the test.

    It needs Django's settings: pytest-django's, or ``DJANGO_SETTINGS_MODULE`` (then
    Django is set up here if nothing did it yet).
    """
    from django.conf import settings

    if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        pytest.fail(
            "hookpipe_tester needs Django settings: set DJANGO_SETTINGS_MODULE (or "
            "pytest-django's --ds / DJANGO_SETTINGS_MODULE ini option).",
            pytrace=False,
        )
    from django.apps import apps

    if not apps.ready:
        import django

        django.setup()
    from hookpipe import PluginTester

    tester = PluginTester()
    try:
        yield tester
    finally:
        tester.close()
