"""Every system check id hookpipe reports, in one place (``docs/checks.rst`` describes
each). The modules that check a setting import their ids from here; nothing imports
Django, so any layer may.

``E00x`` and ``E01x``: the ``HOOKPIPE`` setting and the tweens; ``E02x``: hooks;
``E03x``/``E04x``: handlers and responders; ``E05x``: where handlers run (runners, task
backends, RQ, Celery); ``W06x``: the database; ``E07x``: tracing. A ``W`` is a warning with the
same numbering.
"""

from __future__ import annotations

from typing import Final

# The setting and the middleware.
NOT_A_DICT: Final = "hookpipe.E001"
UNKNOWN_KEY: Final = "hookpipe.E002"
MIDDLEWARE_MISSING: Final = "hookpipe.E003"
MIDDLEWARE_TWICE: Final = "hookpipe.E004"
BAD_TWEEN_ENTRY: Final = "hookpipe.E005"
UNKNOWN_TWEEN_KEY: Final = "hookpipe.E006"
TWEEN_IMPORT_FAILED: Final = "hookpipe.E007"
TWEEN_NOT_CALLABLE: Final = "hookpipe.E008"
BAD_VALUE: Final = "hookpipe.E009"
MIDDLEWARE_ABOVE_AUTH: Final = "hookpipe.W001"

# Tween ordering.
OVER_INGRESS: Final = "hookpipe.E010"
UNDER_MAIN: Final = "hookpipe.E011"
RESERVED_NAME: Final = "hookpipe.E012"
DUPLICATE_TWEEN_NAME: Final = "hookpipe.E013"
HINT_TARGET_MISSING: Final = "hookpipe.E014"
ORDER_CYCLE: Final = "hookpipe.E015"
UNKNOWN_IN_TWEEN_ORDER: Final = "hookpipe.E016"
BAD_TWEEN_ORDER: Final = "hookpipe.E017"
TWICE_IN_TWEEN_ORDER: Final = "hookpipe.E018"

# Hooks.
BAD_HOOK_ENTRY: Final = "hookpipe.E020"
HOOK_IMPORT_FAILED: Final = "hookpipe.E021"
NOT_A_HOOK: Final = "hookpipe.E022"
BAD_HOOK_OPTIONS: Final = "hookpipe.E023"
OPTIONS_DO_NOT_FIT: Final = "hookpipe.E024"
BAD_PRIORITY: Final = "hookpipe.E025"
BAD_VIEWER_OPTION: Final = "hookpipe.E026"
BAD_SIGNATURE_OPTION: Final = "hookpipe.E027"
UNKNOWN_VIEWER_ITEM: Final = "hookpipe.W020"

# Handlers and responders.
BAD_PLUGIN_ENTRY: Final = "hookpipe.E030"
PLUGIN_IMPORT_FAILED: Final = "hookpipe.E031"
NOT_A_PLUGIN: Final = "hookpipe.E032"
NAME_NOT_SET: Final = "hookpipe.E033"
BAD_NAME: Final = "hookpipe.E034"
DUPLICATE_NAME: Final = "hookpipe.E035"
BAD_SUBCONFIG: Final = "hookpipe.E036"
BAD_PLUGIN_SETTINGS: Final = "hookpipe.E037"
MISSING_VALUE: Final = "hookpipe.E038"
BAD_PLUGIN_VALUE: Final = "hookpipe.E039"
ENV_CLASH: Final = "hookpipe.E040"
BAD_METHOD: Final = "hookpipe.E041"
BAD_METHODS_FILTER: Final = "hookpipe.E042"
BAD_PATH_FILTER: Final = "hookpipe.E043"
BAD_NEEDS_CONTENT: Final = "hookpipe.E044"
UNUSED_PLUGIN_SETTINGS: Final = "hookpipe.W030"

# Where handlers run.
BAD_RUNNER: Final = "hookpipe.E050"
UNKNOWN_BACKEND: Final = "hookpipe.E051"
NO_TASK_FRAMEWORK: Final = "hookpipe.E052"
RQ_OLD_QUEUE_CLASS: Final = "hookpipe.E053"
RQ_PICKLE_SERIALIZER: Final = "hookpipe.E054"
CELERY_PICKLE: Final = "hookpipe.E055"
CELERY_TASK_UNKNOWN: Final = "hookpipe.E056"
NOT_STORING_BACKEND: Final = "hookpipe.W050"
RQ_NO_REDELIVERY: Final = "hookpipe.W051"
RQ_WRONG_JOB_CLASS: Final = "hookpipe.W052"
CELERY_EARLY_ACK: Final = "hookpipe.W053"
CELERY_RETRY_PAST_CONSUMER_TIMEOUT: Final = "hookpipe.W054"

# The database.
UNAPPLIED_MIGRATIONS: Final = "hookpipe.W060"

# Tracing.
NO_OPENTELEMETRY: Final = "hookpipe.E070"
