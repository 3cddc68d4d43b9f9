"""The exceptions botex-fleet raises for bad input and unreachable services.

Every error the package raises on purpose derives from :class:`BotexError`, so
callers can catch one family; each message names the problem in one line.
"""


class BotexError(Exception):
    """Base class of every error botex-fleet raises on purpose."""


class ConfigurationError(BotexError, ValueError):
    """A setting is missing, malformed or contradicts another setting."""


class OtreeError(BotexError):
    """The oTree server refused or could not serve a request."""


class OtreeUnreachableError(OtreeError):
    """The oTree server does not answer at its URL."""


class OtreeAuthError(OtreeError):
    """The oTree server rejected the REST key or the admin login."""


class OtreeServerStartError(OtreeError):
    """An oTree server could not be started."""


class DataFormatError(BotexError, ValueError):
    """A data file does not have the shape botex-fleet expects."""


class ParticipantNotFoundError(BotexError, LookupError):
    """A bot was started for a participant the store does not know."""


class DriverError(BotexError):
    """A driver (the browser, for example) could not load or drive a participant's page."""


class StoreUnreachableError(BotexError):
    """The botex database does not answer, or refuses the login."""


class OutputError(BotexError, OSError):
    """An output file or folder cannot be written (a read-only folder, a full disk, ...)."""


class BudgetReached(BotexError):
    """The spend cap of a session or study is reached: no further LLM call starts."""


class BrokerUnreachableError(BotexError):
    """The fleet's broker (Redis) does not answer."""
