"""What the fake knows of ITFlow 26.08's database beyond the dataset: tables, defaults, seeded rows.

``TABLES``: the columns, in ``db.sql`` order, and defaults of every table the JSON
API writes (None is NULL, ``NOW`` the time of the insert); a ``SELECT *`` of a
fake row has these columns in this order.  ``TICKET_STATUSES`` and the users
are what ITFlow's setup creates, used when the dataset has no such table.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from .php import Dataset, Row

NOW = "NOW"

# Columns and defaults of the tables written (db.sql of 26.08): None is NULL, NOW the insert time.
TABLES: Dict[str, Dict[str, Optional[str]]] = {
    'assets': {
        'asset_id': '', 'asset_type': '', 'asset_name': '', 'asset_description': None, 'asset_make': '',
        'asset_model': None, 'asset_serial': None, 'asset_os': None, 'asset_uri': None, 'asset_uri_2': None,
        'asset_uri_client': None, 'asset_status': None, 'asset_purchase_reference': None,
        'asset_purchase_date': None, 'asset_warranty_expire': None, 'asset_install_date': None,
        'asset_photo': None, 'asset_physical_location': None, 'asset_notes': None, 'asset_favorite': '0',
        'asset_created_at': 'NOW', 'asset_updated_at': None, 'asset_archived_at': None,
        'asset_accessed_at': None, 'asset_vendor_id': '0', 'asset_location_id': '0', 'asset_contact_id': '0',
        'asset_client_id': '0',
    },
    'asset_interfaces': {
        'interface_id': '', 'interface_name': '', 'interface_description': None, 'interface_type': None,
        'interface_mac': None, 'interface_ip': None, 'interface_nat_ip': None, 'interface_ipv6': None,
        'interface_notes': None, 'interface_primary': '0', 'interface_created_at': 'NOW',
        'interface_updated_at': None, 'interface_archived_at': None, 'interface_network_id': None,
        'interface_asset_id': '',
    },
    'certificates': {
        'certificate_id': '', 'certificate_name': '', 'certificate_description': None,
        'certificate_domain': None, 'certificate_issued_by': '', 'certificate_expire': None,
        'certificate_public_key': None, 'certificate_notes': None, 'certificate_favorite': '0',
        'certificate_created_at': 'NOW', 'certificate_updated_at': None, 'certificate_archived_at': None,
        'certificate_accessed_at': None, 'certificate_domain_id': '0', 'certificate_client_id': '0',
    },
    'clients': {
        'client_id': '', 'client_lead': '0', 'client_name': '', 'client_type': None, 'client_website': None,
        'client_referral': None, 'client_rate': None, 'client_currency_code': '', 'client_net_terms': '',
        'client_tax_id_number': None, 'client_abbreviation': None, 'client_notes': None,
        'client_favorite': '0', 'client_created_at': 'NOW', 'client_updated_at': None,
        'client_archived_at': None, 'client_accessed_at': None,
    },
    'contacts': {
        'contact_id': '', 'contact_name': '', 'contact_title': None, 'contact_email': None,
        'contact_phone_country_code': None, 'contact_phone': None, 'contact_extension': None,
        'contact_mobile_country_code': None, 'contact_mobile': None, 'contact_photo': None,
        'contact_pin': None, 'contact_notes': None, 'contact_primary': '0', 'contact_important': '0',
        'contact_billing': '0', 'contact_technical': '0', 'contact_created_at': 'NOW',
        'contact_updated_at': None, 'contact_archived_at': None, 'contact_accessed_at': None,
        'contact_location_id': '0', 'contact_vendor_id': '0', 'contact_user_id': '0',
        'contact_department': None, 'contact_client_id': '0',
    },
    'credentials': {
        'credential_id': '', 'credential_name': '', 'credential_description': None,
        'credential_category': None, 'credential_uri': None, 'credential_uri_2': None,
        'credential_username': None, 'credential_password': None, 'credential_otp_secret': None,
        'credential_note': None, 'credential_favorite': '0', 'credential_created_at': 'NOW',
        'credential_updated_at': None, 'credential_archived_at': None, 'credential_accessed_at': None,
        'credential_password_changed_at': 'NOW', 'credential_folder_id': '0', 'credential_contact_id': '0',
        'credential_asset_id': '0', 'credential_client_id': '0',
    },
    'documents': {
        'document_id': '', 'document_name': '', 'document_description': None, 'document_content': '',
        'document_content_raw': '', 'document_client_visible': '1', 'document_favorite': '0',
        'document_created_at': 'NOW', 'document_updated_at': None, 'document_archived_at': None,
        'document_accessed_at': None, 'document_folder_id': '0', 'document_created_by': '0',
        'document_updated_by': '0', 'document_client_id': '0',
    },
    'invoice_items': {
        'item_id': '', 'item_name': '', 'item_description': None, 'item_quantity': '0.00',
        'item_price': '0.00', 'item_subtotal': '0.00', 'item_tax': '0.00', 'item_total': '0.00',
        'item_order': '0', 'item_created_at': 'NOW', 'item_updated_at': None, 'item_archived_at': None,
        'item_tax_id': '0', 'item_product_id': '0', 'item_invoice_id': '0',
    },
    'locations': {
        'location_id': '', 'location_name': '', 'location_description': None, 'location_country': None,
        'location_address': None, 'location_city': None, 'location_state': None, 'location_zip': None,
        'location_phone_country_code': None, 'location_phone': None, 'location_phone_extension': None,
        'location_fax_country_code': None, 'location_fax': None, 'location_hours': None,
        'location_photo': None, 'location_primary': '0', 'location_notes': None, 'location_favorite': '0',
        'location_created_at': 'NOW', 'location_updated_at': None, 'location_archived_at': None,
        'location_accessed_at': None, 'location_contact_id': '0', 'location_client_id': '0',
    },
    'tickets': {
        'ticket_id': '', 'ticket_prefix': None, 'ticket_number': '', 'ticket_source': None,
        'ticket_category': None, 'ticket_subject': '', 'ticket_details': '', 'ticket_priority': None,
        'ticket_status': '', 'ticket_sla_id': '0', 'ticket_billable': '0', 'ticket_schedule': None,
        'ticket_onsite': '0', 'ticket_vendor_ticket_number': None, 'ticket_feedback': None,
        'ticket_url_key': None, 'ticket_created_at': 'NOW', 'ticket_updated_at': None, 'ticket_due_at': None,
        'ticket_resolved_at': None, 'ticket_archived_at': None, 'ticket_first_response_at': None,
        'ticket_response_due_at': None, 'ticket_resolution_due_at': None, 'ticket_response_sla_met': None,
        'ticket_resolution_sla_met': None, 'ticket_response_sla_alert_stage': '0',
        'ticket_resolution_sla_alert_stage': '0', 'ticket_closed_at': None, 'ticket_created_by': '',
        'ticket_assigned_to': '0', 'ticket_closed_by': '0', 'ticket_vendor_id': '0', 'ticket_client_id': '0',
        'ticket_contact_id': '0', 'ticket_location_id': '0', 'ticket_asset_id': '0', 'ticket_quote_id': '0',
        'ticket_invoice_id': '0', 'ticket_project_id': '0', 'ticket_recurring_ticket_id': '0',
        'ticket_order': '0',
    },
    'ticket_replies': {
        'ticket_reply_id': '', 'ticket_reply': '', 'ticket_reply_type': '', 'ticket_reply_time_worked': None,
        'ticket_reply_created_at': 'NOW', 'ticket_reply_updated_at': None, 'ticket_reply_archived_at': None,
        'ticket_reply_by': '', 'ticket_reply_ticket_id': '',
    },
}
DECIMAL_COLUMNS = frozenset({
    "client_rate", "item_quantity", "item_price", "item_subtotal", "item_tax", "item_total", "invoice_amount",
})

# setup/seed_data.php: the ticket statuses every ITFlow starts with (tickets.ticket_status points here).
TICKET_STATUSES: List[Row] = [
    {"ticket_status_id": str(number), "ticket_status_name": name, "ticket_status_color": color,
     "ticket_status_active": "1", "ticket_status_pauses_sla": "0", "ticket_status_order": "0"}
    for number, (name, color) in enumerate((
        ("New", "#dc3545"), ("Open", "#007bff"), ("On Hold", "#28a745"), ("Resolved", "#343a40"),
        ("Closed", "#343a40")), start=1)
]

API_USER_ID = 1  # the user the API key acts as: the administrator setup created
DEFAULT_USERS: List[Row] = [{"user_id": "1", "user_name": "Administrator"}]


def rows_or_default(data: Dataset, table: str, default: List[Row]) -> List[Row]:
    """The dataset's table, or ITFlow's seeded rows when the dataset has none."""
    rows: List[Row] = data.get(table) or default
    return rows
