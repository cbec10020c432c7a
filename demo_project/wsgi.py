"""WSGI entry point: ``gunicorn -c demo_project/gunicorn.conf.py``.

Importing this module sets Django up and creates the middleware, but builds no hookpipe
pipeline: that happens on each worker's first request, so ``gunicorn --preload`` runs no
tween factory in the master process.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")

application = get_wsgi_application()
