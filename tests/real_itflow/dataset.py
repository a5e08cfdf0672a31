"""The one dataset both the fake and the real ITFlow serve in the contract tier.

It is the sample dataset (``sample_itflow.json``, what the fake, the demo and the
other tiers use) plus a few rows stored the way current ITFlow's forms store
international numbers: digits only, the country code in the ``*_country_code``
column, a national number keeping its trunk 0 when typed with it.  On legacy
ITFlow (no country-code columns) the same rows hold just the digits.  ``users``
names the administrator real ITFlow's setup creates (the key acts as that user).
"""

from __future__ import annotations

from itflow_bridge.sample.fake_itflow import load_sample_data

from real_itflow.harness import ADMIN_NAME

_CONTACT_DEFAULTS = {
    "contact_title": None, "contact_extension": "", "contact_photo": None, "contact_pin": "",
    "contact_notes": "", "contact_primary": "0", "contact_important": "0", "contact_billing": "0",
    "contact_technical": "0", "contact_created_at": "2024-01-15 09:30:00", "contact_updated_at": None,
    "contact_archived_at": None, "contact_accessed_at": None, "contact_location_id": "0",
    "contact_vendor_id": "0", "contact_user_id": "0", "contact_department": None,
}

# (id, name, email, phone cc, phone, mobile cc, mobile, pin, client)
EXTRA_CONTACTS = (
    ("68", "Klaus Weber", "klaus@mueller.example", "49", "0301234567", "49", "01511234567", "4711", "3"),
    ("69", "Fiona Byrne", "fiona@obrien.example", "353", "214567890", "44", "7700900123", "", "2"),
)

EXTRA_LOCATIONS = (
    # (id, name, phone cc, phone, client)
    ("4", "Müller Lager", "49", "0897654321", "3"),
)


def contract_dataset() -> dict:
    data = load_sample_data()
    data["users"] = [{"user_id": "1", "user_name": ADMIN_NAME}]  # the administrator setup made, whose key is used
    template_contact = dict(data["contacts"][0])
    for cid, name, email, phone_cc, phone, mobile_cc, mobile, pin, client in EXTRA_CONTACTS:
        row = dict(template_contact, **_CONTACT_DEFAULTS)
        row.update({
            "contact_id": cid, "contact_name": name, "contact_email": email,
            "contact_phone_country_code": phone_cc, "contact_phone": phone,
            "contact_mobile_country_code": mobile_cc, "contact_mobile": mobile, "contact_pin": pin,
            "contact_client_id": client,
        })
        data["contacts"].append({key: row[key] for key in template_contact})
    template_location = dict(data["locations"][0])
    for lid, name, phone_cc, phone, client in EXTRA_LOCATIONS:
        row = dict(template_location)
        row.update({
            "location_id": lid, "location_name": name, "location_country": "Germany",
            "location_address": "Hafenstraße 1", "location_city": "München", "location_state": "",
            "location_zip": "80331", "location_phone_country_code": phone_cc, "location_phone": phone,
            "location_primary": "0", "location_client_id": client,
        })
        data["locations"].append(row)
    return data
