"""ASGI entry point: ``python -m uvicorn demo_project.asgi:application``.

The same pipeline as under WSGI; hookpipe's middleware runs natively async here, and the
sync tweens are called in a thread. hookpipe's ``get_asgi_application`` is Django's with
an ASGI lifespan: when the server stops, the handler pool is drained (queued webhook
deliveries are stored, or logged and counted) before the process exits. Leave the
server's lifespan on (uvicorn's default, ``--lifespan auto``, or ``on``).
"""

import os

from hookpipe import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")

application = get_asgi_application()
