"""The test project's settings with a ``RequestViewerHook`` that shows everything it can.

Used by ``tests/test_viewer_secrets.py`` to run a real gunicorn and uvicorn: DEBUG on
and ``headers=True`` (so every item is also a response header), no length cap that could
hide a secret, and a log format that prints the record's ``hookpipe_viewer`` extra too.
"""

from __future__ import annotations

from tests.settings import *  # noqa: F403

#: Every item that can carry a secret, in both of the viewer's outputs.
ITEMS = [
    "path", "status", "method", "view", "params", "hooks", "META", "environ", "scope",
    "headers", "COOKIES", "GET", "get_full_path", "get_full_path_info",
    "build_absolute_uri", "path_info", "resolver_match", "session", "content_type",
]  # fmt: skip

DEBUG = True
HOOKPIPE = {
    "HOOKS": [
        {
            "class": "hookpipe.RequestViewerHook",
            "options": {"items": ITEMS, "headers": True, "max_length": 1_000_000},
        }
    ]
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"viewer": {"format": "VIEWER %(message)s EXTRA %(hookpipe_viewer)r"}},
    "handlers": {"viewer": {"class": "logging.StreamHandler", "formatter": "viewer"}},
    "loggers": {"hookpipe.viewer": {"handlers": ["viewer"], "level": "INFO", "propagate": False}},
}
