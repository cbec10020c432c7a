"""Settings of the hookpipe demo project, read from the environment with django-environ.

Every value can come from an environment variable or from a ``.env`` file next to
``manage.py`` (another file with ``DEMO_ENV_FILE``); variables already set in the
environment win over the file. The defaults are for running the demo on your own
machine and nowhere else:

=====================  =====================================================
``DEBUG``              ``False``
``SECRET_KEY``         a fixed, public, demo-only key: set your own anywhere
                       the demo is reachable by others
``DATABASE_URL``       ``sqlite:///<repo>/demo_project/db.sqlite3``
``ALLOWED_HOSTS``      ``127.0.0.1,localhost``
``DEMO_API_KEY``       ``demo-key``: the ``X-Api-Key`` that ``/api/`` wants
``DEMO_WEBHOOK_SECRETS`` the demo's ``whsec_...``: the secrets that sign deliveries
                       to ``/webhooks/signed/`` (Standard Webhooks), comma-separated
``DEMO_SERVE_STATIC``  ``True``: Django serves ``STATIC_ROOT`` itself (see urls.py)
``DEMO_STATIC_ROOT``   ``<repo>/demo_project/static_root``
``HOOKPIPE_LOG_LEVEL`` ``INFO``
``DEMO_POOL_WORKERS``  ``2``: ``HOOKPIPE["THREAD_POOL"]["MAX_WORKERS"]``
``DEMO_POOL_QUEUE``    ``100``: ``HOOKPIPE["THREAD_POOL"]["MAX_QUEUE"]``
``DEMO_POOL_ON_FULL``  ``block``: ``HOOKPIPE["THREAD_POOL"]["ON_FULL"]``
``DEMO_WEBHOOK_RUNNER`` ``task``: where ``webhook-store`` runs (``task``, ``pool``)
``DEMO_HEARTBEAT_EVERY`` ``5``: ``HOOKPIPE["TASK_RUNNER"]["HEARTBEAT_EVERY"]``
``DEMO_HEARTBEAT_TIMEOUT`` ``20``: ``HOOKPIPE["TASK_RUNNER"]["HEARTBEAT_TIMEOUT"]``
``DEMO_BACKLOG_AFTER`` ``60``: ``HOOKPIPE["TASK_RUNNER"]["BACKLOG_AFTER"]``
``DEMO_ABANDONED_AFTER`` ``60``: ``HOOKPIPE["TASK_RUNNER"]["ABANDONED_AFTER"]``
``REDIS_URL``          unset: the cache every process shares is the database
                       cache (``manage.py createcachetable``); set, e.g.
                       ``redis://127.0.0.1:6379/2``, Redis is the cache
``DEMO_CHECK_EVERY``   ``10``: ``HOOKPIPE["SWITCHES"]["CHECK_EVERY"]``
``DEMO_PUBLISH_EVERY`` ``5``: ``HOOKPIPE["CLUSTER"]["PUBLISH_EVERY"]``
``DEMO_TASK_ENGINE``   ``db``: django-tasks-db (``db_worker``); ``rq``: RQ on
                       Redis through django-tasks-rq (``rqworker``); ``celery``:
                       Celery through django-tasks-fennel (``celery worker``)
``RQ_REDIS_URL``       ``redis://127.0.0.1:6379/1``: RQ's Redis (``rq`` only)
``DEMO_RQ_TIMEOUT``    ``300``: RQ's job timeout in seconds (``rq`` only)
``DEMO_RQ_QUEUE``      ``default``: the RQ queue of ``webhook-store`` (``rq`` only)
``CELERY_BROKER_URL``  ``amqp://guest:guest@127.0.0.1:5672//`` (``celery`` only)
``DEMO_CELERY_QUEUE``  ``default``: the queue of ``webhook-store`` (``celery`` only)
``DEMO_DURATIONS``     ``true``: ``HOOKPIPE["METRICS"]["DURATIONS"]``
``DEMO_METRICS_TOKEN`` unset: ``HOOKPIPE["METRICS"]["BEARER_TOKEN"]``
``DEMO_TRACING``       ``false``: ``HOOKPIPE["TRACING"]["ENABLED"]``, spans to the
                       console, or to ``OTEL_EXPORTER_OTLP_ENDPOINT`` when it is set
                       (``demo_project/tracing.py``)
``DEMO_SERVER_TIMING`` ``false``: ``HOOKPIPE["TRACING"]["SERVER_TIMING"]``
=====================  =====================================================

The demo's plugins read their own settings from ``HOOKPIPE_<NAME>_<KEY>`` variables
(or the ``.env`` file), e.g. ``HOOKPIPE_WEBHOOK_STORE_TOKEN`` (default ``demo-token``,
set in ``HOOKPIPE["PLUGINS"]`` below only when the variable is unset) and
``HOOKPIPE_WEBHOOK_STORE_DELAY``; see ``demo_project/events/plugins.py``.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
ENV_FILE = Path(env.str("DEMO_ENV_FILE", default=str(BASE_DIR / ".env")))
if ENV_FILE.is_file():
    environ.Env.read_env(ENV_FILE)

DEBUG = env.bool("DEBUG", default=False)
# Public on purpose so that the demo starts with no setup. The "django-insecure-" prefix
# makes "manage.py check --deploy" flag it.
SECRET_KEY = env.str(
    "SECRET_KEY", default="django-insecure-hookpipe-demo-only-never-use-this-key-anywhere-else"
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "hookpipe",
    "hookpipe.fleet",
    "django_tasks_db",
    "demo_project.pages",
    "demo_project.events",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that every tween sees request.user and request.session.
    "hookpipe.middleware.HookpipeMiddleware",
]

ROOT_URLCONF = "demo_project.urls"
WSGI_APPLICATION = "demo_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'demo_project' / 'db.sqlite3'}"
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web workers enqueue (write) while the task workers claim and finish jobs:
    # WAL lets readers and one writer go on together, IMMEDIATE takes the write lock at
    # the start of a transaction (no deadlock on upgrade), and a writer waits up to 20 s
    # for the lock instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's task framework (django.tasks on Django 6, the django-tasks backport on 5.2):
# jobs are rows in the demo's own database, run by `manage.py db_worker`.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# A cache every gunicorn worker shares, so that the admin's Pipeline page and
# "manage.py hookpipe" show the whole fleet (HOOKPIPE["CLUSTER"] below). The default
# is the database cache (its table is made by "manage.py createcachetable", which
# "make demo" runs); with REDIS_URL set, Redis.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "demo_cache",
        }
    }
TASK_ENGINE = env.str("DEMO_TASK_ENGINE", default="db")
#: The queue of webhook-store's jobs.
TASK_QUEUE = env.str(
    "DEMO_CELERY_QUEUE" if TASK_ENGINE == "celery" else "DEMO_RQ_QUEUE", default="default"
)
if TASK_ENGINE == "rq":
    # RQ on Redis (pip install "hookpipe[rq]"), run by `manage.py rqworker
    # --serializer rq.serializers.JSONSerializer default`.
    # RedeliveringQueue gives each job RQ's Retry, so that a job whose worker was
    # killed mid-job runs again when RQ cleans its registries (docs/durable.rst).
    INSTALLED_APPS.append("django_rq")
    RQ_QUEUE = env.str("DEMO_RQ_QUEUE", default="default")
    # hookpipe's RQ backend: django-tasks-rq's, with the queue built once per process.
    TASKS = {"default": {"BACKEND": "hookpipe.tasks.RQBackend", "QUEUES": [RQ_QUEUE]}}
    RQ_QUEUES = {
        RQ_QUEUE: {
            "URL": env.str("RQ_REDIS_URL", default="redis://127.0.0.1:6379/1"),
            "DEFAULT_TIMEOUT": env.int("DEMO_RQ_TIMEOUT", default=300),
            # Jobs as JSON: unpickling a job would run whatever code its bytes name.
            # rqworker needs the same: --serializer rq.serializers.JSONSerializer.
            "SERIALIZER": "rq.serializers.JSONSerializer",
        }
    }
    RQ = {
        "QUEUE_CLASS": "hookpipe.tasks.RedeliveringQueue",
        # rqworker runs jobs as django-tasks-rq's Job, which calls the Task inside;
        # hookpipe's reads them as JSON even from a worker started without --serializer.
        "JOB_CLASS": "hookpipe.tasks.JSONJob",
    }

elif TASK_ENGINE == "celery":
    # Celery on RabbitMQ (pip install "hookpipe[celery]") through django-tasks-fennel, run
    # by `celery -A django_tasks_fennel.app worker -Q default`.
    INSTALLED_APPS.append("django_tasks_fennel")
    TASKS = {"default": {"BACKEND": "django_tasks_fennel.CeleryBackend", "QUEUES": [TASK_QUEUE]}}
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="amqp://guest:guest@127.0.0.1:5672//")
    # A job is acknowledged once it ran, and requeued if its worker dies first.
    CELERY_TASK_ACKS_LATE = True
    CELERY_TASK_REJECT_ON_WORKER_LOST = True
    # One job in hand per pool process: a killed worker holds back no more than that.
    CELERY_WORKER_PREFETCH_MULTIPLIER = 1
    # The worker learns hookpipe's task from this module.
    CELERY_IMPORTS = ["hookpipe.tasks.celery_worker"]
    # hookpipe ignores task results: no result backend to keep them in.
    CELERY_TASK_IGNORE_RESULT = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("DEMO_STATIC_ROOT", default=str(BASE_DIR / "demo_project" / "static_root"))
# Under gunicorn nothing else serves static files, so the demo lets Django do it
# (``django.views.static.serve``, fine for a demo, not for production). Run
# "manage.py collectstatic" first.
DEMO_SERVE_STATIC = env.bool("DEMO_SERVE_STATIC", default=True)

# The key the api-key tween wants in the X-Api-Key header of every /api/ request.
DEMO_API_KEY = env.str("DEMO_API_KEY", default="demo-key")
#: The demo's Standard Webhooks secret ("whsec_" and base64): not a secret, a fixture.
DEMO_WEBHOOK_SECRET = "whsec_ZGVtby1zaWduaW5nLWtleS1ub3QtYS1zZWNyZXQ="

# The demo pipeline. The chain it builds, outermost first, is
#   demo_project.tweens.timing, request-id, api-key, layer-outer, layer-inner, interface
# which is not the list order: the over/under hints move two entries (see the notes).
# A tween without a "name" is named by its dotted path, like the first one.
HOOKPIPE = {
    "TWEENS": [
        # No hints: under INGRESS, and first in the list, so the outermost tween. It
        # times everything below it.
        "demo_project.tweens.timing",
        # A Tangled-style chain handler, fn(app, request, next_handler).
        {"handler": "demo_project.tweens.request_id", "name": "request-id"},
        # One factory used twice under two names. "layer-inner" is listed first, but
        # its hint puts it below "layer-outer".
        {
            "factory": "demo_project.tweens.layer",
            "name": "layer-inner",
            "under": "layer-outer",
            "options": {"label": "inner"},
        },
        {
            "factory": "demo_project.tweens.layer",
            "name": "layer-outer",
            "options": {"label": "outer"},
        },
        # An async def tween, innermost.
        {"factory": "demo_project.tweens.interface", "name": "interface", "under": "layer-inner"},
        # Listed last, but its hints lift it right below request-id: rejected requests
        # still get a request id and a timing, and skip the layers below. Both hints
        # are fallback lists: if "request-id" or "layer-outer" is taken out, the
        # sentinel that follows still holds.
        {
            "factory": "demo_project.tweens.api_key",
            "name": "api-key",
            "over": ["layer-outer", "hookpipe.MAIN"],
            "under": ["request-id", "hookpipe.INGRESS"],
            "options": {"prefix": "/api/"},
        },
    ],
    # Pecan-style hooks around the view. ViewTime adds X-Demo-View-Ms to each page;
    # RequestViewerHook logs one line per request on the "hookpipe.viewer" logger
    # (with DEBUG on, also as X-Hookpipe-* response headers). Views add their own hooks
    # with @with_hooks (demo_project/pages/views.py).
    "HOOKS": [
        # Deliveries to /webhooks/signed/ carry a Standard Webhooks signature (the way
        # Svix, Clerk or Resend sign theirs): verified before any handler sees them, a
        # 401 when it does not verify. Several secrets, comma-separated, for a rotation.
        {
            "class": "hookpipe.SignatureHook",
            "options": {
                "scheme": "standard",
                "paths": ["/webhooks/signed/"],
                "secrets": env.list("DEMO_WEBHOOK_SECRETS", default=[DEMO_WEBHOOK_SECRET]),
            },
        },
        "demo_project.hooks.ViewTime",
        {
            "class": "hookpipe.RequestViewerHook",
            "options": {
                "items": ["method", "path", "status", "view", "hooks"],
                "blacklist": ["/static/"],
                "headers": True,
            },
        },
    ],
    # Ledge-style plugins (demo_project/events/plugins.py). The handler stores webhook
    # deliveries as a task (a db_worker runs it; docs/durable.rst); the responders
    # stream NDJSON.
    "HANDLERS": [
        {
            "class": "demo_project.events.plugins.WebhookStore",
            "RUNNER": env.str("DEMO_WEBHOOK_RUNNER", default="task"),
            "TASK_QUEUE_NAME": TASK_QUEUE,
        }
    ],
    "RESPONDERS": [
        "demo_project.events.plugins.EventFeed",
        "demo_project.events.plugins.Clock",
    ],
    # Values given here win over HOOKPIPE_<NAME>_<KEY> environment variables. The
    # token is left to the environment when it is set there, so a deployment can
    # change it without touching this file.
    "PLUGINS": {
        "webhook-store": (
            {} if "HOOKPIPE_WEBHOOK_STORE_TOKEN" in env.ENVIRON else {"TOKEN": "demo-token"}
        ),
    },
    "THREAD_POOL": {
        "MAX_WORKERS": env.int("DEMO_POOL_WORKERS", default=2),
        "MAX_QUEUE": env.int("DEMO_POOL_QUEUE", default=100),
        "ON_FULL": env.str("DEMO_POOL_ON_FULL", default="block"),
    },
    "TASK_RUNNER": {
        "HEARTBEAT_EVERY": env.float("DEMO_HEARTBEAT_EVERY", default=5.0),
        "HEARTBEAT_TIMEOUT": env.float("DEMO_HEARTBEAT_TIMEOUT", default=20.0),
        "BACKLOG_AFTER": env.float("DEMO_BACKLOG_AFTER", default=60.0),
        "ABANDONED_AFTER": env.float("DEMO_ABANDONED_AFTER", default=60.0),
    },
    # Every plugin can be switched off and on from the admin's Pipeline page or with
    # "manage.py hookpipe --disable NAME"; each worker applies a switch within
    # CHECK_EVERY seconds. The API key check is a security control: it is locked on.
    "SWITCHES": {
        "CHECK_EVERY": env.float("DEMO_CHECK_EVERY", default=10.0),
        "LOCKED": ["api-key"],
    },
    # Each worker publishes its counters to the shared cache (CACHES above).
    "CLUSTER": {"PUBLISH_EVERY": env.float("DEMO_PUBLISH_EVERY", default=5.0)},
    # Duration histograms of every plugin for /internal/metrics/ (opt in: each request
    # pays for the timers; see docs/fleet.rst).
    # A scraper reads /internal/metrics/ with "Authorization: Bearer <DEMO_METRICS_TOKEN>"
    # (unset: only users with the Pipeline page's permission may).
    "METRICS": {
        "DURATIONS": env.bool("DEMO_DURATIONS", default=True),
        "BEARER_TOKEN": env.str("DEMO_METRICS_TOKEN", default=""),
    },
    "TRACING": {
        "ENABLED": env.bool("DEMO_TRACING", default=False),
        "SERVER_TIMING": env.bool("DEMO_SERVER_TIMING", default=False),
    },
}

if HOOKPIPE["TRACING"]["ENABLED"]:  # the web processes and the task worker alike
    from demo_project.tracing import configure

    configure()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [pid %(process)d] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "hookpipe": {
            "handlers": ["console"],
            "level": env.str("HOOKPIPE_LOG_LEVEL", default="INFO"),
            "propagate": False,
        },
        "demo_project": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
