"""Handlers and responders for the tests: well-behaved ones, slow ones, failing ones and
broken declarations for the checks.

Handlers record what they saw in :data:`SEEN` (name -> list) and set :data:`DONE`
events, so a test can wait for a pool job without sleeping; those a task worker runs
in a process of its own write to a file instead (:func:`log_line`).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from hookpipe import HandlerImplementation, RequestSnapshot, ResponderImplementation, Setting

SEEN: dict[str, list[Any]] = defaultdict(list)
DONE: dict[str, threading.Event] = defaultdict(threading.Event)
#: Set by the closing of a stream, by responder name.
CLOSED: dict[str, threading.Event] = defaultdict(threading.Event)


def reset() -> None:
    SEEN.clear()
    DONE.clear()
    CLOSED.clear()


def note_finished(request: HttpRequest, label: str) -> None:
    """Have ``SEEN["finished"]`` record ``label`` (and whether its stream was closed
    by then) once the response is sent."""

    def finished(request: HttpRequest) -> None:
        SEEN["finished"].append((label, CLOSED[label].is_set()))

    request.hookpipe.add_finished_callback(finished)  # type: ignore[attr-defined]


def wants(request: HttpRequest | RequestSnapshot, prefix: str) -> bool:
    return request.path.startswith(prefix)


# ------------------------------------------------------------------ handlers


class Recorder(HandlerImplementation):
    """Thread-safe: records the snapshot it got and the thread it ran in."""

    name = "recorder"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/webhooks/") or wants(request, "/answer/echo")

    def handle(self, request: Any, content: bytes) -> None:
        SEEN[self.name].append((request, content, threading.current_thread().name))
        DONE[self.name].set()


class InlineRecorder(HandlerImplementation):
    """Not thread-safe: runs in the request's thread with the live request."""

    name = "inline-recorder"
    THREAD_SAFE = False

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/webhooks/") or wants(request, "/answer/echo")

    def handle(self, request: Any, content: bytes) -> None:
        request.inline_recorder_saw = content
        SEEN[self.name].append((request, content, threading.current_thread().name))


class TaskRecorder(HandlerImplementation):
    """Runs as a task (on the immediate backend in these tests): records the snapshot
    it was rebuilt from, and its config, which the worker resolved itself."""

    name = "task-recorder"
    RUNNER = "task"
    subconfig = {"TOKEN": Setting(str, default="", secret=True)}

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/webhooks/")

    def handle(self, request: Any, content: bytes) -> None:
        SEEN[self.name].append((request, content, self.config["TOKEN"]))
        DONE[self.name].set()


class DeliveryChecker(HandlerImplementation):
    """A task on the database backend that reads the row the view wrote with its job:
    records whether the worker found it."""

    name = "delivery-checker"
    RUNNER = "task"
    TASK_BACKEND = "db"
    # "X-Key" looks secret to the redaction rules: a stored job keeps it only by name.
    TASK_KEEP_HEADERS = ("X-Key",)

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/webhooks/store")

    def handle(self, request: Any, content: bytes) -> None:
        from .models import Delivery

        key = request.headers["X-Key"]
        SEEN[self.name].append((key, Delivery.objects.filter(key=key).exists()))


class FailingTask(HandlerImplementation):
    name = "failing-task"
    RUNNER = "task"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/webhooks/")

    def handle(self, request: Any, content: bytes) -> None:
        raise RuntimeError("the task handler broke")


class Sleepy(HandlerImplementation):
    """Sleeps ``SECONDS`` in the pool; for latency and drain tests."""

    name = "sleepy"
    subconfig = {"SECONDS": Setting(float, default=0.2)}

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/webhooks/")

    def handle(self, request: Any, content: bytes) -> None:
        time.sleep(self.config.SECONDS)
        SEEN[self.name].append(request.request_id)
        DONE[self.name].set()


class Failing(HandlerImplementation):
    name = "failing"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/webhooks/")

    def handle(self, request: Any, content: bytes) -> None:
        DONE[self.name].set()
        raise RuntimeError("handler failed on purpose")


class FailingInline(Failing):
    name = "failing-inline"
    THREAD_SAFE = False


class HandlesRaises(HandlerImplementation):
    name = "handles-raises"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        raise KeyError("no such header")

    def handle(self, request: Any, content: bytes) -> None:
        SEEN[self.name].append(request)


class Configured(HandlerImplementation):
    """Declares a subconfig with a secret, a required value and defaults."""

    name = "webhook-store"
    subconfig = {
        "TOKEN": Setting(str, secret=True, help="the shared secret"),
        "BATCH": Setting(int, default=10),
        "RATIO": Setting(float, default=0.5),
        "ENABLED": Setting(bool, default=True),
        "TAGS": Setting(list, default=["a"]),
    }

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return False

    def handle(self, request: Any, content: bytes) -> None:
        pass


