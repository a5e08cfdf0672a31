"""Every JSON API module ITFlow 26.08 ships, with exactly the functions it has.

One table (``MODULES``): the functions of each module, the parameters its
``read.php`` understands, the body keys its writes read, which of them ITFlow
requires, and whether a create needs a ``client_id``.  The client checks calls
against it before any request, so a typo fails at once with the valid names
instead of ITFlow silently ignoring an unknown key (a read with an unknown
filter would return every row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

from ..core.errors import UsageError

# How a create treats client_id: ITFlow refuses one without it ("required"), accepts 0 for a
# record tied to no client ("optional"), or refuses one that names it ("forbidden": a new
# client has no client_id yet).
REQUIRED, OPTIONAL, FORBIDDEN = "required", "optional", "forbidden"

READ, CREATE, UPDATE, DELETE, ARCHIVE, UNARCHIVE, RESOLVE, TIME = (
    "read", "create", "update", "delete", "archive", "unarchive", "resolve", "time")


class APIUsageError(UsageError):
    """A call the client refuses before sending anything: unknown module, function, key or filter."""


@dataclass(frozen=True)
class Module:
    name: str
    functions: Tuple[str, ...]
    id_key: str  # the primary key: row order, the single-row filter, the key update/delete send
    client_column: Optional[str]  # the column naming the client: our own client_id filter
    filters: Tuple[str, ...] = ()  # GET parameters read.php understands (besides limit/offset)
    # filter -> the row column it compares, so we can check ITFlow's answer ourselves
    filter_columns: Mapping[str, str] = field(default_factory=dict)
    filter_required: bool = False  # read.php answers 400 without one of its filters
    fields: Tuple[str, ...] = ()  # body keys create/update read
    create_required: Tuple[str, ...] = ()  # body keys a create is refused without (besides client_id)
    create_client: str = REQUIRED
    write_extra: Tuple[str, ...] = ()  # body keys every write needs (credentials' decrypt password)

    @property
    def has_id_lookup(self) -> bool:
        return self.id_key in self.filters


_ASSET_FIELDS = (
    "asset_name", "asset_description", "asset_type", "asset_make", "asset_model", "asset_serial",
    "asset_os", "asset_ip", "asset_mac", "asset_uri", "asset_uri_2", "asset_status",
    "asset_purchase_date", "asset_warranty_expire", "asset_install_date", "asset_notes",
    "asset_vendor_id", "asset_location_id", "asset_contact_id", "asset_network_id",
)
_CERTIFICATE_FIELDS = (
    "certificate_name", "certificate_description", "certificate_domain", "certificate_domain_id",
    "certificate_issued_by", "certificate_expire", "certificate_public_key", "certificate_notes",
)
_CLIENT_FIELDS = (
    "client_name", "client_type", "client_website", "client_referral", "client_rate",
    "client_currency_code", "client_net_terms", "client_tax_id_number", "client_abbreviation",
    "client_is_lead", "client_notes",
)
_CONTACT_FIELDS = (
    "contact_name", "contact_title", "contact_department", "contact_email", "contact_phone",
    "contact_extension", "contact_mobile", "contact_notes", "contact_primary", "contact_important",
    "contact_billing", "contact_technical", "contact_location_id",
)
_CREDENTIAL_FIELDS = (
    "credential_name", "credential_description", "credential_uri", "credential_uri_2",
    "credential_username", "credential_password", "credential_otp_secret", "credential_note",
    "credential_favorite", "credential_contact_id", "credential_asset_id", "credential_vendor_id",
    "credential_software_id",
)
_DOCUMENT_FIELDS = ("document_name", "document_description", "document_content", "document_folder_id")
_INVOICE_ITEM_FIELDS = ("invoice_id", "name", "description", "qty", "price", "tax_id", "item_order", "product_id")
_LOCATION_FIELDS = (
    "location_name", "location_description", "location_country", "location_address", "location_city",
    "location_state", "location_zip", "location_hours", "location_notes", "location_primary",
)
_TICKET_REPLY_FIELDS = ("ticket_id", "ticket_reply", "ticket_reply_type", "ticket_reply_time_worked", "ticket_status")
_TICKET_FIELDS = (
    "ticket_subject", "ticket_details", "ticket_priority", "ticket_contact_id", "ticket_asset_id",
    "ticket_vendor_id", "ticket_vendor_ticket_id", "ticket_assigned_to", "ticket_billable",
)


def _module(name: str, functions: str, id_key: str, client_column: Optional[str], filters: str = "",
            **kwargs: Any) -> Module:
    return Module(name, tuple(functions.split()), id_key, client_column, tuple(filters.split()), **kwargs)


MODULES: Dict[str, Module] = {m.name: m for m in (
    _module("assets", "create delete read update", "asset_id", "asset_client_id",
            "asset_id asset_type asset_name asset_serial asset_mac asset_uri asset_uri_2",
            fields=_ASSET_FIELDS, create_required=("asset_name",)),
    _module("certificates", "create read", "certificate_id", "certificate_client_id",
            "certificate_id certificate_name", fields=_CERTIFICATE_FIELDS,
            create_required=("certificate_name", "certificate_domain")),
    _module("clients", "archive create read unarchive update", "client_id", "client_id", "client_name",
            fields=_CLIENT_FIELDS, create_required=("client_name",), create_client=FORBIDDEN),
    _module("contacts", "archive create delete read unarchive update", "contact_id", "contact_client_id",
            "contact_id contact_email contact_phone_or_mobile", fields=_CONTACT_FIELDS,
            create_required=("contact_name", "contact_email")),
    _module("credentials", "create read update", "credential_id", "credential_client_id", "credential_id",
            fields=_CREDENTIAL_FIELDS, create_required=("credential_name", "credential_password"),
            create_client=OPTIONAL, write_extra=("api_key_decrypt_password",)),
    _module("documents", "create read update", "document_id", "document_client_id", "document_id",
            fields=_DOCUMENT_FIELDS, create_required=("document_name", "document_content"),
            create_client=OPTIONAL),
    _module("domains", "read", "domain_id", "domain_client_id", "domain_id domain_name"),
    _module("expenses", "read", "expense_id", "expense_client_id", "expense_id"),
    _module("invoice_items", "create read", "item_id", None, "item_id invoice_id",
            filter_columns={"invoice_id": "item_invoice_id"}, filter_required=True,
            fields=_INVOICE_ITEM_FIELDS, create_required=("invoice_id", "name", "qty"), create_client=OPTIONAL),
    _module("invoices", "read", "invoice_id", "invoice_client_id", "invoice_id"),
    _module("locations", "create read", "location_id", "location_client_id", "location_id",
            fields=_LOCATION_FIELDS, create_required=("location_name",)),
    _module("networks", "read", "network_id", "network_client_id", "network_id network_name"),
    _module("products", "read", "product_id", None, "product_id"),
    _module("quotes", "read", "quote_id", "quote_client_id", "quote_id"),
    _module("software", "read", "software_id", "software_client_id",
            "software_id software_key software_license software_name software_type"),
    _module("technicians", "time", "ticket_id", "client_id", "year month technician_id"),
    _module("ticket_replies", "create read", "ticket_reply_id", "ticket_client_id",
            "ticket_reply_id ticket_id type include_archived",
            filter_columns={"ticket_id": "ticket_reply_ticket_id"},
            fields=_TICKET_REPLY_FIELDS, create_required=("ticket_id", "ticket_reply"), create_client=OPTIONAL),
    _module("tickets", "create read resolve", "ticket_id", "ticket_client_id", "ticket_id",
            fields=_TICKET_FIELDS, create_required=("ticket_subject",), create_client=OPTIONAL),
    _module("vendors", "read", "vendor_id", "vendor_client_id", "vendor_id"),
)}


def module(name: str) -> Module:
    """The module called ``name``; an unknown one fails with the list of valid ones."""
    try:
        return MODULES[name]
    except (KeyError, TypeError):
        raise APIUsageError("ITFlow has no API module %r; the modules are: %s"
                            % (name, ", ".join(sorted(MODULES)))) from None


def function(module_name: str, name: str) -> Module:
    """The module, after checking it has ``name``; an unknown function fails with the valid ones."""
    spec = module(module_name)
    if name not in spec.functions:
        raise APIUsageError("ITFlow's %s module has no function %r; it has: %s"
                            % (spec.name, name, ", ".join(spec.functions)))
    return spec
