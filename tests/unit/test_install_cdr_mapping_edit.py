"""install: the bridge's mapping in cdr_custom.conf, added once, an admin's lines kept to the byte."""

from __future__ import annotations

from itflow_bridge.calls.cdr import MAPPING_VALUE, mapping_line
from itflow_bridge.install.cdr_custom import MARK, add_mapping

CDR_FILE = "/var/log/asterisk/cdr-custom/itflow-bridge.csv"
OURS = mapping_line(CDR_FILE).encode()
ADMIN = (b"; my billing export\r\n[mappings]\r\nMaster.csv => ${CSV_QUOTE(${CDR(clid)})},${CDR(billsec)}\r\n"
         b"\r\n[other]\r\nx=y")  # CRLF, no final newline


def test_a_fresh_file_gets_a_mappings_section():
    assert add_mapping(b"", CDR_FILE) == b"[mappings]\n" + MARK + b"\n" + OURS + b"\n"
    assert OURS == b"itflow-bridge.csv => " + MAPPING_VALUE.encode()


def test_debian_sample_all_comments_gets_a_section_at_the_end():
    sample = b";\n; Asterisk Call Detail Record Logging (CDR) - Custom DSV Backend\n;[mappings]\n;Master.csv => x\n"
    assert add_mapping(sample, CDR_FILE) == sample + b"[mappings]\n" + MARK + b"\n" + OURS + b"\n"


def test_admin_mappings_are_kept_and_ours_goes_first_in_their_section():
    added = add_mapping(ADMIN, CDR_FILE)
    assert added == ADMIN.replace(b"[mappings]\r\n", b"[mappings]\r\n" + MARK + b"\r\n" + OURS + b"\r\n")


def test_second_run_changes_nothing_and_an_old_mapping_of_ours_is_replaced():
    once = add_mapping(ADMIN, CDR_FILE)
    assert add_mapping(once, CDR_FILE) == once
    older = once.replace(OURS, b"itflow-bridge.csv => ${CSV_QUOTE(${CDR(linkedid)})}")
    assert add_mapping(older, CDR_FILE) == once
    moved = add_mapping(once, "/srv/cdr/calls.csv")
    assert moved.count(MARK) == 1 and b"itflow-bridge.csv =>" not in moved
    assert mapping_line("/srv/cdr/calls.csv").encode() in moved and b"Master.csv =>" in moved
