"""One process of a fleet that only publishes: ``python -m tests.fleet_publisher URL
PREFIX SECONDS``. It waits for the start of the next whole second (so that every
process of a test begins at the same instant), then writes its record to the Redis
cache at URL every 20 ms for SECONDS seconds, as the fleet's publisher does."""

from __future__ import annotations

import sys
import time

import django
from django.conf import settings


def main(url: str, prefix: str, seconds: float) -> None:
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "hookpipe"],
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                            "LOCATION": url}},
        HOOKPIPE={"CLUSTER": {"KEY_PREFIX": prefix, "PUBLISH_EVERY": 0.02}},
    )  # fmt: skip
    django.setup()
    from hookpipe import conf
    from hookpipe.fleet.publish import Publisher

    cluster = conf.get_config().cluster
    time.sleep(1 - time.time() % 1)
    end = time.monotonic() + seconds
    publisher = Publisher()
    while time.monotonic() < end:
        assert publisher.publish(cluster)
        time.sleep(0.02)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
