"""Local accounts: argon2 password hashes, sign-in with lockout, signed session tokens, the first admin."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cx import audit
from cx.access import DEPARTMENTS, Principal, Role
from cx.app_secrets import stored_secret
from cx.db import transaction
from cx.errors import AccountLockedError, AuthError, NotFoundError, ValidationError
from cx.models import AuditEntry, User, UserSession
from cx.settings import Settings
from cx.types import utcnow

SESSION_COOKIE = "cx_session"
_SECRET_KEY = "session_secret"
_hasher = PasswordHasher()
WRONG_CREDENTIALS = "Wrong user name or password."
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so a wrong user name costs the same time as a wrong password
    (made on first use: hashing on import cost every process that imports this module ~0.2 s, the ETL's too)."""
    return _hasher.hash("not-a-real-password")


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def principal_of(user: User, session_id: str | None = None) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        department=user.department,
        team=user.team,
        session_id=session_id,
    )


# --------------------------------------------------------------------------------------------- sign-in


def _recent_failures(session: Session, username: str, settings: Settings, now: datetime) -> int:
    """Failed sign-ins for this name since its last success, within the lockout window (works for unknown names)."""
    window_start = now - timedelta(minutes=settings.lockout_minutes)
    last_success = session.scalar(
        select(func.max(AuditEntry.at)).where(
            AuditEntry.action == "signin", AuditEntry.outcome == "ok", AuditEntry.username == username
        )
    )
    since = max(window_start, last_success) if last_success else window_start
    return (
        session.scalar(
            select(func.count()).where(
                AuditEntry.action == "signin",
                AuditEntry.outcome == "denied",
                AuditEntry.username == username,
                AuditEntry.at > since,
            )
        )
        or 0
    )


@dataclass(frozen=True)
class SignInOutcome:
    """The result of checking credentials: a principal, or the error to show (its audit row is already added)."""

    principal: Principal | None
    error: AuthError | None = None

    def raise_for_error(self) -> Principal:
        if self.error is not None:
            raise self.error
        assert self.principal is not None
        return self.principal


def check_credentials(
    session: Session, username: str, password: str, settings: Settings, now: datetime | None = None
) -> SignInOutcome:
    """Check a user name and password; the failure message is the same whether or not the user exists.

    Every attempt adds an audit row (commit it even on failure: lockout counts them). After
    ``settings.max_failed_signins`` failures the name is locked for ``settings.lockout_minutes`` minutes,
    counted from the audit log, so unknown names lock the same way as real ones.
    """
    now = now or utcnow()
    username = username.strip().casefold()
    if _recent_failures(session, username, settings, now) >= settings.max_failed_signins:
        audit.record(session, None, "signin", outcome="denied", username=username, detail={"reason": "locked"}, at=now)
        return SignInOutcome(
            None,
            AccountLockedError(
                f"Too many failed sign-ins. Try again in {settings.lockout_minutes} minutes or ask an admin."
            ),
        )
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        audit.record(session, None, "signin", outcome="denied", username=username, at=now)
        return SignInOutcome(None, AuthError(WRONG_CREDENTIALS))
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    principal = principal_of(user)
    audit.record(session, principal, "signin", outcome="ok", at=now)
    return SignInOutcome(principal)


def authenticate(
    engine: Engine, username: str, password: str, settings: Settings, now: datetime | None = None
) -> Principal:
    """Check credentials in their own transaction (so failures stay audited); raise AuthError on failure."""
    with transaction(engine) as session:
        outcome = check_credentials(session, username, password, settings, now)
    return outcome.raise_for_error()


# --------------------------------------------------------------------------------------------- sessions


def session_secret(session: Session) -> str:
    """The store-wide secret that signs session cookies (created once; shared by every app replica)."""
    return stored_secret(session, _SECRET_KEY)


def _serializer(session: Session) -> URLSafeSerializer:
    return URLSafeSerializer(session_secret(session), salt="cx-session")


def start_session(
    session: Session, principal: Principal, settings: Settings, *, method: str = "password", now: datetime | None = None
) -> str:
    """Create a session row and return the signed token the browser keeps in its cookie."""
    now = now or utcnow()
    row = UserSession(
        id=secrets.token_urlsafe(24),
        user_id=principal.user_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(days=settings.session_days),
        auth_method=method,
    )
    session.add(row)
    session.flush()
    return _serializer(session).dumps({"sid": row.id})


def resolve_session(session: Session, token: str | None, now: datetime | None = None) -> Principal | None:
    """The principal a cookie token stands for, read fresh from the store; None if invalid, expired or revoked."""
    if not token:
        return None
    now = now or utcnow()
    try:
        payload = _serializer(session).loads(token)
    except BadSignature:
        return None
    sid = payload.get("sid") if isinstance(payload, dict) else None
    if not isinstance(sid, str):
        return None
    row = session.get(UserSession, sid)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if (now - row.last_seen_at) > timedelta(minutes=5):
        row.last_seen_at = now
    return principal_of(user, session_id=sid)


def end_session(session: Session, principal: Principal, now: datetime | None = None) -> None:
    """Sign out: revoke this browser's session row."""
    if principal.session_id:
        row = session.get(UserSession, principal.session_id)
        if row is not None and row.revoked_at is None:
            row.revoked_at = now or utcnow()
    audit.record(session, principal, "signout")


