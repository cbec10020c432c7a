"""The request pipeline: planned from ``HOOKPIPE``, built once per process, run per request.

* :mod:`~hookpipe.pipeline.plan`: what the configuration asks for, imported and ordered,
  every problem a check message (shared by the system checks and the build);
* :mod:`~hookpipe.pipeline.build`: one :class:`Pipeline`: hooks and plugins created,
  tween factories called innermost first;
* :mod:`~hookpipe.pipeline.chain`: the links between tweens, guarded and adapted for
  sync and async callers;
* :mod:`~hookpipe.pipeline.main`: ``MAIN``, the core at the bottom of the chain;
* :mod:`~hookpipe.pipeline.process`: the process's pipeline and the two entry points
  the middleware calls.
"""

from .build import BuildError, Pipeline, Registry
from .process import RETRY_FAILED_BUILD_AFTER, current_pipeline, get_pipeline

__all__ = [
    "RETRY_FAILED_BUILD_AFTER",
    "BuildError",
    "Pipeline",
    "Registry",
    "current_pipeline",
    "get_pipeline",
]