# ---------------------------------------------------------------- responders


class Chunks(ResponderImplementation):
    """Sync generator: ``COUNT`` chunks, ``DELAY`` seconds apart (``/stream/...``)."""

    name = "chunks"
    content_type = "text/plain; charset=utf-8"
    headers = {"X-Accel-Buffering": "no"}
    subconfig = {"COUNT": Setting(int, default=3), "DELAY": Setting(float, default=0.0)}

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/stream/sync")

    def respond(self, request: HttpRequest, content: bytes) -> Iterator[str]:
        note_finished(request, self.name)
        try:
            for i in range(self.config.COUNT):
                if i and self.config.DELAY:
                    time.sleep(self.config.DELAY)
                yield f"chunk {i}\n"
        finally:
            CLOSED[self.name].set()


class AsyncChunks(ResponderImplementation):
    """Async generator method: chunks from the event loop (``/stream/async``)."""

    name = "async-chunks"
    content_type = "text/plain; charset=utf-8"
    subconfig = {"COUNT": Setting(int, default=3), "DELAY": Setting(float, default=0.0)}

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/stream/async")

    async def respond(self, request: HttpRequest, content: bytes) -> AsyncIterator[bytes]:
        try:
            for i in range(self.config.COUNT):
                if i and self.config.DELAY:
                    await asyncio.sleep(self.config.DELAY)
                yield f"chunk {i}\n".encode()
        finally:
            CLOSED[self.name].set()


class SyncReturnsAsync(ResponderImplementation):
    """A plain ``def respond`` that returns an async generator (``/stream/mixed``)."""

    name = "sync-returns-async"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/stream/mixed")

    def respond(self, request: HttpRequest, content: bytes) -> AsyncIterator[str]:
        async def chunks() -> AsyncIterator[str]:
            for word in ("one", "two", "three"):
                await asyncio.sleep(0)
                yield word + "\n"

        return chunks()


class CoroutineList(ResponderImplementation):
    """``async def respond`` returning a list of chunks (``/answer/coroutine``)."""

    name = "coroutine-list"
    status = 201

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/answer/coroutine")

    async def respond(self, request: HttpRequest, content: bytes) -> list[bytes]:
        await asyncio.sleep(0)
        return [b"made ", b"by a ", b"coroutine"]


class PlainReturnsCoroutine(CoroutineList):
    """A plain ``def respond`` handing back a coroutine (``/answer/coroutine``)."""

    name = "plain-returns-coroutine"

    def respond(self, request: HttpRequest, content: bytes) -> Any:  # type: ignore[override]
        return CoroutineList.respond(self, request, content)


class Echo(ResponderImplementation):
    """Returns a response as is, with the content it got (``/answer/echo``)."""

    name = "echo"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/answer/echo")

    def respond(self, request: HttpRequest, content: bytes) -> HttpResponse:
        note_finished(request, self.name)
        seen = getattr(request, "inline_recorder_saw", None)
        return JsonResponse(
            {
                "content": content.decode(),
                "request_id": request.hookpipe.request_id,  # type: ignore[attr-defined]
                "inline_handler_ran_first": seen == content,
                "user": request.user.get_username() if request.user.is_authenticated else None,
            }
        )


class Text(ResponderImplementation):
    """Returns ``str`` (``/answer/text``)."""

    name = "text"
    content_type = "text/plain; charset=utf-8"
    status = 202
    headers = {"X-Text": "yes"}

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/answer/text")

    def respond(self, request: HttpRequest, content: bytes) -> str:
        return "plain text"


class OwnStream(ResponderImplementation):
    """Builds its own ``StreamingHttpResponse`` of a sync generator (``/answer/own``)."""

    name = "own-stream"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/answer/own")

    def respond(self, request: HttpRequest, content: bytes) -> StreamingHttpResponse:
        response = StreamingHttpResponse(
            (f"part {i}\n" for i in range(3)), content_type="text/csv", status=203
        )
        response["X-Own"] = "1"
        return response


class RaisesInRespond(ResponderImplementation):
    name = "raises-in-respond"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/fail/respond")

    def respond(self, request: HttpRequest, content: bytes) -> Any:
        raise ValueError("respond failed on purpose")


class RaisesInFirstChunk(ResponderImplementation):
    name = "raises-in-first-chunk"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/fail/first")

    def respond(self, request: HttpRequest, content: bytes) -> Iterator[bytes]:
        raise LookupError("first chunk failed on purpose")
        yield b"never"


