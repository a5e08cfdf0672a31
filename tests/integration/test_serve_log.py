"""``itflow-bridge serve`` says once where it listens, and which scripts it serves."""

import signal

from serve_process import start_serve, stop


def test_the_daemon_says_once_where_it_listens(fake_itflow, tmp_path):
    proc, port, seen = start_serve(fake_itflow, tmp_path, "[directory]\nsync_interval = 0\n")
    try:
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        stop(proc)
    log = "".join(seen) + rest.decode("utf-8", "replace")
    listening = [line for line in log.splitlines() if "listening" in line]
    assert len(listening) == 1, log
    assert "127.0.0.1:%d" % port in listening[0]
    assert any("itflow-cid.agi" in line and "itflow-balance.agi" in line for line in log.splitlines()), log
