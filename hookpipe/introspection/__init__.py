"""What ``manage.py hookpipe`` and the admin "Pipeline" page show: the pipeline as plain
data (:mod:`~hookpipe.introspection.data`), arranged for display
(:mod:`~hookpipe.introspection.display`) and as text (:mod:`~hookpipe.introspection.text`)."""

from .data import Inspection, inspect_pipeline
from .text import render_text

__all__ = ["Inspection", "inspect_pipeline", "render_text"]
