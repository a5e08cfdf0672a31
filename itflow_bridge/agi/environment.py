"""The AGI environment block (``agi_*: value`` lines up to a blank line).

No imports at all: the classic fast path parses it on every call, before it
knows whether it needs anything else.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Iterable


def parse_env(lines: "Iterable[bytes]") -> "Dict[str, str]":
    """Parse ``key: value`` lines up to the first blank line.

    Values are raw bytes from the channel (a caller name need not be UTF-8), so
    they are decoded with replacement characters instead of raising.  A line
    without a colon is ignored; a missing space after the colon is tolerated.
    """
    env: Dict[str, str] = {}
    for raw_line in lines:
        line = raw_line.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            break
        key, colon, value = line.partition(":")
        if not colon or not key.strip():
            continue
        env[key.strip()] = value[1:] if value.startswith(" ") else value
    return env
