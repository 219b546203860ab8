"""A real HTTP receiver on 127.0.0.1 for tests, answering from a script of behaviours,
misbehaving on request (resets, drips, endless 1xx, malformed answers)."""

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
    # header (name, value) pairs as they came, names in their original case
    raw_headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Behaviour:
    status: int = 200
    body: bytes = b'{"ok":true}'
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False  # close with RST instead of answering
    delay: float = 0.0  # wait before answering
    drip: bool = False  # send the body one byte at a time, `delay` apart
    drip_status: bool = False  # send the status line and headers one byte at a time
    continue_forever: bool = False  # send "100 Continue" every 50 ms, never a final answer
    chunks: list[bytes] = field(default_factory=list)  # body in pieces, `delay` apart
    close_mid_body: bool = False  # announce the body's length, send half of it, close
    raw: bytes | None = None  # write these bytes as the whole answer, then close
    huge: int = 0  # stream this many bytes of body, generated as they are sent
    before: Callable[[], object] | None = None  # run once the request is read
    after: Callable[[], object] | None = None  # run once the answer is written


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: deque[Behaviour] = deque()
        self.default = Behaviour()
        self.dripped = 0  # bytes written one at a time (drip, drip_status)
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, data: bytes) -> bool:
                try:
                    self.wfile.write(data)
                    self.wfile.flush()
                except OSError:
                    return False
                return True

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        Received(
                            self.command,
                            self.path,
                            dict(self.headers.items()),
                            body,
                            list(self.headers.items()),
                        )
                    )
                    behaviour = receiver.script.popleft() if receiver.script else receiver.default
                self.close_connection = True
                if behaviour.before is not None:
                    behaviour.before()
                if behaviour.reset:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                    return
                if behaviour.raw is not None:
                    self._send(behaviour.raw)
                    return
                if behaviour.continue_forever:
                    while self._send(b"HTTP/1.1 100 Continue\r\n\r\n"):
                        time.sleep(0.05)
                    return
                streamed = behaviour.drip or behaviour.drip_status or behaviour.chunks
                if behaviour.delay and not streamed:
                    time.sleep(behaviour.delay)
                if behaviour.huge:
                    head = (
                        f"HTTP/1.1 {behaviour.status} OK\r\n"
                        f"content-length: {behaviour.huge}\r\nconnection: close\r\n\r\n"
                    ).encode()
                    self._send(head)
                    chunk, sent = b"z" * 65536, 0
                    while sent < behaviour.huge and self._send(chunk):
                        sent += len(chunk)
                    return
                body = b"".join(behaviour.chunks) if behaviour.chunks else behaviour.body
                head = f"HTTP/1.1 {behaviour.status} {_reason(behaviour.status)}\r\n"
                for name, value in behaviour.headers.items():
                    head += f"{name}: {value}\r\n"
                # It closes after every answer, and says so, as a correct server does.
                head += f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
                if behaviour.drip_status:
                    for byte in head.encode():
                        if not self._send(bytes([byte])):
                            return
                        receiver.dripped += 1
                        time.sleep(behaviour.delay)
                else:
                    self._send(head.encode())
                if behaviour.close_mid_body:
                    self._send(body[: len(body) // 2])
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if behaviour.drip:
                    for byte in body:
                        if not self._send(bytes([byte])):
                            return
                        time.sleep(behaviour.delay)
                elif behaviour.chunks:
                    for piece in behaviour.chunks:
                        if not self._send(piece):
                            return
                        time.sleep(behaviour.delay)
                else:
                    self._send(body)
                if behaviour.after is not None:
                    behaviour.after()

            do_GET = do_POST
            do_PUT = do_POST
            do_PATCH = do_POST

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # resets and timeouts are what these tests provoke

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks"

    def then(self, *behaviours: Behaviour) -> Receiver:
        self.script.extend(behaviours)
        return self

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Status"


def free_port() -> int:
    """A port with nothing listening on it (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
