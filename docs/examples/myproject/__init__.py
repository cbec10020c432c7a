"""A user's project as the documentation shows it: plugins, typed tweens and the tests
of both (``docs/testing.rst``). hookpipe's test suite runs these tests and type-checks
these modules with ``mypy --strict``, so what a reader copies works."""
