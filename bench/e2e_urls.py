"""URLs of the end-to-end run: ``/bench/``, a page that does no work of its own (the
same as ``bench/run.py``'s view), and the demo's URLs."""

from django.urls import URLPattern, URLResolver, include, path

from .parts import view

urlpatterns: list[URLPattern | URLResolver] = [
    path("bench/", view),
    path("", include("demo_project.urls")),
]
