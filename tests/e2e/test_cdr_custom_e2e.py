"""The installer's cdr_custom step on the real Asterisk 22: the module that declined to load without a
mapping loads with the bridge's, a second run reloads it, and a call then lands in the CDR file readable
by the bridge's reader."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from asterisk_harness import AGI_BASE_DIR, AsteriskHarness
from polling import wait_for
from itflow_bridge.calls.cdr import CDR_CUSTOM_DIR, read_cdr
from itflow_bridge.install import cdr_custom
from itflow_bridge.install.asterisk_layout import Account, Layout

pytestmark = pytest.mark.e2e

CDR_FILE = CDR_CUSTOM_DIR + "/itflow-bridge-install-test.csv"
CALL_TIMEOUT = 30.0


def test_mapping_loads_cdr_custom_and_asterisk_writes_what_the_reader_reads(
        asterisk: AsteriskHarness, capsys: pytest.CaptureFixture[str]) -> None:
    layout = Layout(root=asterisk.root, freepbx=False, asterisk_etc="/etc/asterisk", agi_dir=AGI_BASE_DIR,
                    sounds_dir="/usr/share/asterisk/sounds", run_dir="/run/asterisk",
                    account=Account("root", "root", 0, 0), fwconsole=None, asterisk_binary="/usr/sbin/asterisk")
    conf = asterisk.root / "etc/asterisk/cdr_custom.conf"
    original = conf.read_bytes() if conf.exists() else None
    written = asterisk.root / CDR_FILE.lstrip("/")
    written.unlink(missing_ok=True)
    for module in ("func_cdr", "res_cdrel_custom"):  # loaded by autoload on a PBX; this one loads by list
        if list(asterisk.root.glob("usr/lib/*/asterisk/modules/%s.so" % module)):
            asterisk.cli("module load %s.so" % module)
    try:
        asterisk.cli("module unload cdr_custom.so")
        conf.write_bytes(cdr_custom.add_mapping(original or b"", CDR_FILE))
        cdr_custom.load_module(layout)
        assert "module load cdr_custom.so" in capsys.readouterr().out
        assert "cdr_custom.so" in asterisk.cli("module show like cdr_custom")
        cdr_custom.load_module(layout)
        assert "module reload cdr_custom.so" in capsys.readouterr().out

        asterisk.cli("dialplan add extension s,1,Answer, into itflow-cdr-test replace")
        asterisk.cli("dialplan add extension s,2,Wait,1 into itflow-cdr-test replace")
        started = time.time()
        asterisk.cli("channel originate Local/s@itflow-cdr-test application Wait 1")
        wait_for(lambda: written.exists() and bool(read_cdr(Path(written), since=started - 1).records),
                 "a CDR line in %s" % written, CALL_TIMEOUT)
        reading = read_cdr(Path(written), since=started - 1)
        assert reading.garbage_lines == 0
        assert all(record.end >= record.start >= started - 1 for record in reading.records)
    finally:
        if original is None:
            conf.unlink(missing_ok=True)
        else:
            conf.write_bytes(original)
        asterisk.cli("module reload cdr_custom.so")
        written.unlink(missing_ok=True)
