"""Numbers every layer must agree on, each stated once.

No imports: the classic fast path and the stdlib-only storage modules may read
it without paying for anything.
"""

MAX_DIGITS = 18
"""The longest number looked up, listed or accepted as an id: PHP's int overflows beyond it."""

FASTAGI_PORT = 4573
"""Asterisk's FastAGI port: where the daemon listens and the dialplan connects unless told otherwise."""

CACHE_MAX_ENTRIES = 20000
"""Caller-ID answers kept in memory ([cache] max_entries); sqlite holds every entry."""

CDR_CUSTOM_DIR = "/var/log/asterisk/cdr-custom"
"""Where Asterisk's cdr_custom writes a mapping whose file has no folder (astlogdir + /cdr-custom)."""

CDR_FILE_NAME = "itflow-bridge.csv"
"""The bridge's CDR file there ([calls] cdr_file), read back by the catch-up."""
