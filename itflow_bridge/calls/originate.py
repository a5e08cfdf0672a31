"""Placing a call from an extension's phone to a number: the manager's ``Originate`` action.

Asterisk first rings ``Channel`` (the agent's own phone, through the dialplan)
and, once it is picked up, sends it to ``Exten`` in ``Context`` (the number).
The defaults are FreePBX's: ``Local/{ext}@originate-skipvm`` rings the extension
as an internal call would, but never lets its voicemail answer (FreePBX's own
click to call uses it: a voicemail that answered would count as picked up, and
the number would be dialled into it), and ``from-internal`` dials out with the
extension's own outbound routes.  The manager user needs only ``write = originate``: an
async Originate's "queued" response comes without any read class.  Each call is
a short manager session of its own (log in, Originate, log off): clicks are
rare, and nothing stays open that could go stale.
"""

from __future__ import annotations

import logging
import re
from typing import Callable, List, Tuple

from ..core.config import (
    DEFAULT_ORIGINATE_CHANNEL,
    DEFAULT_ORIGINATE_CONTEXT,
    ORIGINATE_EXTENSION_FIELD,
    check_dialplan_context,
    check_originate_channel,
)
from .ami import AMIClient

log = logging.getLogger(__name__)

RING_TIMEOUT_MS = 30000  # how long the agent's phone rings before the attempt is given up
CLICK_VARIABLE = "ITFLOW_CLICK_TO_CALL"  # set to 1 on the call: the dialplan can tell a click from a dial
_DIAL_NUMBER = re.compile(r"\+?[0-9]{3,20}")
_EXTENSION = re.compile(r"[0-9A-Za-z_.+*#-]{1,32}")


def originate_headers(extension: str, number: str, channel_template: str = DEFAULT_ORIGINATE_CHANNEL,
                      context: str = DEFAULT_ORIGINATE_CONTEXT) -> List[Tuple[str, str]]:
    """The Originate action's headers that ring ``extension`` and then dial ``number`` (a cleaned number)."""
    if not _EXTENSION.fullmatch(extension):
        raise ValueError("%r is not an extension" % extension)
    if not _DIAL_NUMBER.fullmatch(number):
        raise ValueError("%r is not a cleaned phone number" % number)
    return [
        ("Channel", check_originate_channel(channel_template).replace(ORIGINATE_EXTENSION_FIELD, extension)),
        ("Context", check_dialplan_context(context)),
        ("Exten", number),
        ("Priority", "1"),
        # What the agent's phone shows while it rings: where the call will go.
        ("CallerID", '"Call to %s" <%s>' % (number, extension)),
        ("Timeout", str(RING_TIMEOUT_MS)),
        ("Variable", "%s=1" % CLICK_VARIABLE),
        ("Async", "true"),
    ]


ClientFactory = Callable[..., AMIClient]


class Originator:
    """Places calls with the originate-only manager user (``[calls] originate_user``)."""

    def __init__(self, host: str, port: int, username: str, secret: str, *,
                 channel_template: str = DEFAULT_ORIGINATE_CHANNEL, context: str = DEFAULT_ORIGINATE_CONTEXT,
                 timeout: float = 5.0, client_factory: ClientFactory = AMIClient) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._secret = secret
        self.channel_template = check_originate_channel(channel_template)
        self.context = check_dialplan_context(context)
        self.timeout = timeout
        self._client_factory = client_factory

    def __repr__(self) -> str:
        return "Originator(%s@%s:%d)" % (self.username, self.host, self.port)

    def call(self, extension: str, number: str) -> None:
        """Ring ``extension``, then dial ``number``; raises AMIError when Asterisk cannot be asked."""
        headers = originate_headers(extension, number, self.channel_template, self.context)
        client = self._client_factory(self.host, self.port, self.username, self._secret, timeout=self.timeout,
                                      ping_interval=None, backoff=(self.timeout,), events="off")
        client.connect()
        try:
            client.send_action("Originate", headers)
        finally:
            client.close()
        log.info("click to call: extension %s rings, then dials %s", extension, number)
