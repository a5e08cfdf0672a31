"""The unit tier stays in one process and off the network.

Unit tests exercise code with in-memory fakes; anything that starts a process
or opens a socket belongs in ``tests/integration`` (and the type checker in
``tests/static``).  This fixture makes such a test fail at once, naming what it
tried, instead of letting the tier quietly grow slow and machine-dependent.
``socket.socketpair`` stays allowed: it is an in-process pipe, not the network.
"""

from __future__ import annotations

import socket
import subprocess
from typing import Any, Iterator, NoReturn

import pytest


class UnitTierViolation(AssertionError):
    """A unit test started a process or used the network."""


def _refuse(what: str) -> Any:
    def refused(*args: Any, **kwargs: Any) -> NoReturn:
        raise UnitTierViolation("%s in a unit test: move the test to tests/integration" % what)

    return refused


@pytest.fixture(autouse=True)
def no_processes_or_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse("subprocess.Popen"))
    for method in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, method, _refuse("socket.%s" % method))
    yield