class RaisesMidStream(ResponderImplementation):
    name = "raises-mid-stream"
    content_type = "text/plain"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/fail/mid")

    def respond(self, request: HttpRequest, content: bytes) -> Iterator[bytes]:
        note_finished(request, self.name)
        try:
            yield b"first\n"
            yield b"second\n"
            raise RuntimeError("mid-stream failure on purpose")
        finally:
            CLOSED[self.name].set()


class AsyncRaisesMidStream(ResponderImplementation):
    name = "async-raises-mid-stream"
    content_type = "text/plain"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/fail/amid")

    async def respond(self, request: HttpRequest, content: bytes) -> AsyncIterator[bytes]:
        try:
            yield b"first\n"
            raise RuntimeError("async mid-stream failure on purpose")
        finally:
            CLOSED[self.name].set()


class ReturnsNone(ResponderImplementation):
    name = "returns-none"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/fail/none")

    def respond(self, request: HttpRequest, content: bytes) -> Any:
        return None


class ResponderHandlesRaises(ResponderImplementation):
    name = "responder-handles-raises"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        raise RuntimeError("handles failed on purpose")

    def respond(self, request: HttpRequest, content: bytes) -> str:
        return "never"


class BadCallback(ResponderImplementation):
    """Adds a finished callback that raises (``/answer/bad-callback``)."""

    name = "bad-callback"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/answer/bad-callback")

    def respond(self, request: HttpRequest, content: bytes) -> str:
        def broken(request: HttpRequest) -> None:
            raise RuntimeError("callback failed on purpose")

        request.hookpipe.add_finished_callback(broken)  # type: ignore[attr-defined]
        note_finished(request, self.name)
        return "ok"


class UsesTheOrm(ResponderImplementation):
    """Touches the database and ``request.user`` in handles() and respond(): fine under
    ASGI too, as they run in Django's thread (``/answer/orm``)."""

    name = "uses-the-orm"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/answer/orm") and not request.user.is_authenticated

    def respond(self, request: HttpRequest, content: bytes) -> Iterator[str]:
        from django.contrib.auth.models import Group

        yield f"groups={Group.objects.count()}\n"
        yield f"groups={Group.objects.count()}\n"


class Everything(ResponderImplementation):
    """Answers every request (to test the order of RESPONDERS)."""

    name = "everything"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return True

    def respond(self, request: HttpRequest, content: bytes) -> str:
        return "everything"


# ------------------------------------------------------ broken declarations


class NoName(HandlerImplementation):
    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return True

    def handle(self, request: Any, content: bytes) -> None:
        pass


class BadName(NoName):
    name = "web hook!"


class SameName(NoName):
    name = "recorder"


class SameEnvName(NoName):
    name = "Recorder"


class PrefixOverlapA(NoName):
    name = "store"
    subconfig = {"KEY_ID": Setting(str, default="")}


class PrefixOverlapB(NoName):
    name = "store-key"
    subconfig = {"ID": Setting(str, default="")}


class BadSubconfigKey(NoName):
    name = "bad-key"
    subconfig = {"token": Setting(str)}


class BadSubconfigType(NoName):
    name = "bad-type"
    subconfig = {"WHEN": Setting(dict)}


class BadSubconfigValue(NoName):
    name = "bad-value"
    subconfig = {"TOKEN": "str"}  # type: ignore[dict-item]


class BadDefault(NoName):
    name = "bad-default"
    subconfig = {"BATCH": Setting(int, default="ten")}


class MissingHandle(HandlerImplementation):
    name = "missing-handle"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return True


class AsyncHandle(NoName):
    name = "async-handle"

    async def handle(self, request: Any, content: bytes) -> None:  # type: ignore[override]
        pass


class ConstructorRaises(NoName):
    name = "constructor-raises"

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        raise RuntimeError("cannot start")


NOT_A_CLASS = Recorder
AN_INSTANCE = object()


class HandleWithoutContent(HandlerImplementation):
    """``handle(self, snapshot)``: hookpipe would call it with a body it cannot take."""

    name = "handle-without-content"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return False

    def handle(self, request: Any) -> None:  # type: ignore[override]
        pass


class HandlesWithoutContent(HandlerImplementation):
    """``handles(self, request)``: every request would raise a TypeError in it."""

    name = "handles-without-content"

    def handles(self, request: HttpRequest) -> bool:  # type: ignore[override]
        return False

    def handle(self, request: Any, content: bytes) -> None:
        pass


class StaticHandles(HandlerImplementation):
    """A static ``handles(request, content)``: a signature hookpipe can call."""

    name = "static-handles"

    @staticmethod
    def handles(request: HttpRequest, content: bytes) -> bool:
        return False

    def handle(self, request: Any, *rest: Any) -> None:
        pass


