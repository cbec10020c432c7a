"""URLs of the hook tests, under ``/hooks/``."""

from django.urls import path, register_converter
from django.views.decorators.csrf import csrf_exempt

from . import hook_views as v


class ExplodingConverter:
    """Fails with something else than ValueError: Django's routing raises, a 500."""

    regex = "[a-z]+"

    def to_python(self, value: str) -> str:
        raise RuntimeError("converter failed")

    def to_url(self, value: str) -> str:
        return value


register_converter(ExplodingConverter, "hookpipe_test_exploding")

urlpatterns = [
    path("plain/", v.plain),
    path("plain/<int:number>/<slug:slug>/", v.plain),
    path("async-plain/", v.async_plain),
    path("plain-broken/", v.plain_broken),
    path("plain-404/", v.plain_not_found),
    path("plain-403/", v.plain_forbidden),
    path("returns-404/", v.returns_404),
    path("form/", csrf_exempt(v.form)),
    path("hooked/", v.hooked),
    path("hooked/<int:number>/", v.hooked),
    path("async-hooked/", v.async_hooked),
    path("hooked-broken/", v.hooked_broken),
    path("guarded/", v.guarded),
    path("guarded-logged/", v.guarded_logged),
    path("stacked/", v.stacked),
    path("wrapped/", v.wrapped),
    path("cbv/base/", v.BaseView.as_view()),
    path("cbv/child/", v.ChildView.as_view()),
    path("cbv/quiet/", v.QuietChild.as_view()),
    path("cbv/async/", v.AsyncView.as_view()),
    path("cbv/decorated/", v.decorated_as_view),
    path("groups/", csrf_exempt(v.create_group)),
    path("explode/<hookpipe_test_exploding:word>/", v.plain),
]
