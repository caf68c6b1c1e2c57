"""Retrying calls to an RPC whose connection fails, and clear errors for failures no retry fixes.

A connection that drops, times out, or answers a rate limit or a provider's passing trouble (HTTP
429, 5xx) is retried by a :class:`RetryPolicy`: a bounded number of times for one-shot commands,
for ever with capped back-off for daemons, which log when the connection drops and when it comes
back. An HTTP error status that no retry can fix (a wrong URL or provider key) is one clear error
at once, with the URL shown without its key.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from web3.exceptions import Web3RPCError

from fl_node.errors import ChainError

T = TypeVar("T")

#: Exceptions that mean "the connection dropped", not "the chain said no".
TRANSIENT = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    ConnectionError,
    TimeoutError,
)


#: HTTP answers that a later attempt can get past: rate limits and a provider's passing trouble.
RETRYABLE_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})
#: JSON-RPC error messages of rate limits (some providers answer them with HTTP 200).
_RATE_LIMITED = re.compile(r"rate.?limit|too many requests|limit exceeded|exceeded.*capacity", re.I)


def shown_url(url: str) -> str:
    """``url`` fit for a log or an error: without credentials, and with long path segments and
    the query (where providers put API keys) masked."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    path = "/".join("***" if len(seg) >= 16 else seg for seg in parts.path.split("/"))
    return f"{parts.scheme}://{host}{path}" + ("?***" if parts.query else "")


class RpcHttpError(ChainError):
    """The RPC answered an HTTP error status that no retry can fix."""


def http_error(exc: requests.exceptions.HTTPError) -> RpcHttpError:
    """The clear error of an RPC that answered an HTTP error status."""
    response = exc.response
    status = response.status_code if response is not None else 0
    reason = (response.reason or "") if response is not None else ""
    url = shown_url(response.url) if response is not None and response.url else "the RPC"
    if status in (401, 403):
        hint = "check the provider key"
    elif status in (404, 405, 501):
        hint = "check the RPC URL and the provider key in it"
    else:
        hint = "check the RPC URL and the provider's status"
    return RpcHttpError(f"the RPC at {url} answered HTTP {status} {reason}".rstrip() + f": {hint}")


def _transient_failure(exc: Exception) -> bool:
    """Whether ``exc`` is the connection's trouble (try again), not the chain's answer."""
    if isinstance(exc, TRANSIENT):
        return True
    if isinstance(exc, requests.exceptions.HTTPError):
        return exc.response is not None and exc.response.status_code in RETRYABLE_HTTP
    return isinstance(exc, Web3RPCError) and bool(_RATE_LIMITED.search(str(exc)))


@dataclass
class RetryPolicy:
    """How calls to the RPC are retried when the connection fails.

    ``attempts`` bounds the tries of one call (one-shot commands: then one clear error); None
    retries for ever (daemons: an outage of any length is waited out). The delay doubles from
    ``first_delay`` up to ``max_delay``. With ``log``, the first failure of an outage and the
    first success after it are logged once each.
    """

    attempts: int | None = 6
    first_delay: float = 0.25
    max_delay: float = 5.0
    log: Callable[[str], None] | None = None
    where: str = "the RPC"
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    down_since: float | None = field(default=None, init=False)

    @classmethod
    def forever(
        cls, log: Callable[[str], None] | None = None, max_delay: float = 10.0
    ) -> RetryPolicy:
        """A daemon's policy: never gives up, waits at most ``max_delay`` between tries."""
        return cls(attempts=None, max_delay=max_delay, log=log)

    def run(self, what: str, fn: Callable[[], T]) -> T:
        delay = self.first_delay
        attempt = 0
        while True:
            attempt += 1
            try:
                result = fn()
            except requests.exceptions.HTTPError as exc:
                if not _transient_failure(exc):
                    raise http_error(exc) from None
                failure: Exception = exc
            except (*TRANSIENT, Web3RPCError) as exc:
                if not _transient_failure(exc):
                    raise
                failure = exc
            else:
                self._back()
                return result
            self._lost(what, failure)
            if self.attempts is not None and attempt >= self.attempts:
                raise ChainError(
                    f"{what}: the RPC connection keeps failing after {attempt} attempts "
                    f"({_brief(failure)})"
                ) from failure
            self.sleep(delay)
            delay = min(delay * 2, self.max_delay)

    def _lost(self, what: str, failure: Exception) -> None:
        if self.down_since is not None:
            return
        self.down_since = self.clock()
        if self.log is not None:
            again = "for ever" if self.attempts is None else f"up to {self.attempts} times"
            self.log(
                f"lost the connection to {self.where} ({what}: {_brief(failure)}); retrying "
                f"{again}, at most every {self.max_delay:g} s"
            )

    def _back(self) -> None:
        if self.down_since is None:
            return
        seconds = self.clock() - self.down_since
        self.down_since = None
        if self.log is not None:
            self.log(f"the connection to {self.where} is back after {seconds:.0f} s")


def _brief(exc: Exception) -> str:
    """One line about a connection failure (requests' messages nest whole reprs)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
