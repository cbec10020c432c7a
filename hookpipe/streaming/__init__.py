"""A responder's output as a streamed response, whichever way the server reads it:
:mod:`~hookpipe.streaming.response` decides, :mod:`~hookpipe.streaming.streams` streams,
:mod:`~hookpipe.streaming.bridges` and :mod:`~hookpipe.streaming.buffer` cross between
sync and async code."""
