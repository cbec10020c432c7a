from django.urls import path

from . import views

app_name = "pages"

urlpatterns = [
    path("", views.home, name="home"),
    path("api/status/", views.api_status, name="api-status"),
    path("api/pipeline/", views.api_pipeline, name="api-pipeline"),
    path("broken/", views.broken, name="broken"),
]
