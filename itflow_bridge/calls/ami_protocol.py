"""The Asterisk Manager Interface wire format: messages in, actions out.

Kept apart from the socket so it can be tested on any byte split.  Asterisk
sends ``Key: Value`` lines ended by CRLF, a message ends with an empty line, a
key may repeat, and values are bytes in no promised encoding (decoded with
replacement, never an exception).  ``OriginateResponse`` carries both ``Event:``
and ``Response:``, so a message is an event whenever it has ``Event:``.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence, Tuple

# One message larger than this is not AMI: drop it rather than grow without bound.
MAX_MESSAGE_BYTES = 1 << 20


class Message:
    """One AMI message: its ``Key: Value`` pairs in order (keys may repeat)."""

    __slots__ = ("pairs", "_first")

    def __init__(self, pairs: Sequence[Tuple[str, str]]) -> None:
        self.pairs: Tuple[Tuple[str, str], ...] = tuple(pairs)
        first: Dict[str, str] = {}
        for key, value in self.pairs:
            first.setdefault(key.lower(), value)
        self._first = first

    def get(self, key: str, default: str = "") -> str:
        """The first value of ``key`` (case-insensitive), else ``default``."""
        return self._first.get(key.lower(), default)

    def get_all(self, key: str) -> List[str]:
        """Every value of ``key``, in order."""
        wanted = key.lower()
        return [value for name, value in self.pairs if name.lower() == wanted]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._first

    @property
    def event(self) -> Optional[str]:
        """The event name, or None for a response."""
        return self._first.get("event")

    @property
    def is_event(self) -> bool:
        return "event" in self._first

    @property
    def is_response(self) -> bool:
        return "response" in self._first and "event" not in self._first

    @property
    def action_id(self) -> str:
        return self.get("ActionID")

    def __repr__(self) -> str:
        return "Message(%r)" % (self.pairs,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and other.pairs == self.pairs

    def __hash__(self) -> int:
        return hash(self.pairs)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _parse_block(block: bytes) -> Optional[Message]:
    pairs = []
    for raw_line in block.split(b"\n"):
        line = _decode(raw_line.rstrip(b"\r"))
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            continue  # not a header line: noise in the stream, skipped
        pairs.append((key.strip(), value[1:] if value.startswith(" ") else value))
    return Message(pairs) if pairs else None


class MessageParser:
    """Turns received bytes into messages, however the bytes were split.

    Accepts CRLF (what Asterisk sends) and bare LF line ends.  ``banner`` is set
    from the first line when ``expect_banner`` is true.
    """

    def __init__(self, expect_banner: bool = False) -> None:
        self._buffer = b""
        self._expect_banner = expect_banner
        self.banner: Optional[str] = None
        self.dropped = 0

    def feed(self, data: bytes) -> List[Message]:
        self._buffer += data
        if self._expect_banner:
            line, sep, rest = self._buffer.partition(b"\n")
            if not sep:
                return []
            self.banner = _decode(line.rstrip(b"\r"))
            self._expect_banner = False
            self._buffer = rest
        messages: List[Message] = []
        while True:
            end, skip = _message_end(self._buffer)
            if end < 0:
                if len(self._buffer) > MAX_MESSAGE_BYTES:
                    self._buffer = b""
                    self.dropped += 1
                return messages
            block, self._buffer = self._buffer[:end], self._buffer[end + skip:]
            message = _parse_block(block)
            if message is not None:
                messages.append(message)


def _message_end(buffer: bytes) -> Tuple[int, int]:
    """Where the first blank line starts and how long it is: (-1, 0) when none yet."""
    found = [(index, len(mark)) for mark in (b"\r\n\r\n", b"\n\n", b"\n\r\n") for index in (buffer.find(mark),)
             if index >= 0]
    return min(found) if found else (-1, 0)


def parse_stream(data: bytes, expect_banner: bool = False) -> List[Message]:
    """Every message in a whole recorded stream."""
    return MessageParser(expect_banner).feed(data + b"\r\n\r\n")


def encode_action(action: str, action_id: str, headers: Iterable[Tuple[str, str]] = ()) -> bytes:
    """One action as bytes; refuses CR/LF in any key or value (it would inject headers)."""
    lines = [("Action", action), ("ActionID", action_id)] + list(headers)
    out = []
    for key, value in lines:
        for part in (key, value):
            if "\r" in part or "\n" in part:
                raise ValueError("AMI header %r: CR/LF is not allowed in a key or value" % key)
        if not key or ":" in key:
            raise ValueError("AMI header name %r is not valid" % key)
        out.append("%s: %s\r\n" % (key, value))
    return ("".join(out) + "\r\n").encode("utf-8")
