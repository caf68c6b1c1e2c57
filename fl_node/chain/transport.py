"""The HTTP under web3's provider: one kept-alive connection per thread to a plain-HTTP RPC.

requests spends about a millisecond of Python on each JSON-RPC post (adapters, cookie jars,
redirect and proxy resolution), several times what a local Anvil takes to answer, and
``http.client`` parses every answer's headers with the e-mail parser. For an ``http://`` endpoint
reached without a proxy and without credentials (a node on this machine or on the local network),
:class:`KeepAliveHTTPProvider` posts each request over one persistent socket per thread instead,
speaking the little HTTP/1.1 a JSON-RPC post needs (:class:`Connection`). Anything else (TLS, a
proxy, a user and password) keeps requests' path unchanged.

Failures are raised as requests raises them (``ConnectionError``, ``Timeout``, ``HTTPError`` with
the response), so the retry policy and its clear errors see no difference. A kept-alive
connection the server closed while idle is opened again once, at once: JSON-RPC posts are safe to
send again (a signed transaction sent twice is the same transaction).
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import requests
from web3 import HTTPProvider

#: Longest status or header line, and most header lines, an answer may have.
MAX_LINE = 65536
MAX_HEADERS = 100


class ProtocolError(OSError):
    """The server's answer is not the HTTP/1.1 this client speaks."""


class Stale(ConnectionError):
    """The server closed the kept-alive connection before answering (it dropped it idle)."""


#: A closed idle connection shows as one of these on the next request.
_STALE = (Stale, ConnectionResetError, BrokenPipeError)


class Connection:
    """One kept-alive HTTP/1.1 connection to ``host:port`` that posts bodies and reads the
    answers: a status line, headers, and a body by ``Content-Length``, chunked, or up to the
    close. Errors are ``OSError`` (:class:`Stale` when a reused connection was closed)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.sock: socket.socket | None = None
        self._reader: BinaryIO | None = None
        shown = f"[{host}]" if ":" in host else host
        self._host_header = shown if port == 80 else f"{shown}:{port}"

    @property
    def fresh(self) -> bool:
        """No connection is open: the next post opens one."""
        return self.sock is None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self.sock is not None:
            self.sock.close()
        self.sock, self._reader = None, None

    def post(
        self, path: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> tuple[int, str, bytes]:
        """POST ``body`` to ``path``; the answer's status, reason and body."""
        if self.sock is None:
            self.sock = socket.create_connection((self.host, self.port), timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._reader = self.sock.makefile("rb")
        assert self._reader is not None
        self.sock.settimeout(timeout)
        lines = [f"POST {path} HTTP/1.1", f"Host: {self._host_header}"]
        for name, value in headers.items():
            if name.lower() not in _OWN_HEADERS:
                if "\r" in name + value or "\n" in name + value:
                    raise ValueError(f"the header {name!r} holds a line break")
                lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        status, reason, fields, closes = self._read_head(self._reader)
        content, to_close = self._read_body(self._reader, status, fields)
        if closes or to_close:
            self.close()
        return status, reason, content

    @staticmethod
    def _read_head(reader: BinaryIO) -> tuple[int, str, dict[str, str], bool]:
        """The final answer's status line and headers (interim 1xx answers skipped), and
        whether the server closes the connection after it."""
        while True:
            line = reader.readline(MAX_LINE + 1)
            if not line:
                raise Stale("the server closed the connection without answering")
            if len(line) > MAX_LINE:
                raise ProtocolError("the status line is too long")
            version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
            code, _, reason = rest.partition(" ")
            if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
                raise ProtocolError(f"not an HTTP status line: {line[:80]!r}")
            fields: dict[str, str] = {}
            for _ in range(MAX_HEADERS + 1):
                header = reader.readline(MAX_LINE + 1)
                if len(header) > MAX_LINE:
                    raise ProtocolError("a header line is too long")
                if header in (b"\r\n", b"\n", b""):
                    break
                name, sep, value = header.decode("latin-1").partition(":")
                if not sep:
                    raise ProtocolError(f"not a header line: {header[:80]!r}")
                fields[name.strip().lower()] = value.strip()
            else:
                raise ProtocolError(f"more than {MAX_HEADERS} headers")
            status = int(code)
            if 100 <= status < 200:
                continue  # an interim answer (100 Continue): the real one follows
            tokens = {t.strip().lower() for t in fields.get("connection", "").split(",")}
            closes = "close" in tokens or (version == "HTTP/1.0" and "keep-alive" not in tokens)
            return status, reason.strip(), fields, closes

    @staticmethod
    def _read_body(reader: BinaryIO, status: int, fields: dict[str, str]) -> tuple[bytes, bool]:
        """The answer's body, and whether it ran up to the connection's close."""
        if status in (204, 304):
            return b"", False
        if _chunked(fields):
            parts: list[bytes] = []
            while True:
                size_line = reader.readline(MAX_LINE + 1)
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise ProtocolError(f"not a chunk size: {size_line[:80]!r}") from None
                if size == 0:
                    while reader.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts), False
                parts.append(_exactly(reader, size))
                reader.readline(MAX_LINE + 1)  # the chunk's line break
        length = fields.get("content-length")
        if length is None:
            return reader.read(), True
        if not length.isdigit():
            raise ProtocolError(f"not a content length: {length!r}")
        return _exactly(reader, int(length)), False


