from django.apps import AppConfig


class FleetConfig(AppConfig):
    """``"hookpipe.fleet"`` in ``INSTALLED_APPS``: runtime switches, every process's
    published record, the fleet on the admin page and in ``manage.py hookpipe``, and
    the Prometheus view (docs/fleet.rst)."""

    name = "hookpipe.fleet"
    label = "hookpipe_fleet"
    verbose_name = "Hookpipe fleet"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ..core import process
        from .operations import FleetOperations

        process.set_operations(FleetOperations())
