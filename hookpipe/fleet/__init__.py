"""The fleet: operating many processes as one (an app a project adds to ``INSTALLED_APPS``
as ``"hookpipe.fleet"``).

* runtime switches: any configured plugin switched off and on again, from the admin
  page or ``manage.py hookpipe``, stored in the database with their history
  (:mod:`.store`), read by every process at most once per ``SWITCHES["CHECK_EVERY"]``
  seconds (:mod:`.watch`);
* every process's record published to a cache all processes share (:mod:`.publish`),
  and the fleet read back from it (:mod:`.read`) for the admin page, the command and
  the Prometheus view (:func:`metrics_view`).

Public names come from here. See ``docs/fleet.rst``.
"""

from .metrics import metrics_view

__all__ = ["metrics_view"]
