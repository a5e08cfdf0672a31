"""The exception hierarchy: every failure the bridge raises on purpose.

Callers catch the broad classes (``ITFlowError``, ``AGIError``); the CLI maps
them to exit codes and one-line messages.  No message ever contains the API key:
HTTP failures are built from redacted URLs (see ``itflow_bridge.core.redact``).
"""


class BridgeError(Exception):
    """Base class of everything the bridge raises on purpose."""


class ConfigError(BridgeError):
    """A configuration value is missing or invalid; the message names the key."""


class UsageError(BridgeError, ValueError):
    """A request refused before anything is sent: a bad id, an unknown module, a missing field."""


# --- ITFlow ---------------------------------------------------------------


class ITFlowError(BridgeError):
    """Talking to ITFlow failed."""


class ITFlowUnavailable(ITFlowError):
    """ITFlow could not be reached or did not answer usefully (network, 5xx, timeout)."""


class ITFlowTimeout(ITFlowUnavailable):
    """ITFlow did not answer in time: an HTTP request timed out (or, as ``BudgetExceeded``, a call's budget ran out)."""


class BudgetExceeded(ITFlowTimeout):
    """A call's time budget ran out before ITFlow's answer came; the request itself goes on.

    A kind of ``ITFlowTimeout``, so code that answers "ITFlow too slow" handles both.
    """


class ITFlowTLSError(ITFlowUnavailable):
    """TLS with ITFlow failed: fail closed.

    ``reason`` is one of ``certificate`` (it did not verify: self-signed, expired, another
    name), ``not_tls`` (the port answers something that is not TLS, such as plain HTTP),
    ``handshake`` (any other refusal), so that advice fits the cause.
    """

    def __init__(self, message: str, reason: str = "certificate"):
        super().__init__(message)
        self.reason = reason


class ITFlowAuthError(ITFlowError):
    """ITFlow refused the API key.

    ``reason`` is one of ``missing``, ``invalid`` (wrong or expired),
    ``not_tied_to_user`` (old key after an upgrade), ``user_invalid`` (its user is
    archived, inactive or deleted), ``forbidden``.
    """

    def __init__(self, message: str, reason: str = "invalid"):
        super().__init__(message)
        self.reason = reason


class ITFlowResponseError(ITFlowError):
    """ITFlow answered with something the bridge cannot parse."""


class ITFlowNotSupported(ITFlowError):
    """The ITFlow API generation in use cannot answer this question."""


class ITFlowAPIMissing(ITFlowError):
    """No ITFlow API (of the generation asked for) answers at the configured URL."""


class ITFlowNotFound(ITFlowError):
    """ITFlow has no record with the id asked for."""


class ITFlowMethodError(ITFlowResponseError):
    """ITFlow refused the request method (HTTP 405: GET to a write endpoint, POST to a read)."""


class ITFlowWriteRefused(ITFlowError):
    """ITFlow authenticated the key but did not create, change or delete anything.

    ``keys`` are the body keys that were sent (never their values).
    """

    def __init__(self, message: str, keys: "tuple[str, ...] | list[str]" = ()):
        super().__init__(message)
        self.keys = tuple(keys)


# --- AGI ------------------------------------------------------------------


class AGIError(BridgeError):
    """An AGI conversation with Asterisk failed."""


class AGIHangup(AGIError):
    """The channel hung up (HANGUP line, SIGHUP, EOF, or 511 on a dead channel)."""


class AGICommandError(AGIError):
    """Asterisk rejected a command (510 unknown command, 520 usage)."""

    def __init__(self, message: str, code: "int | None" = None):
        super().__init__(message)
        self.code = code
