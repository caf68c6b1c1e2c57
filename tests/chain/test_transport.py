"""The kept-alive HTTP transport under the chain client."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from fl_node.chain.client import ChainClient, http_session
from fl_node.chain.transport import KeepAliveHTTPProvider, direct_target
from fl_node.toolchain.localchain import LocalChain


def test_only_plain_http_without_proxy_or_credentials_is_posted_directly(monkeypatch) -> None:
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    session = http_session("http://127.0.0.1:8545")
    assert direct_target("http://127.0.0.1:8545", session) == ("127.0.0.1", 8545, "/")
    assert direct_target("http://node.lan/rpc?key=1", session) == ("node.lan", 80, "/rpc?key=1")
    assert direct_target("https://rpc.example/v3/key", session) is None
    assert direct_target("http://user:secret@node.lan:8545", session) is None
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert direct_target("http://node.lan:8545", http_session("http://node.lan:8545")) is None


def test_a_local_chain_is_reached_over_one_kept_alive_connection() -> None:
    with LocalChain(accounts=2) as chain:
        client = ChainClient(chain.rpc_url)
        assert isinstance(client.provider, KeepAliveHTTPProvider)
        before = client.provider.direct_posts
        numbers = [client.block_number() for _ in range(20)]
        assert numbers == [numbers[0]] * 20
        assert client.provider.direct_posts - before == 20


class _OneShotServer:
    """Answers each connection's first JSON-RPC request, then closes it without saying so (a
    server that dropped an idle kept-alive connection); ``status`` is the HTTP status it answers."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, body = data.split(b"\r\n\r\n", 1)
                length = int(
                    next(
                        line.split(b":")[1]
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                )
                while len(body) < length:
                    body += conn.recv(65536)
                request = json.loads(body)
                answer = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": "0x7"})
                reason = "OK" if self.status == 200 else "Forbidden"
                conn.sendall(
                    f"HTTP/1.1 {self.status} {reason}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(answer)}\r\n\r\n{answer}".encode()
                )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture()
def one_shot() -> Iterator[_OneShotServer]:
    server = _OneShotServer()
    yield server
    server.close()


def test_a_connection_the_server_dropped_is_opened_again(one_shot: _OneShotServer) -> None:
    url = f"http://127.0.0.1:{one_shot.port}"
    provider = KeepAliveHTTPProvider(url, http_session(url), request_kwargs={"timeout": 5})
    answers = [provider.make_request("eth_blockNumber", [])["result"] for _ in range(3)]
    assert answers == ["0x7"] * 3
    assert one_shot.connections == 3 and provider.direct_posts == 3


def test_an_http_error_is_raised_as_requests_raises_it() -> None:
    server = _OneShotServer(status=403)
    try:
        url = f"http://127.0.0.1:{server.port}"
        provider = KeepAliveHTTPProvider(url, http_session(url), request_kwargs={"timeout": 5})
        with pytest.raises(requests.exceptions.HTTPError) as exc:
            provider.make_request("eth_blockNumber", [])
        assert exc.value.response is not None and exc.value.response.status_code == 403
    finally:
        server.close()


def test_a_refused_connection_is_a_requests_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    provider = KeepAliveHTTPProvider(url, http_session(url), request_kwargs={"timeout": 2})
    with pytest.raises(requests.exceptions.ConnectionError):
        provider.make_request("eth_blockNumber", [])
