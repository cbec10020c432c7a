"""A root URLconf for the group tests (``tests/test_hook_groups.py``): one URLconf
mounted with hooks, the same one mounted without, and groups nested in groups."""

from django.contrib import admin
from django.urls import include, path

from hookpipe import include_with_hooks

from .hooks import Recorder

GROUP = Recorder("group")
OUTER = Recorder("outer")
INNER = Recorder("inner")

urlpatterns = [
    path("admin/", admin.site.urls),  # the Pipeline page lists the groups' hooks
    path("group/", include_with_hooks("tests.testapp.group_urls", GROUP, namespace="grouped")),
    path("bare/", include("tests.testapp.group_urls", namespace="bare")),
    path(
        "outer/",
        include_with_hooks(
            [
                path(
                    "inner/",
                    include_with_hooks("tests.testapp.group_urls", INNER, namespace="inner"),
                ),
                path("bare/", include("tests.testapp.group_urls", namespace="outer-bare")),
            ],
            OUTER,
        ),
    ),
]