#: Headers :class:`Connection` writes itself.
_OWN_HEADERS = {"host", "content-length", "transfer-encoding"}


def _chunked(fields: dict[str, str]) -> bool:
    return "chunked" in fields.get("transfer-encoding", "").lower()


def _exactly(reader: BinaryIO, size: int) -> bytes:
    data = reader.read(size)
    if len(data) < size:
        raise ConnectionResetError(f"the answer ended after {len(data)} of {size} bytes")
    return data


def direct_target(url: str, session: requests.Session) -> tuple[str, int, str] | None:
    """``(host, port, path)`` when ``url`` can be posted to directly (plain HTTP, no proxy for
    it, no credentials); None otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return None
    if parts.username or parts.password or session.auth is not None:
        return None
    if session.proxies.get("http") or session.proxies.get("all"):
        return None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname, parts.port or 80, path


class KeepAliveHTTPProvider(HTTPProvider):
    """web3's HTTP provider, posting directly to a plain-HTTP endpoint (see the module).
    ``session`` is the requests session of every other case."""

    def __init__(self, endpoint_uri: str, session: requests.Session, **kwargs: Any):
        super().__init__(endpoint_uri, session=session, **kwargs)
        self._target = direct_target(endpoint_uri, session)
        self._local = threading.local()
        self._ids = itertools.count(1)
        # web3 rebuilds these (and its user agent) on every request; they never change
        asked = self.get_request_kwargs()
        self._headers = {"Content-Type": "application/json", **(asked.get("headers") or {})}
        self._timeout = float(asked.get("timeout") or 30.0)
        #: Requests posted directly (for tests and benchmarks).
        self.direct_posts = 0

    def post(self, body: bytes) -> bytes:
        """Post a JSON-RPC body as it is (a batch, say) and return the answer's bytes, over the
        same path (direct or requests) as every request."""
        return self._make_request("batch", body)

    def request(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC request, past web3's request layer (no formatters, caches or logging);
        the decoded answer (a ``result`` or an ``error``)."""
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        return json.loads(self._make_request(method, json.dumps(body).encode()))

    def _make_request(self, method: Any, request_data: bytes) -> bytes:
        if self._target is None:
            return super()._make_request(method, request_data)
        status, reason, content = self._post(
            self._target, request_data, self._headers, self._timeout
        )
        self.direct_posts += 1
        if status >= 400:
            response = requests.Response()
            response.status_code, response.reason = status, reason
            response.url = str(self.endpoint_uri)
            response._content = content
            response.raise_for_status()
        return content

    def _post(
        self, target: tuple[str, int, str], body: bytes, headers: dict[str, str], timeout: float
    ) -> tuple[int, str, bytes]:
        host, port, path = target
        for attempt in (1, 2):
            conn = self._connection(host, port)
            fresh = conn.fresh
            try:
                return conn.post(path, body, headers, timeout)
            except TimeoutError as exc:
                conn.close()
                raise requests.exceptions.ReadTimeout(f"{host}:{port}: {exc}") from exc
            except _STALE as exc:
                conn.close()
                if fresh or attempt == 2:
                    raise requests.exceptions.ConnectionError(f"{host}:{port}: {exc!r}") from exc
            except OSError as exc:
                conn.close()
                raise requests.exceptions.ConnectionError(f"{host}:{port}: {exc!r}") from exc
        raise AssertionError("unreachable")

    def _connection(self, host: str, port: int) -> Connection:
        conns: dict[tuple[str, int], Connection] = self._local.__dict__.setdefault("conns", {})
        conn = conns.get((host, port))
        if conn is None:
            conn = conns[(host, port)] = Connection(host, port)
        return conn
