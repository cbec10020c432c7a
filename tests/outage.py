"""A TCP proxy on 127.0.0.1 that can take a service away for a while, for outage tests.

Servers and workers are given the proxy's port instead of the service's. ``down()``
cuts every open connection and refuses new ones (each is closed as soon as it is
accepted), the way a restarted or unreachable server looks from the client's side;
``up()`` lets connections through again. The real service, shared by every test on
the machine, is never touched.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from tests.live import HOST


class Proxy:
    def __init__(self, target_port: int, target_host: str = HOST) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server((HOST, 0))
        self.port: int = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.open: set[socket.socket] = set()
        self.is_down = False
        self.closed = False
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def down(self) -> None:
        """Cut every connection and refuse new ones until :meth:`up`."""
        with self.lock:
            self.is_down = True
            cut, self.open = self.open, set()
        for sock in cut:
            _close(sock)

    def up(self) -> None:
        with self.lock:
            self.is_down = False

    def close(self) -> None:
        self.closed = True
        self.down()
        _close(self.listener)
        self.acceptor.join(timeout=5)

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                refused = self.is_down
            if refused:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self.lock:
                self.open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with self.lock:
                self.open -= {source, sink}
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@contextlib.contextmanager
def proxy(target_port: int) -> Iterator[Proxy]:
    found = Proxy(target_port)
    try:
        yield found
    finally:
        found.close()
