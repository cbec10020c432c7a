"""Pecan-style hooks: code that runs at fixed points of every request.

A hook is an object with four methods, each optional and each may be ``async def``:

* ``on_route(state)``: in ``MAIN``, before Django resolves the URL (global hooks only);
* ``before(state)``: after routing, just before the view (from the middleware's
  ``process_view``);
* ``after(state)``: once there is a final response, also after an error;
* ``on_error(state, exc)``: when routing, a ``before`` hook, the view or an ``after``
  hook raised.

The rules (``docs/hooks.rst`` has them as a table): a request's hooks are the global
ones (``HOOKPIPE["HOOKS"]``) plus the view's (``@with_hooks``), sorted by ``priority``,
ascending and stable, each instance once. ``on_route`` and ``before`` run in that order,
``after`` and ``on_error`` in reverse. ``after`` pairs with the entry methods a hook
defines: a hook that defines ``on_route`` or ``before`` gets it only when one of them
ran, a hook that defines neither always. ``on_error`` goes to the hooks the request
reached (those up to one whose ``on_route``/``before`` answered or raised). The first
``on_error`` that returns a response
wins; if none does, Django's own exception handling answers.

Cost: everything that can be decided ahead (the sorted lists, which methods a hook
overrides, which are async, where a run of sync methods starts and ends) is decided
once per pipeline build, or once per view for per-view hooks. With no hooks at all,
a request pays one attribute read in ``MAIN`` and one cached lookup in ``process_view``.

Sync and async: consecutive methods of the same kind run as one *run*, so a request
served under ASGI with five sync hooks switches threads once per phase, not five times.

The package, one job per module:

* :mod:`~hookpipe.hooks.api`: ``Hook``, ``State``, ``@with_hooks``, what hook authors use;
* :mod:`~hookpipe.hooks.groups`: ``include_with_hooks``, hooks for every view of an include;
* :mod:`~hookpipe.hooks.config`: ``HOOKPIPE["HOOKS"]`` checked, imported and built;
* :mod:`~hookpipe.hooks.compiled`: the sorted lists and per-phase programs, built ahead;
* :mod:`~hookpipe.hooks.phases`: each phase written once (run sync or async), errors handled;
* :mod:`~hookpipe.hooks.routing`: giving ``on_error`` the errors of URL routing;
* :mod:`~hookpipe.hooks.runtime`: one pipeline build's hooks, and where requests enter;
* :mod:`~hookpipe.hooks.viewer` (with :mod:`~hookpipe.hooks.redaction`) and
  :mod:`~hookpipe.hooks.transaction` and :mod:`~hookpipe.hooks.signatures`: the
  built-in hooks.

This module only re-exports. Users import ``Hook``, ``State``, ``with_hooks`` and
``include_with_hooks`` from
``hookpipe`` and name the built-in hooks in settings as ``hookpipe.hooks.<Name>``; the
other names are what the rest of hookpipe (pipeline, middleware, introspection) uses.
"""

from .api import Hook, State, hook_label, view_hooks, with_hooks
from .config import HookConstructorError, HookSpec, build_hooks, plan_hooks
from .groups import include_with_hooks
from .redaction import REDACTED, SECRET_NAME
from .runtime import HookRuntime, process_exception, process_view_async, process_view_sync
from .signatures import SignatureHook
from .transaction import TransactionHook
from .viewer import RequestViewerHook

__all__ = [
    "REDACTED",
    "SECRET_NAME",
    "Hook",
    "HookConstructorError",
    "HookRuntime",
    "HookSpec",
    "RequestViewerHook",
    "SignatureHook",
    "State",
    "TransactionHook",
    "build_hooks",
    "hook_label",
    "include_with_hooks",
    "plan_hooks",
    "process_exception",
    "process_view_async",
    "process_view_sync",
    "view_hooks",
    "with_hooks",
]
