"""Build one handler or responder for a test, with the same checks as ``HOOKPIPE``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from ..jobs.choice import choose
from ..plugins.base import HandlerImplementation, Plugin, ResponderImplementation, dotted
from ..plugins.planning import configure
from ..plugins.subconfig import PluginConfig
from ..plugins.validation import check_methods, check_name, check_prefilters, check_subconfig

P = TypeVar("P", bound=Plugin)

#: How the messages of :func:`build_plugin` name what they are about.
WHERE = "build_plugin()"


class PluginConfigError(ImproperlyConfigured):
    """The plugin class or the values given to :func:`build_plugin` would fail
    ``manage.py check``. ``messages`` are those check messages; ``ids`` their ids."""

    def __init__(self, cls: type, messages: list[checks.CheckMessage]) -> None:
        self.messages = tuple(messages)
        lines = [f"{dotted(cls)} cannot be built:"]
        for message in messages:
            lines.append(f"  {message.id}: {message.msg}")
            if message.hint:
                lines.append(f"    HINT: {message.hint}")
        super().__init__("\n".join(lines))

    @property
    def ids(self) -> list[str]:
        return [str(message.id) for message in self.messages]


def build_plugin(
    cls: type[P],
    values: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> P:
    """An instance of the handler or responder class ``cls``, configured with ``values``
    (what ``HOOKPIPE["PLUGINS"][cls.name]`` would hold), as a pipeline build makes it.

    The class and the values pass the same checks and casts as settings do: a missing
    required value, a value of the wrong type or a key the subconfig does not declare
    raises :class:`PluginConfigError` with the ``manage.py check`` message. The process
    environment is not read, so a developer's ``HOOKPIPE_*`` variables cannot change a
    test; pass ``environ`` (a dict, or ``os.environ``) to test values read from
    variables. What the plugin's ``__init__`` raises propagates as it is.
    """
    if isinstance(cls, type) and issubclass(cls, HandlerImplementation):
        kind: Any = "handler"
    elif isinstance(cls, type) and issubclass(cls, ResponderImplementation):
        kind = "responder"
    else:
        raise TypeError(
            f"build_plugin() takes a hookpipe.HandlerImplementation or "
            f"hookpipe.ResponderImplementation subclass, not {cls!r}."
        )
    problems: list[checks.CheckMessage] = []
    name = check_name(WHERE, cls, problems)
    subconfig = check_subconfig(WHERE, cls, problems)
    check_methods(WHERE, kind, cls, problems)
    check_prefilters(WHERE, cls, problems)
    if kind == "handler":  # RUNNER and the task options, as a HANDLERS entry is checked
        choose(WHERE, cls, dotted(cls), problems)
    given = {} if values is None else values
    config: PluginConfig | None = None
    if name is not None and subconfig is not None:
        config = configure(WHERE, name, cls, subconfig, given, environ or {}, problems)
    errors = [p for p in problems if p.is_serious()]
    if errors or config is None:  # no config without an error to say why
        raise PluginConfigError(cls, errors)
    plugin = cls(config)
    if not hasattr(plugin, "config"):  # an __init__ that skipped super().__init__
        plugin.config = config
    return plugin