class Bodiless(HandlerImplementation):
    """Takes every request, reads no body (``NEEDS_CONTENT = False``): records the
    content it was given."""

    name = "bodiless"
    NEEDS_CONTENT = False

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        SEEN[self.name].append(content)
        return False

    def handle(self, request: Any, content: bytes) -> None:
        pass


class ContentWatcher(HandlerImplementation):
    """Takes every request and needs its body, as a signature check would."""

    name = "content-watcher"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        SEEN[self.name].append(len(content))
        return False

    def handle(self, request: Any, content: bytes) -> None:
        pass


class KeyedTask(TaskRecorder):
    """A task handler whose deliveries carry a Standard Webhooks ``webhook-id``."""

    name = "keyed-task"
    TASK_IDEMPOTENCY_KEY = "webhook-id"


class BodyKeyedTask(HandlerImplementation):
    """A task handler on the database backend whose key is the event's id in the
    body, as Stripe's is."""

    name = "body-keyed-task"
    RUNNER = "task"
    TASK_BACKEND = "db"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/webhooks/")

    def idempotency_key(self, request: Any, content: bytes) -> str | None:
        import json

        return json.loads(content).get("id")

    def handle(self, request: Any, content: bytes) -> None:
        SEEN[self.name].append(content)


class StoredTask(HandlerImplementation):
    """A task on the database backend that records the headers and query it got back
    from its stored job; it keeps one secret-looking header by name."""

    name = "stored-task"
    RUNNER = "task"
    TASK_BACKEND = "db"
    TASK_KEEP_HEADERS = ("X-Webhook-Token",)

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/webhooks/")

    def handle(self, request: Any, content: bytes) -> None:
        SEEN[self.name].append((dict(request.headers.items()), dict(request.query)))


class FlakyTask(HandlerImplementation):
    """A task on the database backend whose handle() fails until it has been called
    ``FLAKY_FAILURES`` times: retries that end well, or a dead job to replay."""

    name = "flaky-task"
    RUNNER = "task"
    TASK_BACKEND = "db"
    TASK_MAX_ATTEMPTS = 3
    TASK_RETRY_BACKOFF = 0.05

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/webhooks/")

    def handle(self, request: Any, content: bytes) -> None:
        SEEN[self.name].append(request.request_id)
        if len(SEEN[self.name]) <= FLAKY_FAILURES[0]:
            raise RuntimeError(f"flaky failure {len(SEEN[self.name])}")


#: How many calls of FlakyTask.handle() fail before one succeeds (a test sets it).
FLAKY_FAILURES = [0]


def log_line(line: str) -> None:
    """Append ``line`` to the file ``HOOKPIPE_TEST_LOG``: what the handlers below, run by
    a task worker in a process of its own, tell the test (tests/process_settings.py)."""
    with open(os.environ["HOOKPIPE_TEST_LOG"], "a", encoding="utf-8") as log:
        log.write(line + "\n")


class LoggedTask(HandlerImplementation):
    """A task on the database backend that logs the body of each delivery it runs, one
    line per run."""

    name = "logged-task"
    RUNNER = "task"
    TASK_BACKEND = "db"

    def handles(self, request: HttpRequest, content: bytes) -> bool:
        return wants(request, "/webhooks/")

    def handle(self, request: Any, content: bytes) -> None:
        log_line(f"ran {content.decode()}")


class ForkingTask(LoggedTask):
    """A task on the database backend whose job forks a child that ends as a process
    ends normally: its exit handlers run (those it inherited from the worker among
    them), then it exits with status 0.

    It logs ``started <pid>``, then waits (at most 10 s) for the file
    ``HOOKPIPE_TEST_LOG + ".go"`` before it forks, so that a test can look at the
    worker first; the child logs ``child <pid> ran its exit handlers``, the job
    ``child <pid> exited <status>`` once it has waited for the child."""

    name = "forking-task"

    def handle(self, request: Any, content: bytes) -> None:
        log_line(f"started {os.getpid()}")
        go = os.environ["HOOKPIPE_TEST_LOG"] + ".go"
        deadline = time.monotonic() + 10
        while not os.path.exists(go):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {go} in 10 s")
            time.sleep(0.02)
        child = os.fork()
        if child == 0:
            try:
                atexit._run_exitfuncs()  # what the interpreter runs as it exits
                log_line(f"child {os.getpid()} ran its exit handlers")
            finally:
                os._exit(0)
        deadline = time.monotonic() + 10
        while (done := os.waitpid(child, os.WNOHANG)) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
                raise RuntimeError(f"the child {child} did not exit in 10 s")
            time.sleep(0.02)
        log_line(f"child {child} exited {os.waitstatus_to_exitcode(done[1])}")
