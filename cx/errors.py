"""One error hierarchy for the product; every message says what went wrong and what to do."""

from __future__ import annotations


class CxError(Exception):
    """Base of every error the product raises on purpose (shown to users as a message, never a traceback)."""


class ConfigError(CxError):
    """A setting or configuration file is invalid."""


class StoreError(CxError):
    """The database cannot be reached or its schema is not what this version expects."""


class AuthError(CxError):
    """Sign-in failed (the message never says whether the account exists)."""


class AccountLockedError(AuthError):
    """Too many failed sign-ins: the account is locked for a while."""


class PermissionDenied(CxError):
    """The signed-in role may not do this."""


class NotFoundError(CxError):
    """A requested object does not exist (or is not visible to this role)."""


class ValidationError(CxError):
    """User input (a form, a rule, a mapping file) is invalid; ``problems`` lists every issue found."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message if not self.problems else f"{message}: " + "; ".join(self.problems))


class ConflictError(CxError):
    """A change was based on a stale version of the object; reload and apply it again."""


class EtlError(CxError):
    """An ETL job cannot continue."""


class SchemaDriftError(EtlError):
    """A source file's columns or types differ from what its mapping expects."""


class QuarantineLimitError(EtlError):
    """Too large a share of a batch failed validation."""


class RuleConfigError(ValidationError):
    """An alert rule is invalid."""
