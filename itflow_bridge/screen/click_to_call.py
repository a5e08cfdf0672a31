"""Click to call: ``/agent/<token>/call?number=...`` rings the agent's phone, then dials the number.

The agent's page registers itself as the browser's handler of ``tel:`` links,
so a click on a number in ITFlow opens this URL.  A GET changes nothing (any
site can make a browser open a URL): it answers a page asking "Call ... from
extension ...?" whose button POSTs back here.  The POST places the call only
when it comes from that page: the browser says so (``Sec-Fetch-Site:
same-origin``, or an ``Origin`` equal to this server's ``Host``) and it carries
the page's form token (``csrf``).  The call goes only to the link's own
extension, only to a cleaned number (``dial_number``), at most
``rate_limit.CALLS_PER_WINDOW`` times a minute per link.  With auto-confirm on,
the page presses its button itself: still a same-origin POST with the token.
"""

from __future__ import annotations

import html
import logging
from http.server import BaseHTTPRequestHandler
from typing import Callable, Dict, Optional
from urllib.parse import parse_qsl, quote, urlsplit

from ..calls.ami import AMIError
from ..core.link_tokens import token_hash
from .csrf import FormTokens
from .dial_number import NotANumber, clean_dial_number
from .rate_limit import RateLimit
from .replies import Headers, send

log = logging.getLogger(__name__)

CALL_PATH = "/call"  # after the page's own path: /agent/<token>/call
NUMBER_FIELD = "number"
FORM_TOKEN_FIELD = "csrf"
MAX_FORM_BYTES = 4096
HTML = "text/html; charset=utf-8"
PAGE_HEADERS = (
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
)
PlaceCall = Callable[[str, str], None]  # (extension, cleaned number); raises AMIError


def number_from_query(query: str) -> str:
    """The ``number`` of a query string, a raw ``+`` (a space once decoded) kept as a plus."""
    for name, value in parse_qsl(query.replace("+", "%2B"), keep_blank_values=True):
        if name == NUMBER_FIELD:
            return value
    return ""


def same_origin(headers: "Callable[[str], Optional[str]]") -> bool:
    """Whether the browser says the request comes from a page of this server (``headers``: a header's value)."""
    site = headers("Sec-Fetch-Site")
    if site is not None:  # set by the browser, never by a page; its Origin may be "null" (no-referrer pages)
        return site.strip().lower() == "same-origin"
    origin = headers("Origin")
    if origin is None:
        return False
    host = (headers("Host") or "").strip().lower()
    return bool(host) and urlsplit(origin.strip()).netloc.lower() == host


class ClickToCall:
    """The ``/call`` route of one link; ``place`` places a call (``Originator.call``)."""

    def __init__(self, place: PlaceCall, *, auto_confirm: bool = False, limit: Optional[RateLimit] = None,
                 form_tokens: Optional[FormTokens] = None) -> None:
        self.place = place
        self.auto_confirm = auto_confirm
        self.limit = limit or RateLimit()
        self.form_tokens = form_tokens or FormTokens()

    def get(self, request: BaseHTTPRequestHandler, token: str, extension: str, query: str, head: bool) -> None:
        """The confirm page (changes nothing)."""
        try:
            number = clean_dial_number(number_from_query(query))
        except NotANumber as error:
            return _page(request, 400, "Not a number to call", "<p>%s.</p>" % html.escape(str(error)), head)
        auto = ' data-auto-confirm="1"' if self.auto_confirm else ""
        body = ('<form id="confirm" method="post" action="call"%s>'
                '<p>Call <strong>%s</strong> from extension <strong>%s</strong>?</p>'
                '<p>Your phone rings first; when you pick it up, the number is dialled.</p>'
                '<input type="hidden" name="%s" value="%s">'
                '<input type="hidden" name="%s" value="%s">'
                '<button type="submit" autofocus>Call</button></form>'
                '<script src="/agent/static/confirm.js"></script>'
                % (auto, html.escape(number), html.escape(extension), NUMBER_FIELD, html.escape(number),
                   FORM_TOKEN_FIELD, html.escape(self.form_tokens.issue(token))))
        _page(request, 200, "Call %s?" % number, body, head)

    def post(self, request: BaseHTTPRequestHandler, token: str, extension: str) -> None:
        """Place the call, when the POST comes from the confirm page."""
        form = _read_form(request)
        if form is None:
            return _page(request, 413, "Not a call", "<p>The request is too large.</p>", False)
        if not same_origin(request.headers.get) or not self.form_tokens.check(token, form.get(FORM_TOKEN_FIELD, "")):
            log.warning("click to call: a request for extension %s not sent from its page: refused", extension)
            return _page(request, 403, "Not from the agent's page",
                         "<p>Calls are placed only from the bridge's own confirm page. Click the number again.</p>",
                         False)
        try:
            number = clean_dial_number(form.get(NUMBER_FIELD, ""))
        except NotANumber as error:
            return _page(request, 400, "Not a number to call", "<p>%s.</p>" % html.escape(str(error)), False)
        key = token_hash(token)
        if not self.limit.allow(key):
            wait = max(1, int(self.limit.retry_after(key) + 0.999))
            log.warning("click to call: extension %s asked for more than %d calls a minute: refused",
                        extension, self.limit.limit)
            return _page(request, 429, "Too many calls", "<p>Too many calls in a minute; try again in %d s.</p>" % wait,
                         False, PAGE_HEADERS + (("Retry-After", str(wait)),))
        try:
            self.place(extension, number)
        except AMIError as error:
            log.warning("click to call: extension %s could not call %s: %s", extension, number, error)
            return _page(request, 502, "The call could not be placed",
                         "<p>Asterisk did not take the call; the bridge's log says why.</p>", False)
        _page(request, 200, "Calling %s" % number,
              "<p>Your phone (extension <strong>%s</strong>) rings now: pick it up to call <strong>%s</strong>.</p>"
              % (html.escape(extension), html.escape(number)), False)


def call_url(page_url: str, number: str) -> str:
    """The URL a click on ``tel:<number>`` opens, for the page at ``page_url``."""
    return page_url.rstrip("/") + CALL_PATH + "?" + NUMBER_FIELD + "=" + quote("tel:" + number, safe="")


def _read_form(request: BaseHTTPRequestHandler) -> Optional[Dict[str, str]]:
    try:
        length = int(request.headers.get("Content-Length") or "0")
    except ValueError:
        length = -1
    if length < 0 or length > MAX_FORM_BYTES:
        request.close_connection = True
        return None
    data = request.rfile.read(length).decode("utf-8", errors="replace") if length else ""
    form: Dict[str, str] = {}
    for name, value in parse_qsl(data, keep_blank_values=True):
        form.setdefault(name, value)
    return form


def _page(request: BaseHTTPRequestHandler, status: int, title: str, body: str, head: bool,
          headers: Headers = PAGE_HEADERS) -> None:
    data = ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer"><title>%s - itflow-bridge</title>'
            '<link rel="stylesheet" href="/agent/static/style.css"></head><body><main>%s</main></body></html>'
            % (html.escape(title), body)).encode("utf-8")
    send(request, status, data, HTML, head, headers)
