"""Erased customers' identifiers as salted hashes, and the one-value normalisation they are hashed in.

The ETL normalises whole columns (etl/normalise.py); cx may not import etl, so this module normalises one value
at a time the same way (phones to E.164 with ``phonenumbers``, e-mails trimmed and lower-cased, other ids trimmed).
A test checks that both give the same result for the sample formats.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from cx.app_secrets import stored_secret
from cx.models import AppSetting, Suppression
from cx.schema import STRONG_IDENTIFIERS

SALT_KEY: Final = "suppression_salt"
#: Characters a typed phone number may contain besides digits (full-width forms are folded by NFKC first).
_PHONE_CHARS = re.compile(r"^[\d\s+\-().\[\]/~]+$")


def normalise_phone(value: str | None, region: str = "CN") -> str | None:
    """``138 0013 8000``, ``+86-138-0013-8000``, ``008613800138000``, full-width digits -> ``+8613800138000``.

    None when the value is not a valid phone number (the ETL keeps such text as it is, but never links on it).
    """
    if value is None:
        return None
    return parse_e164(unicodedata.normalize("NFKC", str(value)).strip(), region)


def parse_e164(text: str, region: str = "CN") -> str | None:
    """Prepared (trimmed) text as E.164 when ``phonenumbers.parse(text, region)`` gives a valid number, else None
    (also for empty text)."""
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def looks_like_phone(value: str) -> bool:
    """Digits and the separators people type between them (so a WeChat id is never read as a phone)."""
    return bool(_PHONE_CHARS.match(unicodedata.normalize("NFKC", value).strip()))


def normalise_email(value: str | None) -> str | None:
    """NFKC, trimmed and lower-cased (as etl.normalise.email_expr); None when empty."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    return text or None


def normalise_plain(value: str | None) -> str | None:
    """WeChat, device, CRM, member ids and social handles: kept as they are, only trimmed."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def normalise(id_type: str, value: str | None, region: str = "CN") -> str | None:
    """The normalised form of one identifier of ``id_type`` (one of cx.schema.STRONG_IDENTIFIERS)."""
    if id_type == "phone":
        return normalise_phone(value, region)
    if id_type == "email":
        return normalise_email(value)
    return normalise_plain(value)


# --------------------------------------------------------------------------------------------- hashing


def suppression_salt(session: Session) -> str:
    """The store-wide salt of the suppression list (created once, like the session secret)."""
    return stored_secret(session, SALT_KEY)


def hash_identifier(salt: str, id_type: str, normalised: str) -> str:
    """Salted SHA-256 of a normalised identifier, tagged with its type (64 hex characters)."""
    return hashlib.sha256(f"{salt}\x1f{id_type}\x1f{normalised}".encode()).hexdigest()


@dataclass(frozen=True)
class SuppressionSet:
    """What the ETL needs to drop erased customers' records: the salt and the hashes (no personal data)."""

    salt: str
    hashes: frozenset[str] = field(default_factory=frozenset)
    #: The identifier types that occur in the list (only these columns need hashing).
    id_types: frozenset[str] = field(default_factory=frozenset)

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def __len__(self) -> int:
        return len(self.hashes)

    def contains(self, id_type: str, normalised: str | None) -> bool:
        return normalised is not None and hash_identifier(self.salt, id_type, normalised) in self.hashes


def suppressed(session: Session) -> SuppressionSet:
    """The suppression list as loaded by an ETL run (hashes only; empty when nobody was erased)."""
    rows = session.execute(select(Suppression.value_hash, Suppression.id_type)).all()
    if not rows:
        existing = session.get(AppSetting, SALT_KEY)
        return SuppressionSet(salt=existing.value if existing else "")
    return SuppressionSet(
        salt=suppression_salt(session),
        hashes=frozenset(row[0] for row in rows),
        id_types=frozenset(row[1] for row in rows),
    )


def add_to_suppression(session: Session, identifiers: Iterable[tuple[str, str]]) -> int:
    """Add (id_type, normalised value) pairs as salted hashes; returns how many were new."""
    salt = suppression_salt(session)
    wanted = {
        hash_identifier(salt, id_type, value): id_type
        for id_type, value in identifiers
        if id_type in STRONG_IDENTIFIERS and value
    }
    if not wanted:
        return 0
    present = set(session.scalars(select(Suppression.value_hash).where(Suppression.value_hash.in_(list(wanted)))))
    new = [Suppression(value_hash=h, id_type=t) for h, t in wanted.items() if h not in present]
    session.add_all(new)
    session.flush()
    return len(new)
