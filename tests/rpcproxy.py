"""An HTTP proxy in front of a chain's JSON-RPC, for tests of what a real network does.

It forwards every request to the chain, counts them by method, and can be switched off (every
connection is dropped without an answer, like a network outage), made to answer an HTTP error
status (like a provider that refuses the key), or given a hook that runs before a transaction
is forwarded (to put another transaction in the same block).
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import Any


def rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    """One JSON-RPC call straight to ``url``; the result (raises on an error answer)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply.get("result")


class RpcProxy:
    def __init__(self, upstream: str):
        self.upstream = upstream
        self.down = False  # drop every connection
        self.status: int | None = None  # answer this HTTP status instead of forwarding
        self.counts: Counter[str] = Counter()
        #: Runs with the raw transaction (hex) before an eth_sendRawTransaction is forwarded.
        self.before_send: Callable[[str], None] | None = None
        self.sent: list[str] = []  # raw transactions forwarded, in order
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if proxy.down:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if proxy.status is not None:
                    self.send_response(proxy.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = json.loads(body)
                for item in request if isinstance(request, list) else [request]:
                    proxy.counts[item.get("method", "?")] += 1
                    if item.get("method") == "eth_sendRawTransaction":
                        raw = item["params"][0]
                        with proxy._lock:
                            if proxy.before_send is not None:
                                hook, proxy.before_send = proxy.before_send, None
                                hook(raw)
                            proxy.sent.append(raw)
                reply = proxy.forward(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def forward(self, body: bytes) -> bytes:
        request = urllib.request.Request(self.upstream, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return bytes(response.read())

    def total(self) -> int:
        return sum(self.counts.values())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> RpcProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
