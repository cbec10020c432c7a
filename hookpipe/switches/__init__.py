"""Runtime switches: turn any configured plugin off and on again without a restart.

The state lives in the database (:class:`hookpipe.models.PluginSwitch`, written by the
admin page and ``manage.py hookpipe --disable/--enable``); every process reads it at most
once per ``HOOKPIPE["SWITCHES"]["CHECK_EVERY"]`` seconds (:mod:`.watch`) and rebuilds its
pipeline without the disabled plugins (:mod:`.apply`). See ``docs/fleet.rst``.
"""
