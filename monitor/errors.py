"""The project's one exception hierarchy: every error a user can meet names what was wrong and where."""

from __future__ import annotations


class IloMonitorError(Exception):
    """Base of every error raised on purpose by ilo-monitor."""


class ConfigurationError(IloMonitorError):
    """A setting (environment variable, option, configuration file) is missing or malformed.

    Raised at start-up by `monitor.settings` and the CLI, before any work is done.
    """


class ContractError(IloMonitorError):
    """A notice does not meet the notice contract; `field` names the offending key.

    Raised by `monitor.contract.from_record` (manual JSON input) and the validation pipeline.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InputError(IloMonitorError):
    """A file given to `import` (or a downloaded document) cannot be read as a notice.

    `origin` names the file (or URL, or archive member) so that the summary can say which.
    Raised by the parsers in `monitor.parsers` and by `monitor.importer`.
    """

    def __init__(self, origin: str, reason: str) -> None:
        super().__init__(f"{origin}: {reason}")
        self.origin = origin
        self.reason = reason


class UnsafeXMLError(InputError):
    """An XML document declares a DTD or entities (XXE, entity expansion): refused before parsing."""


class UnknownSchemaError(InputError):
    """An XML document parses but is neither eForms nor TED XML R2.0.8/R2.0.9."""
