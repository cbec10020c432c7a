"""RQ workers for tests that run a burst of jobs and stop: RQ's own, without the pubsub
channel (it only carries RQ's "stop this job" commands). A burst worker stops redis-py's
listener thread right after starting it, and that thread can wait out its 60-second
poll before it exits: one test in three took a minute more for nothing."""

from __future__ import annotations

from rq.worker import SimpleWorker, Worker


class _NoPubSub:
    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


class QuietWorker(_NoPubSub, Worker):
    """RQ's forking worker (``rqworker``'s default), no pubsub."""


class QuietSimpleWorker(_NoPubSub, SimpleWorker):
    """RQ's worker that runs jobs in its own process, no pubsub."""
