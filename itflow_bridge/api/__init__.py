"""The ITFlow API for scripts: typed access to every JSON API module.

    from itflow_bridge.api import connect

    with connect("https://itflow.example.com", "API-KEY") as api:
        for contact in api.contacts.read():
            print(contact.contact_name, contact.contact_email)

``api.MODULE.read(...)`` iterates over every row (paged transparently), or
answers one page with ``limit=``/``offset=``; ``create(client_id=..., **fields)``
answers the new id; ``update``/``delete``/``archive``/``unarchive``/``resolve``
take the record's id.  Only the functions ITFlow has for a module exist: any
other name fails before a request, listing the valid ones.
"""

from typing import TYPE_CHECKING

from .registry import MODULES, APIUsageError
from .values import Row

if TYPE_CHECKING:
    from .typed import ITFlowAPI, ModuleAPI, connect

__all__ = ["ITFlowAPI", "ModuleAPI", "connect", "MODULES", "APIUsageError", "Row"]


def __getattr__(name: str) -> object:
    # The HTTP client (and requests) load on first use: the command line registers without them.
    if name in ("ITFlowAPI", "ModuleAPI", "connect"):
        from . import typed as client

        return getattr(client, name)
    raise AttributeError(name)
