"""A real webhook receiver on loopback for the delivery tests.

It records every request and answers from a script: a status code per request (then
200 once the script is used up), or HANG to answer nothing until the test ends, so the
sender's timeout is what ends the attempt.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

HANG: Final = "hang"
Answer = int | str


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Listening on 127.0.0.1 at an ephemeral port from construction until `close`."""

    def __init__(self, script: Iterable[Answer] = ()) -> None:
        self.requests: list[Received] = []
        self._script = list(script)
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/orderledger"

    def answer_next(self, *answers: Answer) -> None:
        with self._lock:
            self._script.extend(answers)

    def _next_answer(self, received: Received) -> Answer:
        with self._lock:
            self.requests.append(received)
            return self._script.pop(0) if self._script else 200

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                answer = receiver._next_answer(Received(self.path, dict(self.headers), body))
                if answer == HANG:
                    receiver._release.wait(timeout=10)
                    return  # closes without a response: the client has timed out by now
                assert isinstance(answer, int)
                self.send_response(answer)
                if 300 <= answer < 400:  # where a client that follows redirects would go
                    self.send_header("Location", "/moved")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def receiving(script: Iterable[Answer] = ()) -> Iterator[Receiver]:
    receiver = Receiver(script)
    try:
        yield receiver
    finally:
        receiver.close()
