"""The HTTP under web3's provider: one kept-alive connection per thread to a plain-HTTP RPC.

requests spends about a millisecond of Python on each JSON-RPC post (adapters, cookie jars,
redirect and proxy resolution), several times what a local Anvil takes to answer. For an
``http://`` endpoint reached without a proxy and without credentials (a node on this machine or on
the local network), :class:`KeepAliveHTTPProvider` posts each request over one persistent
``http.client`` connection per thread instead. Anything else (TLS, a proxy, a user and password,
web3's batches) keeps requests' path unchanged.

Failures are raised as requests raises them (``ConnectionError``, ``Timeout``, ``HTTPError`` with
the response), so the retry policy and its clear errors see no difference. A kept-alive
connection the server closed while idle is opened again once, at once: JSON-RPC posts are safe to
send again (a signed transaction sent twice is the same transaction).
"""

from __future__ import annotations

import http.client
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from web3 import HTTPProvider

#: A closed idle connection shows as one of these on the next request.
_STALE = (http.client.RemoteDisconnected, http.client.BadStatusLine, ConnectionResetError,
          BrokenPipeError)  # fmt: skip


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
        #: Requests posted directly (for tests and benchmarks).
        self.direct_posts = 0

    def post(self, body: bytes) -> bytes:
        """Post a JSON-RPC body as it is (a batch, say) and return the answer's bytes, over the
        same path (direct or requests) as every request."""
        return self._make_request("batch", body)

    def _make_request(self, method: Any, request_data: bytes) -> bytes:
        if self._target is None:
            return super()._make_request(method, request_data)
        kwargs = self.get_request_kwargs()
        headers = {"Content-Type": "application/json", **(kwargs.get("headers") or {})}
        timeout = float(kwargs.get("timeout") or 30.0)
        status, reason, content = self._post(self._target, request_data, headers, timeout)
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
            conn = self._connection(host, port, timeout)
            fresh = conn.sock is None
            try:
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                content = response.read()
                if response.will_close:
                    conn.close()
                return response.status, response.reason, content
            except TimeoutError as exc:
                conn.close()
                raise requests.exceptions.ReadTimeout(f"{host}:{port}: {exc}") from exc
            except _STALE as exc:
                conn.close()
                if fresh or attempt == 2:
                    raise requests.exceptions.ConnectionError(f"{host}:{port}: {exc!r}") from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise requests.exceptions.ConnectionError(f"{host}:{port}: {exc!r}") from exc
        raise AssertionError("unreachable")

    def _connection(self, host: str, port: int, timeout: float) -> http.client.HTTPConnection:
        conns: dict[tuple[str, int], http.client.HTTPConnection]
        conns = self._local.__dict__.setdefault("conns", {})
        conn = conns.get((host, port))
        if conn is None:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
            conns[(host, port)] = conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn
