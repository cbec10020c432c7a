"""The request pipeline: planned from ``HOOKPIPE``, built once per process, run per request.

* :mod:`~hookpipe.core.ordering`: tween hints in, an order or errors out (pure: no
  Django);

* :mod:`~hookpipe.core.plan`: what the configuration asks for, imported and ordered,
  every problem a check message (shared by the system checks and the build);
* :mod:`~hookpipe.core.build`: one :class:`Pipeline`: hooks and plugins created,
  tween factories called innermost first;
* :mod:`~hookpipe.core.chain`: the links between tweens, guarded and adapted for
  sync and async callers;
* :mod:`~hookpipe.core.main`: ``MAIN``, the core at the bottom of the chain;
* :mod:`~hookpipe.core.process`: the process's pipeline and the two entry points
  the middleware calls, the extension points of the opt-in packages, the fork handler;
* :mod:`~hookpipe.core.mode`: the mode the middleware asks Django for under ASGI.

This package's ``__init__`` imports nothing, so that ``import hookpipe`` in a settings
module (for ``INGRESS`` and ``MAIN``) loads the pure ordering module alone.
"""
