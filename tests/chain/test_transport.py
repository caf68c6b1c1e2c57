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


class _ScriptedServer:
    """Reads JSON-RPC posts and answers each with the next of ``answers`` (raw HTTP bytes) on
    one kept-alive connection; closes the connection after an answer when told to, and after
    one that says so or has no length."""

    def __init__(self, answers: list[bytes], close_after: bool = False) -> None:
        self.answers = list(answers)
        self.close_after = close_after
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.answers:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn, conn.makefile("rb") as reader:
                while self.answers:
                    head = b""
                    while not head.endswith(b"\r\n\r\n"):
                        line = reader.readline()
                        if not line:
                            break
                        head += line
                    if not head:
                        break
                    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    self.requests.append(head + reader.read(length))
                    answer = self.answers.pop(0)
                    conn.sendall(answer)
                    said = answer.lower()
                    framed = b"content-length" in said or b"chunked" in said
                    if self.close_after or b"connection: close" in said or not framed:
                        break

    def close(self) -> None:
        self.sock.close()


def _ok(body: bytes, *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 200 OK\r\n{extra}\r\n".encode() + body


def _provider(url: str) -> KeepAliveHTTPProvider:
    return KeepAliveHTTPProvider(url, http_session(url), request_kwargs={"timeout": 5})


ANSWER = b'{"jsonrpc": "2.0", "id": 1, "result": "0x7"}'


def test_answers_by_length_chunked_and_up_to_the_close_are_read_whole() -> None:
    halves = ANSWER[:10], ANSWER[10:]
    chunked = b"".join(f"{len(h):x};ext=1\r\n".encode() + h + b"\r\n" for h in halves)
    server = _ScriptedServer(
        [
            b"HTTP/1.1 100 Continue\r\n\r\n" + _ok(ANSWER, f"Content-Length: {len(ANSWER)}"),
            _ok(chunked + b"0\r\nX-Trailer: 1\r\n\r\n", "Transfer-Encoding: chunked"),
            _ok(ANSWER, f"content-length: {len(ANSWER)}", "Connection: close"),
            _ok(ANSWER),  # no length: the body runs to the close
            _ok(ANSWER, f"Content-Length: {len(ANSWER)}"),
        ],
        close_after=False,
    )
    try:
        provider = _provider(server.url)
        for _ in range(3):
            assert provider.request("eth_blockNumber", [])["result"] == "0x7"
        assert server.connections == 1  # kept alive through the interim and chunked answers
        assert provider.request("eth_blockNumber", [])["result"] == "0x7"
        assert server.connections == 2  # "Connection: close" was honoured
        assert provider.request("eth_blockNumber", [])["result"] == "0x7"
    finally:
        server.close()
    first = server.requests[0]
    assert first.startswith(b"POST / HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"Content-Type: application/json" in first
    sent = json.loads(first.split(b"\r\n\r\n", 1)[1])
    assert sent["method"] == "eth_blockNumber" and sent["params"] == []
    ids = [json.loads(r.split(b"\r\n\r\n", 1)[1])["id"] for r in server.requests]
    assert len(set(ids)) == len(ids)  # every request its own id


@pytest.mark.parametrize(
    "answer",
    [
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}",  # cut short
    ],
)
def test_an_answer_that_is_not_http_is_a_connection_error(answer: bytes) -> None:
    server = _ScriptedServer([answer], close_after=True)
    try:
        with pytest.raises(requests.exceptions.ConnectionError):
            _provider(server.url).make_request("eth_blockNumber", [])
    finally:
        server.close()


def test_a_server_that_does_not_answer_in_time_is_a_read_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        provider = KeepAliveHTTPProvider(url, http_session(url), request_kwargs={"timeout": 0.3})
        with pytest.raises(requests.exceptions.ReadTimeout):
            provider.make_request("eth_blockNumber", [])
