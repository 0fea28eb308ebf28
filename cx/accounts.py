"""Account administration for the users page: list, create, change, reset passwords, link SSO (admins only)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cx import audit, auth
from cx.access import Principal, Role
from cx.authz import require_audited
from cx.errors import NotFoundError, ValidationError
from cx.models import User

ACTION = "user.admin"


@dataclass(frozen=True)
class UserRow:
    """One account as the users page lists it (never the password hash)."""

    id: int
    username: str
    display_name: str
    role: Role
    department: str | None
    team: str | None
    email: str | None
    phone: str | None
    is_active: bool
    is_demo: bool
    sso_linked: bool
    oidc_subject: str | None
    created_at: datetime | None


def _row(user: User) -> UserRow:
    return UserRow(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        department=user.department,
        team=user.team,
        email=user.email,
        phone=user.phone,
        is_active=user.is_active,
        is_demo=user.is_demo,
        sso_linked=user.oidc_subject is not None,
        oidc_subject=user.oidc_subject,
        created_at=user.created_at,
    )


def list_users(
    session: Session, principal: Principal | None, *, search: str = "", role: Role | None = None
) -> list[UserRow]:
    """Accounts ordered by user name, filtered by a text (user name or display name) and a role."""
    require_audited(session, principal, ACTION, object_type="user")
    query = select(User).order_by(User.username)
    text = search.strip().casefold()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(User.username.like(pattern, escape="\\"), func.lower(User.display_name).like(pattern, escape="\\"))
        )
    if role is not None:
        query = query.where(User.role == role.value)
    return [_row(user) for user in session.scalars(query)]


def get_user(session: Session, principal: Principal | None, user_id: int) -> UserRow:
    require_audited(session, principal, ACTION, object_type="user", object_id=str(user_id))
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"There is no user with id {user_id}; reload the list")
    return _row(user)


def generate_password() -> str:
    """A random password to hand over once (the user changes nothing: admins reset it when needed)."""
    return secrets.token_urlsafe(12)


def create_account(
    session: Session, principal: Principal | None, spec: auth.AccountSpec, password: str | None
) -> UserRow:
    """A new account (audited as user.create); ``password`` None means SSO-only (no local password)."""
    require_audited(session, principal, ACTION, object_type="user")
    return _row(auth.create_user(session, spec, password, actor=principal))


def _active_admins(session: Session) -> set[int]:
    return set(session.scalars(select(User.id).where(User.role == Role.ADMIN.value, User.is_active)))


def update_account(
    session: Session, principal: Principal | None, user_id: int, spec: auth.AccountSpec, *, is_active: bool
) -> UserRow:
    """Change role, department, team, contact data or the active flag; open sessions follow on their next rerun.

    The last active admin can be neither demoted nor deactivated (nobody could manage accounts afterwards).
    """
    require_audited(session, principal, ACTION, object_type="user", object_id=str(user_id))
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"There is no user with id {user_id}; reload the list")
    if spec.username.strip().casefold() != user.username:
        raise ValidationError("User names cannot be changed; create a new account instead")
    stays_admin = is_active and spec.role == Role.ADMIN
    if not stays_admin and _active_admins(session) == {user_id}:
        raise ValidationError("This is the last active admin; make another account an admin first")
    return _row(auth.update_user(session, user_id, spec, is_active=is_active, actor=principal))


def reset_password(session: Session, principal: Principal | None, user_id: int, password: str) -> None:
    """Set a new password and sign the account out everywhere (audited as user.password)."""
    require_audited(session, principal, ACTION, object_type="user", object_id=str(user_id))
    auth.set_password(session, user_id, password, actor=principal)


def link_sso(session: Session, principal: Principal | None, user_id: int, subject: str | None) -> None:
    """Link (or unlink, with None) the single-sign-on identity ``issuer|subject`` to an account (audited)."""
    require_audited(session, principal, ACTION, object_type="user", object_id=str(user_id))
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"There is no user with id {user_id}; reload the list")
    subject = (subject or "").strip() or None
    if subject is not None:
        owner = session.scalar(select(User.id).where(User.oidc_subject == subject))
        if owner is not None and owner != user_id:
            raise ValidationError("This single-sign-on identity is linked to another account; unlink it there first")
    if subject != user.oidc_subject:
        user.oidc_subject = subject
        user.auth_version += 1
        audit.record(
            session,
            principal,
            "user.sso_link",
            object_type="user",
            object_id=str(user_id),
            detail={"linked": bool(subject)},
        )
