"""What the legacy ``/api.php`` offered scripts, on both API generations.

One interface (``ScriptFeatures``), one implementation per generation:

* ``contact_emails()``: client, primary contact and e-mail for every client
  (legacy ``primary_contact_emails``, ``client_emails`` on older releases; the
  JSON API: each client joined to its primary contact);
* ``add_asset(client_id, name, ...)``: the new asset's id where the API gives
  one (the JSON API does; legacy ``add_asset`` only says ``Asset added!``);
* ``raw_phonebook()``: the Yealink XML exactly as the legacy API serves it
  (the JSON API has no phonebook).
"""

from __future__ import annotations

from typing import List, Optional

from ..errors import ITFlowNotSupported
from ..itflow.base import ITFlowAdapter
from ..itflow.legacy import PATH, LegacyAdapter, check_legacy_status
from ..itflow.models import ContactEmail
from .client import ITFlowAPI
from .registry import APIUsageError


class ScriptFeatures:
    generation = "unknown"

    def contact_emails(self) -> List[ContactEmail]:
        raise NotImplementedError

    def add_asset(self, client_id: int, name: str, *, type: str = "", make: str = "", model: str = "",
                  serial: str = "", os: str = "") -> Optional[int]:
        raise NotImplementedError

    def raw_phonebook(self) -> str:
        raise NotImplementedError


def _check_asset(client_id: int, name: str) -> None:
    if isinstance(client_id, bool) or not isinstance(client_id, int) or client_id < 1:
        raise APIUsageError("client id must be a positive whole number, not %r" % (client_id,))
    if not name or not name.strip():
        raise APIUsageError("an asset needs a name")


class LegacyFeatures(ScriptFeatures):
    generation = "legacy"

    def __init__(self, adapter: LegacyAdapter, *, timeout: Optional[float] = None):
        self.adapter = adapter
        self.timeout = timeout

    def contact_emails(self) -> List[ContactEmail]:
        return self.adapter.primary_contact_emails(timeout=self.timeout)

    def add_asset(self, client_id: int, name: str, *, type: str = "", make: str = "", model: str = "",
                  serial: str = "", os: str = "") -> Optional[int]:
        _check_asset(client_id, name)
        self.adapter.add_asset(client_id, name, type=type, make=make, model=model, serial=serial, os=os,
                               timeout=self.timeout)
        return None  # api.php answers "Asset added!" and no id

    def raw_phonebook(self) -> str:
        response = self.adapter.http.get(PATH, {"phonebook": ""}, timeout=self.timeout)
        check_legacy_status(response)
        return response.text


class V1Features(ScriptFeatures):
    generation = "v1"

    def __init__(self, api: ITFlowAPI):
        self.api = api

    def contact_emails(self) -> List[ContactEmail]:
        primaries = {}
        for contact in self.api.contacts.read():
            if contact.get("contact_primary") == 1:
                primaries.setdefault(contact.get("contact_client_id"), contact)
        result = []
        for client in self.api.clients.read():
            contact = primaries.get(client.get("client_id"), {})
            result.append(ContactEmail(
                client_name=(client.raw.get("client_name") or "").strip(),
                contact_name=(contact.get("contact_name") or "").strip(),
                email=(contact.get("contact_email") or "").strip(),
            ))
        return result

    def add_asset(self, client_id: int, name: str, *, type: str = "", make: str = "", model: str = "",
                  serial: str = "", os: str = "") -> Optional[int]:
        _check_asset(client_id, name)
        fields = {"asset_name": name, "asset_type": type, "asset_make": make, "asset_model": model,
                  "asset_serial": serial, "asset_os": os}
        return self.api.assets.create(client_id, **{key: value for key, value in fields.items() if value})

    def raw_phonebook(self) -> str:
        raise ITFlowNotSupported("the JSON API has no phonebook; the legacy /api.php served it")


def features_for(adapter: ITFlowAdapter, *, timeout: Optional[float] = None) -> ScriptFeatures:
    """The features for a site's adapter (as ``ITFlowClient.adapter()`` answers it)."""
    if isinstance(adapter, LegacyAdapter):
        return LegacyFeatures(adapter, timeout=timeout)
    return V1Features(ITFlowAPI(adapter.http, timeout=timeout))
