"""A small, real Django project that runs every request through hookpipe.

See ``demo_project/README.md`` for how to run it.
"""
