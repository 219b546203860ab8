"""A real HTTP receiver on 127.0.0.1 for tests, answering from a script of behaviours."""

from __future__ import annotations

import http.server
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Behaviour:
    status: int = 200
    body: bytes = b'{"ok":true}'
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False  # close with RST instead of answering
    delay: float = 0.0  # wait before answering
    drip: bool = False  # send the body one byte at a time, `delay` apart
    huge: int = 0  # stream this many bytes of body, generated as they are sent
    after: Callable[[], object] | None = None  # run once the answer is written


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: deque[Behaviour] = deque()
        self.default = Behaviour()
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.command, self.path, dict(self.headers.items()), body)
                    )
                    behaviour = receiver.script.popleft() if receiver.script else receiver.default
                if behaviour.reset:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                    self.close_connection = True
                    return
                if behaviour.delay and not behaviour.drip:
                    time.sleep(behaviour.delay)
                if behaviour.huge:
                    self.send_response(behaviour.status)
                    self.send_header("content-length", str(behaviour.huge))
                    self.end_headers()
                    chunk, sent = b"z" * 65536, 0
                    try:
                        while sent < behaviour.huge:
                            self.wfile.write(chunk)
                            sent += len(chunk)
                    except OSError:
                        pass  # the client stopped reading, as it should
                    self.close_connection = True
                    return
                self.send_response(behaviour.status)
                for name, value in behaviour.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(behaviour.body)))
                self.end_headers()
                if behaviour.drip:
                    for byte in behaviour.body:
                        try:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                        except OSError:
                            return
                        time.sleep(behaviour.delay)
                else:
                    self.wfile.write(behaviour.body)
                self.wfile.flush()
                if behaviour.after is not None:
                    behaviour.after()

            do_GET = do_POST

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # resets and timeouts are what these tests provoke

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"

    def then(self, *behaviours: Behaviour) -> Receiver:
        self.script.extend(behaviours)
        return self

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    """A port with nothing listening on it (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
