"""URLs of the demo project: the pages app, the admin and, for the demo, static files."""

import re

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.static import serve

from hookpipe.fleet import metrics_view

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("demo_project.pages.urls")),
    path("", include("demo_project.events.urls")),
    path("admin/", admin.site.urls),
    # The fleet's Prometheus metrics: for users with the Pipeline page's permission, and
    # for a scraper with METRICS["BEARER_TOKEN"] (DEMO_METRICS_TOKEN; docs/fleet.rst).
    path("internal/metrics/", metrics_view),
]

if settings.DEMO_SERVE_STATIC:
    # django.conf.urls.static.static() only works with DEBUG on; the demo wants the admin
    # styled under gunicorn with DEBUG off too, so it serves STATIC_ROOT itself. A real
    # deployment leaves this to the web server or a CDN.
    prefix = settings.STATIC_URL.strip("/")
    urlpatterns.append(
        re_path(
            rf"^{re.escape(prefix)}/(?P<path>.*)$", serve, {"document_root": settings.STATIC_ROOT}
        )
    )
