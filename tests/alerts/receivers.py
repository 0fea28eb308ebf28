"""Real receivers on 127.0.0.1 for notification tests: an HTTP webhook server and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class WebhookServer:
    """Answers 500 to the first ``fail_first`` requests, then ``answer``; may hold requests (``hold``) forever."""

    fail_first: int = 0
    answer: dict[str, Any] = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})
    hold: threading.Event | None = None
    requests: list[Received] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)
    got_request: threading.Event = field(default_factory=threading.Event)

    def start(self) -> WebhookServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                item = Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    json.loads(self.rfile.read(length) or b"{}"),
                )
                receiver.requests.append(item)
                receiver.got_request.set()
                if receiver.hold is not None:
                    receiver.hold.wait(60)
                    return
                if len(receiver.requests) <= receiver.fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                # Receivers honour the idempotency key: a repeated key is acknowledged but not applied twice.
                key = item.headers.get("idempotency-key")
                if not any(a.headers.get("idempotency-key") == key for a in receiver.accepted):
                    receiver.accepted.append(item)
                payload = json.dumps(receiver.answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """aiosmtpd on 127.0.0.1 keeping every message it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.messages.append(
                    message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
                )
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
