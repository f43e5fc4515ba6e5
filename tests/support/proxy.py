"""A TCP forwarder a test can cut and restore: a broker "down" without touching the
broker other tests share."""

from __future__ import annotations

import selectors
import socket
import threading


class TcpProxy:
    """Forward 127.0.0.1:`port` to `target`; `cut()` drops every connection and refuses
    new ones until `restore()`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: reads of what the target sent: a round trip's answer is at least one
        self.answers = 0
        self._upstreams: set[socket.socket] = set()
        self.restore()

    def restore(self) -> None:
        self._stop.clear()
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        self._thread = threading.Thread(target=self._serve, args=(listener,), daemon=True)
        self._thread.start()

    def cut(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _serve(self, listener: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        listener.setblocking(False)
        sel.register(listener, selectors.EVENT_READ)
        peers: dict[socket.socket, socket.socket] = {}
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is listener:
                        self._accept(listener, sel, peers)
                    else:
                        self._pump(sock, sel, peers)
        finally:
            for sock in [listener, *peers]:
                sock.close()
            sel.close()

    def _accept(self, listener: socket.socket, sel: selectors.BaseSelector,
                peers: dict[socket.socket, socket.socket]) -> None:  # fmt: skip
        client, _ = listener.accept()
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        self._upstreams.add(upstream)
        for a, b in ((client, upstream), (upstream, client)):
            a.setblocking(True)
            peers[a] = b
            sel.register(a, selectors.EVENT_READ)

    def _pump(self, sock: socket.socket, sel: selectors.BaseSelector,
              peers: dict[socket.socket, socket.socket]) -> None:  # fmt: skip
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        other = peers.get(sock)
        if data and sock in self._upstreams:
            self.answers += 1
        if data and other is not None:
            try:
                other.sendall(data)
                return
            except OSError:
                pass
        for s in (sock, other):
            if s is not None and s in peers:
                sel.unregister(s)
                peers.pop(s)
                self._upstreams.discard(s)
                s.close()
