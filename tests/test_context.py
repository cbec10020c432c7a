"""Request ids (:func:`hookpipe.context.new_request_id`): read ahead from the OS a few
kilobytes at a time (issue 12: one ``os.urandom`` per id cost 25 µs), yet unique per
thread and per forked process."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from hookpipe.context import new_request_id


def test_ids_are_32_hex_digits_and_do_not_repeat() -> None:
    ids = [new_request_id() for _ in range(2000)]  # several read-aheads
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_threads_do_not_share_ids() -> None:
    found: list[str] = []

    def make() -> None:
        found.extend(new_request_id() for _ in range(500))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 2000


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
# Python 3.12+ warns about fork() in a process with threads; the child only writes.
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_a_forked_child_does_not_repeat_its_parents_next_ids() -> None:
    new_request_id()  # the parent has read ahead
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its next ids, then leave at once
        os.close(read)
        os.write(write, "".join(new_request_id() for _ in range(4)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    parent = "".join(new_request_id() for _ in range(4))
    assert len(child) == 128
    assert child != parent