def revoke_user_sessions(session: Session, user_id: int, now: datetime | None = None) -> int:
    rows = session.scalars(
        select(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    ).all()
    for row in rows:
        row.revoked_at = now or utcnow()
    return len(rows)


# --------------------------------------------------------------------------------------------- accounts


@dataclass(frozen=True)
class AccountSpec:
    """What an admin enters to create or change an account (validated before it touches the store)."""

    username: str
    display_name: str
    role: Role
    department: str | None = None
    team: str | None = None
    email: str | None = None
    phone: str | None = None

    def validated(self) -> AccountSpec:
        problems = []
        name = self.username.strip().casefold()
        if not name or len(name) > 80 or any(c.isspace() for c in name):
            problems.append("user name must be 1-80 characters without spaces")
        if self.role == Role.DEPARTMENT_HEAD and self.department not in DEPARTMENTS:
            problems.append(f"a department head needs a department: one of {', '.join(DEPARTMENTS)}")
        if self.role == Role.TEAM_LEAD and not (self.team or "").strip():
            problems.append("a team lead needs a team")
        if problems:
            raise ValidationError("The account is not valid", problems)
        return AccountSpec(
            username=name,
            display_name=self.display_name.strip() or name,
            role=self.role,
            department=self.department if self.role == Role.DEPARTMENT_HEAD else None,
            team=(self.team or "").strip() or None,
            email=(self.email or "").strip() or None,
            phone=(self.phone or "").strip() or None,
        )


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters")


def create_user(
    session: Session, spec: AccountSpec, password: str | None, *, actor: Principal | None = None, is_demo: bool = False
) -> User:
    spec = spec.validated()
    if password is not None:
        check_password_strength(password)
    if session.scalar(select(User.id).where(User.username == spec.username)) is not None:
        raise ValidationError(f"The user name {spec.username!r} is taken; choose another")
    user = User(
        username=spec.username,
        display_name=spec.display_name,
        password_hash=hash_password(password) if password else None,
        role=spec.role.value,
        department=spec.department,
        team=spec.team,
        email=spec.email,
        phone=spec.phone,
        is_demo=is_demo,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", object_type="user", object_id=str(user.id), detail={"role": spec.role})
    return user


def update_user(
    session: Session, user_id: int, spec: AccountSpec, *, is_active: bool, actor: Principal | None = None
) -> User:
    """Change an account; role/team/department/active changes apply to open sessions on their next rerun."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"There is no user with id {user_id}")
    spec = spec.validated()
    before = (user.role, user.department, user.team, user.is_active)
    user.display_name, user.role, user.department, user.team = spec.display_name, spec.role, spec.department, spec.team
    user.email, user.phone, user.is_active = spec.email, spec.phone, is_active
    if before != (user.role, user.department, user.team, user.is_active):
        user.auth_version += 1
    if not is_active:
        revoke_user_sessions(session, user.id)
    audit.record(
        session,
        actor,
        "user.update",
        object_type="user",
        object_id=str(user.id),
        detail={"role": user.role, "active": is_active},
    )
    return user


def set_password(session: Session, user_id: int, password: str, *, actor: Principal | None = None) -> None:
    check_password_strength(password)
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"There is no user with id {user_id}")
    user.password_hash = hash_password(password)
    revoke_user_sessions(session, user.id)
    audit.record(session, actor, "user.password", object_type="user", object_id=str(user.id))


def ensure_first_admin(session: Session, settings: Settings) -> str | None:
    """With no users at all, create ``admin``; returns the generated password (None if none was generated)."""
    if session.scalar(select(func.count()).select_from(User)):
        return None
    password = settings.admin_password or secrets.token_urlsafe(12)
    create_user(session, AccountSpec("admin", "Administrator", Role.ADMIN), password)
    return None if settings.admin_password else password


DEMO_PASSWORD = "demo-cx-2026"

#: (user name, display name, role, department, team): one account per role, for trying the app in demo mode.
DEMO_ACCOUNTS: tuple[tuple[str, str, Role, str | None, str | None], ...] = (
    ("demo-admin", "Demo Admin 演示管理员", Role.ADMIN, None, None),
    ("demo-service-head", "Service head 服务部负责人", Role.DEPARTMENT_HEAD, "service", None),
    ("demo-product-head", "Product head 产品部负责人", Role.DEPARTMENT_HEAD, "product", None),
    ("demo-marketing-head", "Marketing head 市场部负责人", Role.DEPARTMENT_HEAD, "marketing", None),
    ("demo-delivery-head", "Delivery head 交付部负责人", Role.DEPARTMENT_HEAD, "delivery", None),
    ("demo-it-head", "IT head IT 部负责人", Role.DEPARTMENT_HEAD, "it", None),
    ("demo-executive", "Executive 高管", Role.DEPARTMENT_HEAD, "executive", None),
    ("demo-cx-owner", "CX owner 体验负责人", Role.CX_OWNER, None, None),
    ("demo-team-lead", "Team lead 组长", Role.TEAM_LEAD, None, "hotline_a"),
    ("demo-agent", "Agent 坐席", Role.AGENT, None, "hotline_a"),
)


def ensure_demo_users(session: Session, settings: Settings) -> list[str]:
    """Create the demo accounts (demo mode only); returns the names created."""
    if not settings.demo_enabled:
        return []
    existing = set(session.scalars(select(User.username)))
    created = []
    for username, display, role, department, team in DEMO_ACCOUNTS:
        if username not in existing:
            create_user(session, AccountSpec(username, display, role, department, team), DEMO_PASSWORD, is_demo=True)
            created.append(username)
    return created
