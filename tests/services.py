"""The machine's services for the tests that need them: PostgreSQL, Redis, RabbitMQ.

A test that needs one calls :func:`postgres_or_skip`, :func:`redis_or_skip` or
:func:`amqp_or_skip` with the URL it uses (read from an environment variable with the
standard local default). Where
the service is unreachable the test is skipped with the reason, except under
``CI=true``: there every service runs, so an unreachable one fails the test.
"""

from __future__ import annotations

import os

import pytest


def _unreachable(what: str, url: str, exc: Exception) -> None:
    message = f"{what} is not reachable at {url}: {exc}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: no skipping)")
    pytest.skip(message)


def postgres_or_skip(url: str) -> None:
    """``url`` is a server URL without a database; its ``postgres`` database is asked."""
    import psycopg

    try:
        psycopg.connect(f"{url}/postgres", connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        _unreachable("PostgreSQL", url, exc)


def redis_or_skip(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        _unreachable("Redis", url, exc)
    finally:
        client.close()


def amqp_or_skip(url: str) -> None:
    """``url`` is an AMQP broker URL (RabbitMQ)."""
    from kombu import Connection

    with Connection(url, connect_timeout=3) as conn:
        try:
            conn.ensure_connection(max_retries=1)
        except Exception as exc:
            _unreachable("RabbitMQ", url, exc)
