"""Single sign-on: map an OpenID Connect identity (``st.user`` claims) to a local account and role.

Policy (documented in README by the lead):
- an identity is ``<issuer>|<sub>`` (the provider's stable subject; never the e-mail, which can change);
- an account whose ``oidc_subject`` is that identity signs in (if active);
- otherwise an active account not yet linked to any identity, whose e-mail equals the identity's e-mail **and** the
  provider says the e-mail is verified (``email_verified`` true), is linked on this first sign-in (an admin
  pre-created it), and signs in;
- anyone else is refused with a message naming the identity, so an admin can link it on the users page.
Roles always come from the local account, never from the provider's claims. Every attempt is audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cx import audit
from cx.access import Principal
from cx.auth import principal_of
from cx.errors import AuthError
from cx.models import User


class SsoNotLinkedError(AuthError):
    """A valid single-sign-on identity that no local account is linked to."""

    def __init__(self, identity: str) -> None:
        self.identity = identity
        super().__init__(
            "Your single-sign-on account is not linked to a CX Journey account. Ask an admin to create your "
            f"account with your e-mail address, or to link this identity to it: {identity}"
        )


def identity_of(claims: Mapping[str, Any]) -> str | None:
    """``<issuer>|<subject>`` of an ID token's claims (issuer falls back to the provider name); None without sub."""
    subject = str(claims.get("sub") or "").strip()
    if not subject:
        return None
    issuer = str(claims.get("iss") or claims.get("provider") or "oidc").strip()
    return f"{issuer}|{subject}"[:255]


def _verified_email(claims: Mapping[str, Any]) -> str | None:
    email = str(claims.get("email") or "").strip().lower()
    verified = claims.get("email_verified")
    return email if email and (verified is True or str(verified).lower() == "true") else None


def user_for_identity(session: Session, claims: Mapping[str, Any]) -> User:
    """The local account for these claims (linking a pre-created account by verified e-mail); AuthError if none."""
    identity = identity_of(claims)
    if identity is None:
        raise AuthError("The sign-in provider sent no subject (sub); ask an admin to check the SSO settings")
    user = session.scalar(select(User).where(User.oidc_subject == identity))
    if user is None:
        email = _verified_email(claims)
        candidates = (
            list(
                session.scalars(
                    select(User).where(
                        func.lower(User.email) == email, User.oidc_subject.is_(None), User.is_active.is_(True)
                    )
                )
            )
            if email
            else []
        )
        if len(candidates) != 1:
            raise SsoNotLinkedError(identity)
        user = candidates[0]
        user.oidc_subject = identity
        audit.record(
            session,
            None,
            "user.sso_link",
            object_type="user",
            object_id=str(user.id),
            username="system",
            detail={"linked": True, "by": "verified_email"},
        )
    if not user.is_active:
        raise AuthError("This account is deactivated; ask an admin")
    return user


def sign_in_with_identity(session: Session, claims: Mapping[str, Any]) -> Principal:
    """Map the claims to a principal and audit the sign-in (ok or denied; commit even on failure)."""
    try:
        user = user_for_identity(session, claims)
    except AuthError:
        identity = identity_of(claims)
        audit.record(
            session,
            None,
            "signin",
            outcome="denied",
            username=audit.pseudonym(session, identity) if identity else None,
            detail={"method": "oidc", "reason": "not_linked"},
        )
        raise
    principal = principal_of(user)
    audit.record(session, principal, "signin", detail={"method": "oidc"})
    return principal
