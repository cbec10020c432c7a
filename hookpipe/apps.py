from django.apps import AppConfig


class HookpipeConfig(AppConfig):
    name = "hookpipe"
    verbose_name = "Hookpipe"

    def ready(self) -> None:
        from django.core import checks

        from .checks import check_hookpipe

        checks.register(check_hookpipe)
