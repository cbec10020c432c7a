"""Settings of the project the test suite runs against."""

import importlib.util
import os

# Django 6 has django.tasks; on 5.2 the django-tasks backport stands in for it.
TASKS_PACKAGE = "django.tasks" if importlib.util.find_spec("django.tasks") else "django_tasks"

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
ROOT_URLCONF = "tests.testapp.urls"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "hookpipe",
    "hookpipe.fleet",
    "tests.testapp",
    "django_tasks_db",
    "django_rq",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "hookpipe.middleware.HookpipeMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
HOOKPIPE: dict[str, object] = {}
STATIC_URL = "/static/"  # the admin pages link their CSS; tests/test_browser.py serves it
TASKS = {
    "default": {"BACKEND": f"{TASKS_PACKAGE}.backends.immediate.ImmediateBackend"},
    "db": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "hooks"]},
}
# The immediate backend is what these tests mean to use for the logic.
SILENCED_SYSTEM_CHECKS = ["hookpipe.W050"]
# Django 6.1 asks for its mail settings in MAILERS (and warns, an error here, when a
# mail is sent without them); Django 5.2 ignores the key. The test runner swaps in the
# in-memory backend either way.
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend"}}

# RQ on Redis (tests/test_task_rq.py adds an "rq" alias to TASKS where it needs one):
# database 1 of the local Redis, a queue of its own, jobs as JSON (never pickle).
REDIS_URL = os.environ.get("RQ_REDIS_URL", "redis://127.0.0.1:6379/1")
RQ_QUEUES = {
    "hookpipe-tests": {
        "URL": REDIS_URL,
        "DEFAULT_TIMEOUT": 30,
        "SERIALIZER": "rq.serializers.JSONSerializer",
    }
}
RQ = {
    "QUEUE_CLASS": "hookpipe.tasks.RedeliveringQueue",
    "JOB_CLASS": "hookpipe.tasks.JSONJob",
}
