"""Real servers on 127.0.0.1: an SMTP server (aiosmtpd) and a webhook receiver."""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import answer_json


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mailbox:
    messages: list = field(default_factory=list)
    delay: float = 0.0
    fail_with: str | None = None  # e.g. "451 try later"

    async def handle_DATA(self, server, session, envelope):
        if self.fail_with:
            return self.fail_with
        if self.delay:
            time.sleep(self.delay)
        msg = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "msg": msg})
        return "250 OK"

    def wait_for(self, n: int, timeout: float = 5.0) -> list:
        end = time.time() + timeout
        while len(self.messages) < n and time.time() < end:
            time.sleep(0.02)
        return self.messages


@pytest.fixture
def smtp_server(app):
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False,
                      MAIL_USE_SSL=False, MAIL_DEFAULT_SENDER="计划跟踪 <tracker@school.test>",
                      MAIL_TIMEOUT=5, PUBLIC_BASE_URL="https://tracker.school.test")
    mailbox.port = port
    yield mailbox
    controller.stop()


@dataclass
class Hook:
    requests: list = field(default_factory=list)
    status: int = 200
    answer: dict = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})
    redirect_to: str | None = None
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def webhook_server(app):
    hook = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            parts = urlsplit(self.path)
            hook.requests.append({"path": parts.path, "query": parse_qs(parts.query),
                                  "headers": dict(self.headers),
                                  "json": json.loads(body.decode("utf-8"))})
            if hook.redirect_to:
                self.send_response(302)
                self.send_header("Location", hook.redirect_to)
                self.end_headers()
                return
            answer_json(self, hook.status, hook.answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["WEBHOOK_ALLOWED_HOSTS"] = ["127.0.0.1"]
    yield hook
    server.shutdown()
    server.server_close()
