from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "demo_project.events"
    label = "events"
    verbose_name = "Webhook events"
    default_auto_field = "django.db.models.BigAutoField"
