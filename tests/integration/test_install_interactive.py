"""``install`` on a terminal: the ITFlow address and key are asked for, an empty answer is refused, Ctrl-D cancels."""

from __future__ import annotations

import os
import pty
import select
import sys


from install_run import NEEDS_ROOT


from test_install_prefix import pbx  # noqa: F401 - pbx is a fixture

pytestmark = NEEDS_ROOT


class Terminal:
    """``itflow-bridge install`` run on a pseudo-terminal (its controlling terminal, as getpass wants)."""

    def __init__(self, root) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ITFLOW_")}
        argv = [sys.executable, "-m", "itflow_bridge.cli", "install", "--prefix", str(root)]
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child
            os.execve(sys.executable, argv, env)
        self.output = ""

    def read_until(self, text: str, timeout: float = 60, times: int = 1) -> str:
        """What the terminal said, once it has said ``text`` ``times`` times."""
        while self.output.count(text) < times:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            assert ready, "no %r on the terminal; it says: %s" % (text, self.output)
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            assert chunk, "the terminal closed before %r; it says: %s" % (text, self.output)
            self.output += chunk.decode(errors="replace")
        return self.output

    def type(self, data: bytes) -> None:
        os.write(self.fd, data)

    def exit_code(self) -> int:
        while True:  # drain what is left so the child never blocks on a full terminal
            try:
                if not os.read(self.fd, 4096):
                    break
            except OSError:
                break
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)


def test_empty_answers_are_asked_again_and_never_installed(pbx):  # noqa: F811
    terminal = Terminal(pbx)
    terminal.read_until("ITFlow base URL")
    terminal.type(b"\r")
    terminal.read_until("an address is needed")
    terminal.type(b"\x04")  # then Ctrl-D
    terminal.read_until("install cancelled")
    assert terminal.exit_code() == 3
    assert not (pbx / "etc/itflow-bridge/itflow-bridge.conf").exists()
    assert "internal error" not in terminal.output


def test_an_empty_key_is_refused(pbx, fake_itflow):  # noqa: F811
    terminal = Terminal(pbx)
    terminal.read_until("ITFlow base URL")
    terminal.type(fake_itflow.url.encode() + b"\r")
    for asked in range(1, 4):  # getpass drops what is typed ahead: answer each question once it is asked
        terminal.read_until("API key (not shown)", times=asked)
        terminal.type(b"\r")
    terminal.read_until("install cancelled")
    assert terminal.exit_code() == 3
    assert not (pbx / "etc/itflow-bridge/itflow-bridge.conf").exists()


def test_ctrl_d_cancels_with_one_line(pbx):  # noqa: F811
    terminal = Terminal(pbx)
    terminal.read_until("ITFlow base URL")
    terminal.type(b"\x04")
    terminal.read_until("install cancelled")
    assert terminal.exit_code() == 3
    assert "internal error" not in terminal.output and "EOFError" not in terminal.output
    assert not (pbx / "etc/itflow-bridge/itflow-bridge.conf").exists()
