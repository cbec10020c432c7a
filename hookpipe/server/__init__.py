"""What servers call: an ASGI application with a lifespan (:mod:`.asgi`) and gunicorn's
``worker_exit`` hook (:mod:`.gunicorn`). Users import them from ``hookpipe``."""
