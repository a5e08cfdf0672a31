"""The addresses of ITFlow's own pages that the bridge hands out (phones' action URLs, the agent's screen).

ITFlow 26.x serves its staff pages under ``agent/``; every path here is
relative to ``[itflow] url``, so one place says where ITFlow keeps a page.
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import urlencode

CLIENT_PAGE = "agent/client_overview.php"  # ?client_id=N
TICKET_PAGE = "agent/ticket.php"  # ?ticket_id=N
CLIENT_TICKETS_PAGE = "agent/tickets.php"  # ?client_id=N: the client's tickets, with ITFlow's "New Ticket" button
CONTACTS_PAGE = "agent/contacts.php"  # every contact, with ITFlow's "New Contact" button


def page_url(base: str, page: str, **query: Any) -> str:
    """``page`` of the ITFlow site at ``base``, with ``query``."""
    return "%s/%s%s" % (base.rstrip("/"), page, ("?" + urlencode(query)) if query else "")


def client_url(base: str, client_id: Optional[int]) -> str:
    """The client's overview page; empty without a site address or a client."""
    if not base or client_id is None:
        return ""
    return page_url(base, CLIENT_PAGE, client_id=client_id)
