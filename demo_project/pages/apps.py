from django.apps import AppConfig


class PagesConfig(AppConfig):
    name = "demo_project.pages"
    label = "pages"
    verbose_name = "Demo pages"
