import sys

from django.apps import AppConfig


class HookpipeConfig(AppConfig):
    name = "hookpipe"
    verbose_name = "Hookpipe"

    def ready(self) -> None:
        from django.core import checks

        # The composition root: importing the tasks package plugs its runner ("task")
        # and its counters into the core (hookpipe.jobs.EXTRA_RUNNERS, the process's
        # fork handler), which imports neither it nor the fleet. It needs nothing of
        # Django's task framework to import; a task handler without it is a check error.
        from . import tasks  # noqa: F401
        from .checks import check_hookpipe, check_migrations
        from .tasks import heartbeat
        from .tracing.checks import check_tracing

        checks.register(check_hookpipe)
        checks.register(check_tracing)
        checks.register(check_migrations, checks.Tags.database)
        # A db_worker beats and sweeps from a thread of its own (docs/durable.rst).
        heartbeat.start_in_worker(sys.argv)
