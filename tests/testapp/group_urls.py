"""A URLconf included with hooks (``group_root_urls``) and without; every view under it
is one of ``hook_views``, so the same functions are mounted both ways."""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from . import hook_views as v

app_name = "groupapp"

urlpatterns = [
    path("plain/", v.plain, name="plain"),
    path("plain/<int:number>/", v.plain, name="plain-number"),
    path("async/", v.async_plain, name="async"),
    path("broken/", v.plain_broken, name="broken"),
    path("hooked/", v.hooked, name="hooked"),
    path("cbv/", v.BaseView.as_view(), name="cbv"),
    path("cbv-async/", v.AsyncView.as_view(), name="cbv-async"),
    path("form/", csrf_exempt(v.form), name="form"),
]
