"""The one HTTP session the bridge uses to talk to ITFlow.

Why a class of our own around ``requests.Session``: ITFlow wants the key in the
query string, so every exception requests raises carries it; this layer is the
single place that adds the key, caps timeouts to the caller's budget, limits
body size, refuses redirects (a redirect means a wrong URL or a login page) and
turns transport failures into ``ITFlowError`` subclasses with redacted text.
"""

from __future__ import annotations

import errno
import json
import logging
import re
import socket
import ssl
from dataclasses import dataclass
from typing import Any, Iterator, List, Mapping, Optional

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from .. import __version__
from ..core.config import ITFlowSettings
from ..core.errors import ITFlowResponseError, ITFlowTimeout, ITFlowTLSError, ITFlowUnavailable
from ..core.redact import redact

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 2 * 1024 * 1024
USER_AGENT = "itflow-bridge/%s (+FreePBX/Asterisk caller-ID and balance bridge)" % __version__
# OpenSSL's reasons, depending on its version, when the answer to our hello is not TLS at all (on a
# plain-HTTP port: the web server's "400 Bad Request" page).
NOT_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG",
                             "UNKNOWN_PROTOCOL"})


@dataclass(frozen=True)
class HTTPResponse:
    status: int
    body: bytes
    content_type: str
    location: str = ""  # redirect target, already redacted

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: JSON nested too deep
            raise ITFlowResponseError(
                "ITFlow answered HTTP %d with a body that is not JSON (%d bytes)" % (self.status, len(self.body))
            ) from None


class ITFlowHTTP:
    """GET/POST to ITFlow with the API key, bounded time and bounded size."""

    def __init__(self, settings: ITFlowSettings):
        self.base_url = settings.url
        self._api_key = settings.api_key
        self._timeouts = (settings.connect_timeout, settings.read_timeout)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.verify = str(settings.ca_bundle) if settings.ca_bundle else settings.verify_tls
        self.session.trust_env = False  # a proxy from the environment is never what a PBX wants here
        retry = Retry(
            total=settings.retries,
            connect=settings.retries,
            read=0,
            status=0,
            other=0,
            redirect=0,
            allowed_methods=frozenset({"GET"}),
            backoff_factor=0.05,
            raise_on_redirect=False,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=128)  # = lookup workers
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def get(self, path: str, params: Mapping[str, Any], *, timeout: Optional[float] = None,
            body: Optional[Mapping[str, Any]] = None) -> HTTPResponse:
        """GET with the key; ``body`` is sent as JSON (ITFlow reads some secrets only from the body)."""
        query = dict(params)
        if self._api_key:
            query["api_key"] = self._api_key
        extra = {} if body is None else {"json": dict(body)}
        return self._send("GET", path, params=query, timeout=timeout, **extra)

    def post_json(self, path: str, payload: Mapping[str, Any], *, timeout: Optional[float] = None) -> HTTPResponse:
        return self._send("POST", path, params={"api_key": self._api_key}, json=dict(payload), timeout=timeout)

    def close(self) -> None:
        self.session.close()

    def _timeout(self, budget: Optional[float]) -> "tuple[float, float]":
        connect, read = self._timeouts
        if budget is None:
            return connect, read
        budget = max(budget, 0.05)
        return min(connect, budget), min(read, budget)

    def _send(self, method: str, path: str, *, timeout: Optional[float], **kwargs: Any) -> HTTPResponse:
        url = self.base_url + path
        try:
            with self.session.request(
                method, url, timeout=self._timeout(timeout), allow_redirects=False, stream=True, **kwargs
            ) as response:
                body = _read_capped(response)
                return HTTPResponse(
                    status=response.status_code,
                    body=body,
                    content_type=response.headers.get("Content-Type", ""),
                    location=redact(response.headers.get("Location", "")),
                )
        except requests.exceptions.SSLError as exc:
            raise _tls_error(self.base_url, exc) from None
        except requests.exceptions.ConnectTimeout:
            raise ITFlowTimeout("ITFlow at %s did not accept the connection within %s s (host down, or a firewall "
                                "dropping the packets)" % (self.base_url, _seconds(self._timeout(timeout)[0]))
                                ) from None
        except requests.exceptions.RequestException as exc:
            # With no read retries, urllib3 reports a read timeout as a ConnectionError around it.
            if isinstance(exc, requests.exceptions.ReadTimeout) or any(
                    isinstance(cause, ReadTimeoutError) for cause in _causes(exc)):
                raise ITFlowTimeout("ITFlow at %s accepted the connection but did not answer within %s s"
                                    % (self.base_url, _seconds(self._timeout(timeout)[1]))) from None
            raise ITFlowUnavailable(_unreachable(self.base_url, exc)) from None


