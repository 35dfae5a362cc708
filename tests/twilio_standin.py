"""A small stand-in for Twilio's REST API on loopback: records message creations, serves
MMS media behind HTTP basic auth, and fails on demand. The real twilio client talks to it."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class TwilioStandIn:
    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sent: list[dict] = []  # each create: its form fields (first values)
        self.media: dict[str, tuple[bytes, str]] = {}  # path -> (bytes, content type)
        self.media_requests: list[dict] = []
        self.fail_next: list[tuple[int, dict]] = []  # (HTTP status, JSON body) per create
        self._ids = itertools.count(1)
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _authorized(self) -> bool:
                expected = base64.b64encode(
                    f"{standin.account_sid}:{standin.auth_token}".encode()
                ).decode()
                return self.headers.get("Authorization") == f"Basic {expected}"

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                fields = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                expected = f"/2010-04-01/Accounts/{standin.account_sid}/Messages.json"
                if self.path != expected:
                    return self._json(404, {"code": 20404, "message": "not found", "status": 404})
                if not self._authorized():
                    return self._json(401, {"code": 20003, "message": "auth", "status": 401})
                if standin.fail_next:
                    status, body = standin.fail_next.pop(0)
                    standin.sent.append({**fields, "_refused": status})
                    return self._json(status, body)
                sid = f"SM{next(standin._ids):032x}"
                standin.sent.append({**fields, "_sid": sid})
                return self._json(
                    201,
                    {
                        "sid": sid,
                        "account_sid": standin.account_sid,
                        "to": fields.get("To"),
                        "from": fields.get("From"),
                        "body": fields.get("Body"),
                        "status": "queued",
                        "num_segments": "1",
                    },
                )

            def do_GET(self):  # noqa: N802
                standin.media_requests.append({"path": self.path, "authorized": self._authorized()})
                if not self._authorized():
                    return self._json(401, {"code": 20003, "message": "auth", "status": 401})
                if self.path not in standin.media:
                    return self._json(404, {"code": 20404, "message": "not found", "status": 404})
                data, content_type = standin.media[self.path]
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
