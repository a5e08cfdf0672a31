"""A small HTTP server: desk-phone phonebooks and a caller-name endpoint for the PBX.

``GET /phonebook/<format>.xml`` serves a phonebook with ``ETag`` and
``Last-Modified``, answering ``304`` to ``If-None-Match``/``If-Modified-Since``.

``GET /cnam?number=NUMBER`` answers the bare display name as ``text/plain``
(no trailing newline; an empty body when nobody matches or the lookup failed),
never later than ``budget`` seconds.  The URL shapes PBX modules generate work:

* FreePBX CallerID Lookup, source type HTTP, query ``number=[NUMBER]``: the
  module builds ``http://HOST:PORT/PATH?QUERY`` with ``[NUMBER]`` replaced by
  ``${CALLERID(num)}`` unencoded, so a ``+`` arrives as a literal ``+`` (a space
  once the query is decoded); a path typed with its own leading ``/`` may give
  ``//cnam``.
* CID Superfecta "Regular Expressions" source, URL
  ``http://HOST:PORT/cnam?number=$thenumber`` and expression ``(.*)``: the same
  raw substitution.
* ``%2B`` (an encoded ``+``), national or international-prefixed numbers.

The server knows nothing of ITFlow: ``lookup`` (number -> name or "") and
``phonebooks`` (format -> ``PhonebookDocument`` or None) are injected.  It binds
127.0.0.1 by default, answers only peers in ``allow`` (403 otherwise) and, with
a ``token``, only requests carrying it (query ``token=``, header ``X-Token`` or
``Authorization: Bearer``).

``extra_routes`` (optional) answers paths of its own before the above (behind
the allow-list, with tokens of its own): ``handle(request, path, head)`` says
whether it answered; its ``redact(text)`` hides its secrets from the request log.
"""

from __future__ import annotations

import email.utils
import hmac
import logging
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Optional, Protocol, Sequence, Tuple
from urllib.parse import parse_qsl, unquote, urlsplit

from ..core.networks import DEFAULT_ALLOW, Network, parse_networks, peer_allowed

log = logging.getLogger(__name__)

DEFAULT_BUDGET = 1.5  # seconds: the caller-ID budget
NUMBER_PARAMETERS = ("number", "num", "cid", "callerid", "thenumber")
_PHONEBOOK_PATH = re.compile(r"/phonebook/([a-z]+)\.xml")
_SLASHES = re.compile(r"/{2,}")


@dataclass(frozen=True)
class PhonebookDocument:
    body: bytes
    etag: str  # quoted, e.g. '"3f2a..."'
    last_modified: float  # epoch seconds
    content_type: str = "text/xml; charset=utf-8"


class ExtraRoutes(Protocol):
    """Routes served beside ours (the agent screen's): see the module docstring."""

    def handle(self, request: BaseHTTPRequestHandler, path: str, head: bool) -> bool: ...

    def redact(self, text: str) -> str: ...


Lookup = Callable[[str], Optional[str]]
PhonebookProvider = Callable[[str], Optional[PhonebookDocument]]


def number_from_query(query: str) -> Optional[str]:
    """The caller number of a ``/cnam`` query, a raw ``+`` (decoded to a space) restored."""
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name.lower() in NUMBER_PARAMETERS:
            stripped = value.strip()
            if value[:1] == " " and value[1:2].isdigit():
                return "+" + stripped  # "+4930..." sent unencoded: form decoding made it " 4930..."
            return stripped
    return None


class DirectoryHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: Tuple[str, int], lookup: Lookup, phonebooks: PhonebookProvider, *,
                 token: str = "", allow: Iterable[str] = DEFAULT_ALLOW, budget: float = DEFAULT_BUDGET,
                 extra_routes: Optional[ExtraRoutes] = None):
        host = address[0]
        self.extra_routes = extra_routes
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.lookup = lookup
        self.phonebooks = phonebooks
        self.token = token
        entries = [item for item in allow if item.strip()]
        self.allow: Tuple[Network, ...] = parse_networks(entries) if entries else ()
        self.budget = budget
        # Lookups run here so a request never waits longer than the budget, whatever the callable does.
        self.workers = ThreadPoolExecutor(max_workers=16, thread_name_prefix="cnam")
        super().__init__(address, _Handler)

    def allowed(self, peer: str) -> bool:
        return peer_allowed(peer, self.allow)

    def start(self) -> threading.Thread:
        """Serve on a daemon thread; ``shutdown()`` stops it."""
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                  name="directory-http", daemon=True)
        thread.start()
        return thread

    def server_close(self) -> None:
        super().server_close()
        self.workers.shutdown(wait=False)