def _read_capped(response: requests.Response) -> bytes:
    chunks = []
    size = 0
    for chunk in response.iter_content(65536):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ITFlowResponseError("ITFlow's answer is larger than %d bytes: refused" % MAX_BODY_BYTES)
        chunks.append(chunk)
    return b"".join(chunks)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it, innermost last (requests wraps urllib3 wraps the socket error)."""
    seen: List[BaseException] = []
    current: Optional[BaseException] = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        yield current
        reason = getattr(current, "reason", None)
        wrapped = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = (reason if isinstance(reason, BaseException) else None) or current.__cause__ \
            or current.__context__ or wrapped


def _unreachable(base_url: str, exc: BaseException) -> str:
    """One sentence for an admin: what failed at the network level, in words, not a repr."""
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "nothing listens at %s (connection refused)" % base_url
        if isinstance(cause, socket.gaierror):
            return "cannot reach ITFlow at %s: the host name does not resolve (DNS)" % base_url
        if isinstance(cause, OSError) and cause.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "cannot reach ITFlow at %s: no route to the host (network or firewall)" % base_url
        if isinstance(cause, ConnectionResetError):
            return "ITFlow at %s closed the connection without answering" % base_url
    return "cannot reach ITFlow at %s: %s" % (base_url, _reason(exc))


def _tls_error(base_url: str, exc: BaseException) -> ITFlowTLSError:
    """What went wrong in the TLS handshake, in words, with advice only where it applies."""
    failure = next((cause for cause in _causes(exc) if isinstance(cause, ssl.SSLError)), None)
    if isinstance(failure, ssl.SSLCertVerificationError):
        return ITFlowTLSError(
            "TLS verification failed for %s: %s (fix the certificate, or set [itflow] ca_bundle to the CA that "
            "signed it)" % (base_url, failure.verify_message or "the certificate did not verify"), "certificate")
    if failure is not None and failure.reason in NOT_TLS_REASONS:
        return ITFlowTLSError("the server at %s does not speak HTTPS on that port (plain HTTP?): use http:// or the "
                              "HTTPS port" % base_url, "not_tls")
    words = _ssl_words(failure) if failure is not None else _reason(exc)
    return ITFlowTLSError("the TLS handshake with %s failed: %s" % (base_url, words), "handshake")


def _ssl_words(error: ssl.SSLError) -> str:
    """OpenSSL's own words, without the ``[SSL: CODE]`` prefix and the ``(_ssl.c:N)`` suffix."""
    text = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], str) else str(error)
    text = re.sub(r"^\[[^\]]*\]\s*", "", text)
    return redact(re.sub(r"\s*\(_ssl\.c:\d+\)$", "", text).strip() or error.reason or "unknown error")[:300]


def _seconds(value: float) -> str:
    return "%g" % value


def _reason(exc: BaseException) -> str:
    """The innermost, redacted cause of a requests exception, without the URL noise."""
    text = str(exc)
    for marker in ("Caused by ", "(Caused by "):
        if marker in text:
            text = text.split(marker, 1)[1].rstrip(")")
    return redact(text)[:300]
