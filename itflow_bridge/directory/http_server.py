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

``GET /voicemail/<token>`` serves the audio of a voicemail link (see
``calls.voicemail_links``), ``Cache-Control: no-store``, one ``Range`` served
(206) so players can seek; any token it does not open (unknown, expired, the
message deleted) is the same short 404.  The link's own token is its
permission, so this path needs no ``token`` below (a browser opening a link
from a ticket cannot send one) but obeys ``allow``.  Access log lines show
``/voicemail/…``, never the token.

The server knows nothing of ITFlow or of calls: ``lookup`` (number -> name or
""), ``phonebooks`` (format -> ``PhonebookDocument`` or None) and ``voicemail``
(token -> ``ServedFile`` or None) are injected.  It binds 127.0.0.1 by
default, answers only peers in ``allow`` (403 otherwise) and, with a
``token``, only requests carrying it (query ``token=``, header ``X-Token`` or
``Authorization: Bearer``).

``extra_routes`` (optional) answers paths of its own before the above (behind
the allow-list, with tokens of its own): ``handle(request, path, head)`` says
whether it answered; its ``redact(text)`` hides its secrets from the request log.
A POST goes to its ``handle_post(request, path)`` when it has one (501 otherwise, as without it).
"""

from __future__ import annotations

import email.utils
import hmac
import io
import logging
import os
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Protocol, Sequence, Tuple
from urllib.parse import parse_qsl, unquote, urlsplit

from ..core.networks import DEFAULT_ALLOW, Network, parse_networks, peer_allowed

log = logging.getLogger(__name__)

DEFAULT_BUDGET = 1.5  # seconds: the caller-ID budget
NUMBER_PARAMETERS = ("number", "num", "cid", "callerid", "thenumber")
_PHONEBOOK_PATH = re.compile(r"/phonebook/([a-z]+)\.xml")
_SLASHES = re.compile(r"/{2,}")
_VOICEMAIL_PATH = re.compile(r"/voicemail/(.+)")  # any token: the store says which ones open
_VOICEMAIL_IN_LOG = re.compile(r"(/voicemail/)[^\s\"]*")
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")
VOICEMAIL_NOT_FOUND = b"No voicemail here: the link is wrong or has expired.\n"
CHUNK = 64 * 1024
_BYTE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@dataclass(frozen=True)
class PhonebookDocument:
    body: bytes
    etag: str  # quoted, e.g. '"3f2a..."'
    last_modified: float  # epoch seconds
    content_type: str = "text/xml; charset=utf-8"


class ServedFile(Protocol):
    """A file to answer with: where it is, its type, the name a browser saves it as."""

    @property
    def path(self) -> Path: ...

    @property
    def content_type(self) -> str: ...

    @property
    def filename(self) -> str: ...


class ExtraRoutes(Protocol):
    """Routes served beside ours (the agent screen's): see the module docstring."""

    served: str  # what they serve, for the log line that lists the server's paths (e.g. "/agent/<link>")

    def handle(self, request: BaseHTTPRequestHandler, path: str, head: bool) -> bool: ...

    def redact(self, text: str) -> str: ...


Lookup = Callable[[str], Optional[str]]
PhonebookProvider = Callable[[str], Optional[PhonebookDocument]]
VoicemailSource = Callable[[str], Optional[ServedFile]]  # a link's token -> its audio, None if it opens nothing


def number_from_query(query: str) -> Optional[str]:
    """The caller number of a ``/cnam`` query, a raw ``+`` (decoded to a space) restored."""
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name.lower() in NUMBER_PARAMETERS:
            stripped = value.strip()
            if value[:1] == " " and value[1:2].isdigit():
                return "+" + stripped  # "+4930..." sent unencoded: form decoding made it " 4930..."
            return stripped
    return None


def byte_range(header: str, size: int) -> Optional[Tuple[int, int]]:
    """(first, last) byte, inclusive, of the one range ``header`` asks of ``size`` bytes; None: the whole file.

    Browsers ask ranges of audio to seek (Safari plays nothing without them).
    Several ranges, another unit or a malformed header are ignored, which
    RFC 9110 allows: the whole file goes out.  A range wholly past the end
    raises ``ValueError`` (416).
    """
    match = _BYTE_RANGE.fullmatch(header.replace(" ", ""))
    if match is None or not (match.group(1) or match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # "-N": the last N bytes
        if int(last) == 0 or size == 0:
            raise ValueError("an empty range")
        return max(0, size - int(last)), size - 1
    if last and int(last) < int(first):
        return None
    if int(first) >= size:
        raise ValueError("the range starts past the end")
    return int(first), min(int(last), size - 1) if last else size - 1


def _copy(source: io.BufferedIOBase, target: io.BufferedIOBase, length: int) -> None:
    while length > 0:
        chunk = source.read(min(CHUNK, length))
        if not chunk:
            return  # the file shrank meanwhile: the client sees a short body
        target.write(chunk)
        length -= len(chunk)


class DirectoryHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # Python's backlog is 5: the agents' pages reconnecting together after a restart (up to 500)
    # or a room of phones fetching the phonebook would have their connections dropped and retried
    # seconds later. Queued here, they are served in turn.
    request_queue_size = 512

    def __init__(self, address: Tuple[str, int], lookup: Lookup, phonebooks: PhonebookProvider, *,
                 token: str = "", allow: Iterable[str] = DEFAULT_ALLOW, budget: float = DEFAULT_BUDGET,
                 voicemail: Optional[VoicemailSource] = None, extra_routes: Optional[ExtraRoutes] = None):
        host = address[0]
        self.extra_routes = extra_routes
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.lookup = lookup
        self.phonebooks = phonebooks
        self.voicemail = voicemail
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
                     budget: float = DEFAULT_BUDGET, voicemail: Optional[VoicemailSource] = None,
                     extra_routes: Optional[ExtraRoutes] = None) -> DirectoryHTTPServer:
    """A bound, not yet serving server (``.start()`` or ``.serve_forever()``); port 0 picks one.

    Without ``voicemail`` every ``/voicemail/`` link answers 404.
    """
    return DirectoryHTTPServer((host, port), lookup_callable, phonebook_provider, token=token, allow=allow,
                               budget=budget, voicemail=voicemail, extra_routes=extra_routes)


class _Handler(BaseHTTPRequestHandler):
    server: DirectoryHTTPServer
    protocol_version = "HTTP/1.1"

    hidden_path = False  # this request is a voicemail link: its path holds the token

    def version_string(self) -> str:
        return "itflow-bridge"

    def log_message(self, format: str, *args: Any) -> None:  # no stderr noise per request
        # A link's token is its permission: never logged, however the path was spelled.
        text = format % args
        if self.hidden_path:
            text = text.replace(self.path, "/voicemail/\u2026")
        if self.server.extra_routes is not None:
            text = self.server.extra_routes.redact(text)
        log.debug("%s %s", self.address_string(), _VOICEMAIL_IN_LOG.sub("\\1\u2026", unquote(text)))

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def do_GET(self) -> None:
        self._handle(head=False)

    def do_POST(self) -> None:  # only extra routes take one (the agent's click to call)
        self.hidden_path = False
        if not self.server.allowed(self.client_address[0]):
            self.close_connection = True  # the body is not read
            return self._send(403, b"", head=False)
        path = _SLASHES.sub("/", unquote(urlsplit(self.path).path)) or "/"
        post = getattr(self.server.extra_routes, "handle_post", None)
        if post is not None and post(self, path):
            return None
        self.send_error(501, "Unsupported method ('POST')")  # as for any method we do not take

    def _handle(self, head: bool) -> None:
        self.hidden_path = False  # a kept-alive connection's next request
        if not self.server.allowed(self.client_address[0]):
            return self._send(403, b"", head=head)
        parts = urlsplit(self.path)
        path = _SLASHES.sub("/", unquote(parts.path)) or "/"
        if path != "/" and path.endswith("/"):
            path = path[:-1]
        voicemail = _VOICEMAIL_PATH.fullmatch(path)
        if voicemail:  # the link's token is its permission (see the module docstring)
            self.hidden_path = True
            return self._voicemail(voicemail.group(1), head)
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

    def _voicemail(self, token: str, head: bool) -> None:
        found = None
        if self.server.voicemail is not None:
            try:
                found = self.server.voicemail(token)
            except Exception as exc:  # a broken store answers like an outage, never with a traceback
                log.warning("voicemail link lookup failed: %s: %s", type(exc).__name__,
                            str(exc).replace(token, "\u2026"))
                return self._send(503, b"Voicemail is unavailable right now.\n", head=head,
                                  headers=(("Cache-Control", "no-store"),))
        handle = None
        if found is not None:
            try:
                handle = open(found.path, "rb")
            except OSError:  # deleted since it was found
                handle = None
        if found is None or handle is None:
            return self._send(404, VOICEMAIL_NOT_FOUND, head=head, headers=(("Cache-Control", "no-store"),))
        with handle:
            size = os.fstat(handle.fileno()).st_size
            try:
                part = byte_range(self.headers.get("Range", ""), size)
            except ValueError:
                return self._send(416, b"", head=head, headers=(("Content-Range", "bytes */%d" % size),
                                                                ("Cache-Control", "no-store")))
            first, last = part if part is not None else (0, size - 1)
            self.send_response(200 if part is None else 206)
            self.send_header("Content-Type", found.content_type)
            self.send_header("Content-Length", str(last - first + 1))
            if part is not None:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (first, last, size))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Disposition",
                             'inline; filename="%s"' % _UNSAFE_IN_FILENAME.sub("_", found.filename))
            self.end_headers()
            if not head:
                handle.seek(first)
                _copy(handle, self.wfile, last - first + 1)

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
