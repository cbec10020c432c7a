from django.urls import path

from . import views

app_name = "events"

# The feed (/events/feed/) and the clock (/events/clock/) have no URL patterns: their
# responders answer in hookpipe's MAIN, before Django routes the request.
urlpatterns = [
    path("webhooks/<slug:source>/", views.webhook, name="webhook"),
]
