"""Cluster state: every process publishes its counters to Django's cache
(:mod:`.publish`), and the admin page and ``manage.py hookpipe`` read the fleet's
(:mod:`.fleet`). See ``docs/fleet.rst``."""
