"""What the command and admin page tests need beyond tests/testapp: hooks, views that
carry them, a custom ``AdminSite``, and a URLconf with all of it
(``@pytest.mark.urls("tests.testapp.pipeline_fixtures")``)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, include, path
from django.views import View

from hookpipe import Hook, State, with_hooks
from hookpipe.admin import PipelineAdmin
from hookpipe.models import Pipeline


class AuditHook(Hook):
    """A global hook (``HOOKPIPE["HOOKS"]``)."""

    priority = 10

    def before(self, state: State) -> None:
        return None


class TimingHook(Hook):
    async def after(self, state: State) -> None:
        return None


class ApiKeyHook(Hook):
    priority = 5

    def before(self, state: State) -> None:
        return None


timing = TimingHook()


@with_hooks(timing, ApiKeyHook())
def report(request: HttpRequest) -> HttpResponse:
    return HttpResponse("report")


@with_hooks(timing)
class ItemView(View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return HttpResponse(f"item {pk}")


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("no hooks here")


class OpsAdminSite(admin.AdminSite):
    site_header = "Ops console"


ops_site = OpsAdminSite(name="opsadmin")
ops_site.register(Pipeline, PipelineAdmin)

v2_patterns: list[URLPattern | URLResolver] = [path("reports/", report, name="report")]

api_patterns: list[URLPattern | URLResolver] = [
    path("reports/", report, name="report"),
    path("items/<int:pk>/", ItemView.as_view(), name="item"),
    path("plain/", plain, name="plain"),
    path("v2/", include((v2_patterns, "v2"))),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include((api_patterns, "api"))),
    path("ops/", ops_site.urls),
]
