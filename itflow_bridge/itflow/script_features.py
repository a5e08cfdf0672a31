"""What the legacy ``/api.php`` offered scripts, on either API generation.

``script_features(adapter)`` answers the site's ``ScriptFeatures``: e-mail
lists (``contact_emails``), new assets (``add_asset``) and the phonebook XML as
ITFlow serves it (``raw_phonebook``).  Calls never need these, so they stay out
of the adapter interface; each generation's version uses its adapter's own
requests.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from ..core.errors import ITFlowNotFound, ITFlowNotSupported, ITFlowResponseError, UsageError
from ..core.models import Contact, ContactEmail
from .base import ITFlowAdapter
from .legacy import LegacyAdapter, parse_contact_emails, strip_php_messages
from .v1 import V1Adapter, client_from_row, contact_from_row


def check_new_asset(client_id: int, name: str) -> None:
    """Refuse an asset ITFlow would store wrongly: it needs a real client and a name."""
    if isinstance(client_id, bool) or not isinstance(client_id, int) or client_id < 1:
        raise UsageError("client id must be a positive whole number, not %r" % (client_id,))
    if not name or not name.strip():
        raise UsageError("an asset needs a name")


class ScriptFeatures:
    """Base class: one subclass per API generation; what a generation lacks raises ``ITFlowNotSupported``."""

    checks_client = False  # whether add_asset can refuse a client id no client has

    def __init__(self, adapter: ITFlowAdapter):
        self.adapter = adapter

    def contact_emails(self, *, timeout: Optional[float] = None) -> List[ContactEmail]:
        """Client name, primary contact and e-mail for every client (mailing lists)."""
        raise ITFlowNotSupported("the %s API cannot list contact e-mails" % self.adapter.generation)

    def add_asset(self, client_id: int, name: str, *, type: str = "", make: str = "", model: str = "",
                  serial: str = "", os: str = "", timeout: Optional[float] = None) -> Optional[int]:
        """Add an asset to a client; its new id where the API says it (None otherwise).

        ``ITFlowNotFound`` when the API can tell that no such client exists
        (the JSON API); the legacy API cannot tell (``checks_client`` False)."""
        raise ITFlowNotSupported("the %s API cannot add assets" % self.adapter.generation)

    def raw_phonebook(self, *, timeout: Optional[float] = None) -> str:
        """The phonebook XML exactly as ITFlow serves it."""
        raise ITFlowNotSupported("the %s API has no phonebook (the legacy /api.php served one)"
                                 % self.adapter.generation)


class LegacyScriptFeatures(ScriptFeatures):
    """``/api.php``'s own actions: ``primary_contact_emails``, ``add_asset``, ``phonebook``.

    ``add_asset`` cannot check the client: api.php lists no clients, and its
    balance answers 0 for a client that does not exist as for one that owes nothing.
    """

    adapter: LegacyAdapter

    def __init__(self, adapter: LegacyAdapter):
        super().__init__(adapter)
        self.adapter = adapter

    def contact_emails(self, *, timeout: Optional[float] = None) -> List[ContactEmail]:
        body = self.adapter.request({"primary_contact_emails": ""}, timeout=timeout).text
        if not body.strip():  # releases before the rename only know client_emails
            body = self.adapter.request({"client_emails": ""}, timeout=timeout).text
        return parse_contact_emails(body)

    def add_asset(self, client_id: int, name: str, *, type: str = "", make: str = "", model: str = "",
                  serial: str = "", os: str = "", timeout: Optional[float] = None) -> Optional[int]:
        check_new_asset(client_id, name)
        params = {"add_asset": name, "client_id": int(client_id), "type": type, "make": make,
                  "model": model, "serial": serial, "os": os}
        body = strip_php_messages(self.adapter.request(params, timeout=timeout).text).strip()
        if body != "Asset added!":
            raise ITFlowResponseError("ITFlow did not confirm the new asset")
        return None  # api.php says "Asset added!" and no id

    def raw_phonebook(self, *, timeout: Optional[float] = None) -> str:
        return self.adapter.request({"phonebook": ""}, timeout=timeout).text


class V1ScriptFeatures(ScriptFeatures):
    """The same answers from the JSON API: contacts joined to clients, ``assets/create``; no phonebook."""

    adapter: V1Adapter
    checks_client = True

    def __init__(self, adapter: V1Adapter):
        super().__init__(adapter)
        self.adapter = adapter

    def contact_emails(self, *, timeout: Optional[float] = None) -> List[ContactEmail]:
        """Every client with its primary contact's name and e-mail (empty when it has none)."""
        primaries: Dict[Optional[int], Contact] = {}
        for contact in map(contact_from_row, self.adapter.read_all("contacts", timeout=timeout)):
            if contact.primary:  # archived ones too, as the legacy join does
                primaries.setdefault(contact.client_id, contact)
        result = []
        for client in map(client_from_row, self.adapter.read_all("clients", timeout=timeout)):
            primary = primaries.get(client.id)
            result.append(ContactEmail(client_name=client.name, contact_name=primary.name if primary else "",
                                       email=primary.email.strip() if primary else ""))
        return result

    def add_asset(self, client_id: int, name: str, *, type: str = "", make: str = "", model: str = "",
                  serial: str = "", os: str = "", timeout: Optional[float] = None) -> Optional[int]:
        check_new_asset(client_id, name)
        # assets/create stores any client id, even one no client has: ask first (a fresh listing on a miss).
        if self.adapter.get_client(client_id, timeout=timeout) is None:
            raise ITFlowNotFound("no client %d" % client_id)
        fields = {"asset_name": name, "asset_type": type, "asset_make": make, "asset_model": model,
                  "asset_serial": serial, "asset_os": os}
        payload = {key: value for key, value in fields.items() if value}
        return self.adapter.reader.create("assets", dict(payload, client_id=int(client_id)), what="asset",
                                          timeout=timeout)


def script_features(adapter: ITFlowAdapter) -> ScriptFeatures:
    """The script features of the site ``adapter`` speaks to (all unsupported for another source)."""
    if isinstance(adapter, V1Adapter):
        return V1ScriptFeatures(adapter)
    if isinstance(adapter, LegacyAdapter):
        return LegacyScriptFeatures(adapter)
    return ScriptFeatures(adapter)
