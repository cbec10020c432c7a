"""ASGI entry point: ``python -m uvicorn demo_project.asgi:application --lifespan off``.

The same pipeline as under WSGI; hookpipe's middleware runs natively async here, and the
sync tweens are called in a thread.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")

application = get_asgi_application()