def make_http_server(host: str, port: int, lookup_callable: Lookup, phonebook_provider: PhonebookProvider,
                     token: str = "", allow: Sequence[str] = DEFAULT_ALLOW,
                     budget: float = DEFAULT_BUDGET, extra_routes: Optional[ExtraRoutes] = None) -> DirectoryHTTPServer:
    """A bound, not yet serving server (``.start()`` or ``.serve_forever()``); port 0 picks one."""
    return DirectoryHTTPServer((host, port), lookup_callable, phonebook_provider, token=token, allow=allow,
                               budget=budget, extra_routes=extra_routes)


class _Handler(BaseHTTPRequestHandler):
    server: DirectoryHTTPServer
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "itflow-bridge"

    def log_message(self, format: str, *args: Any) -> None:  # no stderr noise per request
        text = format % args
        if self.server.extra_routes is not None:
            text = self.server.extra_routes.redact(text)
        log.debug("%s %s", self.address_string(), text)

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def do_GET(self) -> None:
        self._handle(head=False)

    def _handle(self, head: bool) -> None:
        if not self.server.allowed(self.client_address[0]):
            return self._send(403, b"", head=head)
        parts = urlsplit(self.path)
        path = _SLASHES.sub("/", unquote(parts.path)) or "/"
        if path != "/" and path.endswith("/"):
            path = path[:-1]
        if self.server.extra_routes is not None and self.server.extra_routes.handle(self, path, head):
            return None
        if not self._token_ok(parts.query):
            return self._send(403, b"", head=head)
        if path == "/cnam":
            return self._cnam(parts.query, head)
        match = _PHONEBOOK_PATH.fullmatch(path)
        if match:
            return self._phonebook(match.group(1), head)
        self._send(404, b"", head=head)

    def _token_ok(self, query: str) -> bool:
        expected = self.server.token
        if not expected:
            return True
        offered = [value for name, value in parse_qsl(query, keep_blank_values=True) if name == "token"]
        offered.append(self.headers.get("X-Token", ""))
        authorization = self.headers.get("Authorization", "")
        if authorization.lower().startswith("bearer "):
            offered.append(authorization[7:].strip())
        return any(value and hmac.compare_digest(value.encode(), expected.encode()) for value in offered)

    def _cnam(self, query: str, head: bool) -> None:
        number = number_from_query(query)
        if number is None:
            return self._send(400, b"", head=head, content_type="text/plain; charset=utf-8")
        name = ""
        if number:
            future = self.server.workers.submit(self.server.lookup, number)
            try:
                name = future.result(timeout=self.server.budget) or ""
            except FutureTimeout:
                log.info("caller-name lookup of %s over its budget: answered empty", number)
            except Exception:  # a broken lookup must answer "nobody", not break the PBX's request
                log.exception("caller-name lookup failed")
        body = " ".join(name.split()).encode("utf-8")  # one line, no trailing newline
        self._send(200, body, head=head, content_type="text/plain; charset=utf-8",
                   headers=(("Cache-Control", "no-store"),))

    def _phonebook(self, format: str, head: bool) -> None:
        try:
            document = self.server.phonebooks(format)
        except KeyError:
            return self._send(404, b"", head=head)
        except Exception:
            log.exception("phonebook %s failed", format)
            return self._send(500, b"", head=head)
        if document is None:  # no directory yet: ask again later
            return self._send(503, b"", head=head, headers=(("Retry-After", "60"),))
        headers = (("ETag", document.etag),
                   ("Last-Modified", email.utils.formatdate(document.last_modified, usegmt=True)),
                   ("Cache-Control", "no-cache"))
        if self._not_modified(document):
            return self._send(304, b"", head=True, headers=headers)
        self._send(200, document.body, head=head, content_type=document.content_type, headers=headers)

    def _not_modified(self, document: PhonebookDocument) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:  # takes precedence over If-Modified-Since (RFC 9110)
            tags = [tag.strip() for tag in if_none_match.split(",")]
            bare = document.etag[2:] if document.etag.startswith("W/") else document.etag
            return "*" in tags or any((tag[2:] if tag.startswith("W/") else tag) == bare for tag in tags)
        since = self.headers.get("If-Modified-Since")
        if since:
            try:
                stamp = email.utils.parsedate_to_datetime(since).timestamp()
            except (TypeError, ValueError, IndexError, OverflowError):
                return False
            return int(document.last_modified) <= stamp
        return False

    def _send(self, status: int, body: bytes, *, head: bool, content_type: str = "text/plain; charset=utf-8",
              headers: Iterable[Tuple[str, str]] = ()) -> None:
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if not head and status != 304:
            self.wfile.write(body)
