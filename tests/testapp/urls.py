from django.contrib import admin
from django.urls import include, path

from hookpipe.fleet import metrics_view

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("async/", views.async_index, name="async-index"),
    path("broken/", views.broken, name="broken"),
    path("admin/", admin.site.urls),
    path("metrics/", metrics_view),
    path("hooks/", include("tests.testapp.hook_urls")),
    path("webhooks/accept", views.accept_webhook),
    path("webhooks/store", views.store_delivery),
    path("webhooks/held", views.held_webhook),
    path("upload/", views.upload),
]
