"""The legacy ``/api.php`` (ITFlow up to April 2022), as it really answers.

Plain-text bodies, key in the query string, and two PHP behaviours that decide
everything here: on PHP >= 8.1 every ``cid`` request ends in HTTP 500 *after*
the correct answer was echoed, and with ``display_errors=On`` HTML error blocks
surround the text.  So a status code means little; the body is parsed, and it
is accepted only when it has the exact shape ITFlow echoes.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, Iterator, List, Optional

from ..core.errors import ITFlowAPIMissing, ITFlowAuthError, ITFlowError, ITFlowResponseError, ITFlowUnavailable
from .http import HTTPResponse, ITFlowHTTP
from .base import ITFlowAdapter, check_lookup_digits
from ..core.models import Balance, CallerMatch, Capabilities, ContactEmail, ListingStats, PhonebookEntry, PhoneRecord

PATH = "/api.php"

# One PHP message as display_errors prints it: "<br />\n<b>Warning</b>:  ... on line <b>45</b><br />\n".
_PHP_MESSAGE = re.compile(
    r"<br\s*/?>\s*<b>(?:Warning|Notice|Deprecated|Fatal error|Parse error|Strict Standards)</b>:"
    r".*?(?:on line <b>\d+</b>(?:<br\s*/?>)?\n?|\Z)",
    re.DOTALL,
)
_BALANCE = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?", re.ASCII)
_PHONEBOOK_CONTACT = re.compile(r"<Contact>(.*?)</Contact>", re.DOTALL)


def strip_php_messages(text: str) -> str:
    """The body without the HTML warnings or fatal errors PHP printed into it."""
    return _PHP_MESSAGE.sub("", text)


def parse_cid_body(body: str, digits: str) -> Optional[str]:
    """The name in a ``cid`` answer, or None when nobody matched.

    The body is ``"<name> - <intval(cid)>"``; the name may itself contain
    " - ", so the split is on the last one, and the echo must be the number we
    sent (as PHP's intval prints it) or the body is not an answer at all.
    """
    text = strip_php_messages(body)
    name, sep, echo = text.rpartition(" - ")
    if not sep or echo.strip() != str(int(digits)):
        raise ITFlowResponseError("unexpected answer to a caller-ID lookup (%d bytes)" % len(body))
    name = name.strip()
    return name or None


def parse_balance_body(body: str) -> Decimal:
    text = strip_php_messages(body).strip(" \t\r\n")
    if not _BALANCE.fullmatch(text):
        raise ITFlowResponseError("unexpected answer to a balance request (%d bytes)" % len(body))
    try:
        return Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ITFlowResponseError("balance %r is out of range" % text[:40]) from None


def parse_phonebook(body: str) -> List[PhonebookEntry]:
    """Entries of the Yealink-style XML; tolerant because ITFlow does not escape names."""
    entries = []
    for block in _PHONEBOOK_CONTACT.findall(body):
        name = _tag(block, "LastName")
        number = _tag(block, "phonenumber")
        group = "vendor" if _tag(block, "groupid") == "1" else "client"
        if name or number:
            entries.append(PhonebookEntry(name=name, number=number, group=group))
    return entries


def parse_contact_emails(body: str) -> List[ContactEmail]:
    """``client - contact - email<br>`` lines (older releases: ``client - email<br>``)."""
    result = []
    for line in _lines(body):
        parts = [part.strip() for part in line.rsplit(" - ", 2)]
        if len(parts) == 3:
            result.append(ContactEmail(client_name=parts[0], contact_name=parts[1], email=parts[2]))
        elif len(parts) == 2:
            result.append(ContactEmail(client_name=parts[0], contact_name="", email=parts[1]))
    return result


def parse_contact_numbers(body: str) -> List[Dict[str, str]]:
    """``client - contact - phone - mobile<br>`` lines."""
    result = []
    for line in _lines(body):
        parts = [part.strip() for part in line.rsplit(" - ", 3)]
        if len(parts) == 4:
            result.append(dict(zip(("client_name", "contact_name", "phone", "mobile"), parts)))
    return result


def _lines(body: str) -> List[str]:
    text = strip_php_messages(body)
    # Only line breaks are trimmed: "... - phone - <br>" ends in " - " when the mobile is empty.
    return [line.strip("\r\n") for line in re.split(r"<br\s*/?>", text) if line.strip()]


def _digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text or "")


def _tag(block: str, name: str) -> str:
    match = re.search(r"<%s>(.*?)</%s>" % (name, name), block, re.DOTALL)
    return match.group(1).strip() if match else ""


class LegacyAdapter(ITFlowAdapter):
    generation = "legacy"
    api_name = "legacy (/api.php)"
    capabilities = Capabilities(
        caller_names="contacts, locations and vendors (names only: no client name)",
        balance="works, but the legacy API answers 0 for a client id that does not exist",
        confirms_clients=False,
        verifies_callers=False,
        caller_details=False,
    )

    def __init__(self, http: ITFlowHTTP):
        self.http = http

    def lookup_question(self, digits: str) -> str:
        # ``cid`` is compared with intval(): 0301.. and 301.. are one question.
        return str(int(digits))

    def verify_key(self, *, timeout: Optional[float] = None) -> None:
        check_legacy_status(self.probe(timeout=timeout))

    def find_caller(self, digits: str, *, timeout: Optional[float] = None) -> Optional[CallerMatch]:
        check_lookup_digits(digits)
        response = self.request({"cid": digits}, timeout=timeout, body_on_500=True)
        name = parse_cid_body(response.text, digits)
        if name is None:
            return None
        return CallerMatch(name=name, kind="unknown", matched_number=digits)

    def get_balance(self, client_id: int, *, timeout: Optional[float] = None) -> Optional[Balance]:
        response = self.request({"account_balance": int(client_id)}, timeout=timeout)
        amount = parse_balance_body(response.text)
        # ITFlow answers 0 for a client id that does not exist: it cannot be told apart.
        return Balance(client_id=int(client_id), amount=amount, client_confirmed=amount != 0)

    def phonebook(self, *, timeout: Optional[float] = None) -> List[PhonebookEntry]:
        return parse_phonebook(self.request({"phonebook": ""}, timeout=timeout).text)

    def phone_records(self, stats: ListingStats, *, timeout: Optional[float] = None,
                      page_size: Optional[int] = None, max_rows: Optional[int] = None) -> Iterator[PhoneRecord]:
        """What /api.php lists: each client's primary contact and every vendor (``phonebook``).

        Where the site also answers ``primary_contact_numbers`` (the same join, with
        client names and mobiles) the primary contacts gain both.  Other contacts,
        locations and archived flags are out of this API's reach.
        """
        book = self.phonebook(timeout=timeout)
        stats.requests += 1
        try:
            extras = {(row["contact_name"], _digits(row["phone"])): row
                      for row in self.primary_contact_numbers(timeout=timeout)}
        except ITFlowError as exc:  # an extra: without it the records just say less
            stats.notes.append("primary_contact_numbers unavailable (%s): no client names or mobiles"
                               % type(exc).__name__)
            extras = {}
        finally:
            stats.requests += 1
        for entry in book:
            if entry.group == "vendor":
                yield PhoneRecord(kind="vendor", name=entry.name, numbers=((entry.number, "", "office"),))
                continue
            extra = extras.get((entry.name, _digits(entry.number)), {})
            yield PhoneRecord(kind="contact", name=entry.name, client_name=extra.get("client_name", ""),
                              numbers=((entry.number, "", "office"), (extra.get("mobile", ""), "", "mobile")))

    def primary_contact_numbers(self, *, timeout: Optional[float] = None) -> List[Dict[str, str]]:
        body = self.request({"primary_contact_numbers": ""}, timeout=timeout).text
        if not body.strip():
            body = self.request({"client_numbers": ""}, timeout=timeout).text
        return parse_contact_numbers(body)

    def probe(self, *, timeout: Optional[float] = None) -> HTTPResponse:
        """A request with the key and no action: 200 and an empty body on a legacy ITFlow."""
        return self.request({}, timeout=timeout)

    def request(self, params: Dict[str, Any], *, timeout: Optional[float],
                body_on_500: bool = False) -> HTTPResponse:
        """A GET of /api.php with ``params``, its status checked."""
        response = self.http.get(PATH, params, timeout=timeout)
        check_legacy_status(response, body_on_500=body_on_500)
        return response


def check_legacy_status(response: HTTPResponse, *, body_on_500: bool = False) -> None:
    """Raise the error a legacy status means; 500 passes when the body may still hold the answer."""
    status = response.status
    if status == 200:
        return
    if status == 401:
        text = response.text.strip()
        if text.startswith("Missing"):
            raise ITFlowAuthError("ITFlow says the API key is missing", reason="missing")
        raise ITFlowAuthError("ITFlow refused the API key (incorrect or expired)", reason="invalid")
    if status == 404:
        raise ITFlowAPIMissing("no legacy API here: /api.php answered HTTP 404")
    if 300 <= status < 400:
        raise ITFlowResponseError(
            "ITFlow redirected /api.php to %s: check [itflow] url" % (response.location or "another page")
        )
    if status == 500 and body_on_500 and response.body.strip():
        return  # PHP >= 8.1: the answer was echoed before the crash
    raise ITFlowUnavailable("ITFlow answered HTTP %d" % status)
