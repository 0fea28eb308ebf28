"""Sign-in, lockout, sessions and accounts against a real store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from cx import auth
from cx.access import Role
from cx.db import transaction
from cx.errors import AccountLockedError, AuthError, ValidationError
from cx.models import AuditEntry, User
from cx.settings import Settings
from cx.types import utcnow


@pytest.fixture
def demo_users(engine: Engine, settings: Settings) -> list[str]:
    with transaction(engine) as session:
        return auth.ensure_demo_users(session, settings)


def test_a_user_per_role_signs_in(engine: Engine, settings: Settings, demo_users: list[str]) -> None:
    roles_seen = set()
    for username, _display, role, department, team in auth.DEMO_ACCOUNTS:
        principal = auth.authenticate(engine, username, auth.DEMO_PASSWORD, settings)
        assert principal.role == role and principal.department == department and principal.team == team
        roles_seen.add(role)
    assert roles_seen == set(Role)


def test_wrong_password_and_unknown_user_get_the_same_message(engine: Engine, settings: Settings, demo_users) -> None:
    messages = []
    for username in ("demo-agent", "nobody-here"):
        with pytest.raises(AuthError) as caught:
            auth.authenticate(engine, username, "wrong-password", settings)
        messages.append(str(caught.value))
    assert messages[0] == messages[1] == auth.WRONG_CREDENTIALS
    with transaction(engine) as session:
        denied = session.scalars(select(AuditEntry).where(AuditEntry.outcome == "denied")).all()
    assert {e.username for e in denied} == {"demo-agent", "nobody-here"}
    assert all(e.action == "signin" for e in denied)


def _fail(engine: Engine, settings: Settings, username: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(AuthError):
            auth.authenticate(engine, username, "bad-password", settings)


@pytest.mark.parametrize("username", ["demo-agent", "no-such-user"])
def test_lockout_after_repeated_failures_even_for_unknown_names(engine, settings, demo_users, username) -> None:
    _fail(engine, settings, username, settings.max_failed_signins)
    with pytest.raises(AccountLockedError, match="Try again in"):
        auth.authenticate(engine, username, auth.DEMO_PASSWORD, settings)
    later = utcnow() + timedelta(minutes=settings.lockout_minutes + 1)
    if username == "demo-agent":
        assert auth.authenticate(engine, username, auth.DEMO_PASSWORD, settings, now=later).role == Role.AGENT


def test_success_resets_the_failure_count(engine: Engine, settings: Settings, demo_users) -> None:
    _fail(engine, settings, "demo-agent", settings.max_failed_signins - 1)
    auth.authenticate(engine, "demo-agent", auth.DEMO_PASSWORD, settings)
    _fail(engine, settings, "demo-agent", settings.max_failed_signins - 1)
    assert auth.authenticate(engine, "demo-agent", auth.DEMO_PASSWORD, settings).username == "demo-agent"


def test_session_token_round_trip_revocation_and_tampering(engine: Engine, settings: Settings, demo_users) -> None:
    principal = auth.authenticate(engine, "demo-cx-owner", auth.DEMO_PASSWORD, settings)
    with transaction(engine) as session:
        token = auth.start_session(session, principal, settings)
    with transaction(engine) as session:
        resolved = auth.resolve_session(session, token)
        assert resolved is not None and resolved.username == "demo-cx-owner"
        # Flip a whole character of the signature (the last one carries padding bits a decoder may ignore).
        flipped = "A" if token[-2] != "A" else "B"
        tampered = token[:-2] + flipped + token[-1]
        assert tampered != token
        assert auth.resolve_session(session, tampered) is None
        assert auth.resolve_session(session, "garbage") is None
        assert auth.resolve_session(session, token, now=utcnow() + timedelta(days=settings.session_days + 1)) is None
        auth.end_session(session, resolved)
    with transaction(engine) as session:
        assert auth.resolve_session(session, token) is None


def test_role_change_applies_to_an_open_session(engine: Engine, settings: Settings, demo_users) -> None:
    principal = auth.authenticate(engine, "demo-agent", auth.DEMO_PASSWORD, settings)
    with transaction(engine) as session:
        token = auth.start_session(session, principal, settings)
    with transaction(engine) as session:
        user = session.scalar(select(User).where(User.username == "demo-agent"))
        spec = auth.AccountSpec(user.username, user.display_name, Role.TEAM_LEAD, team="hotline_b")
        auth.update_user(session, user.id, spec, is_active=True)
    with transaction(engine) as session:
        resolved = auth.resolve_session(session, token)
        assert resolved is not None and resolved.role == Role.TEAM_LEAD and resolved.team == "hotline_b"
        auth.update_user(session, resolved.user_id, spec, is_active=False)
    with transaction(engine) as session:
        assert auth.resolve_session(session, token) is None


def test_account_validation_lists_every_problem(engine: Engine) -> None:
    with pytest.raises(ValidationError) as caught, transaction(engine) as session:
        auth.create_user(session, auth.AccountSpec("has space", "x", Role.DEPARTMENT_HEAD), "long-enough-pw")
    assert "without spaces" in str(caught.value) and "needs a department" in str(caught.value)
    with pytest.raises(ValidationError, match="at least 8"), transaction(engine) as session:
        auth.create_user(session, auth.AccountSpec("shorty", "x", Role.AGENT), "short")


def test_passwords_are_salted_argon2_hashes(engine: Engine, settings: Settings, demo_users) -> None:
    with transaction(engine) as session:
        hashes = list(session.scalars(select(User.password_hash).where(User.is_demo)))
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert len(set(hashes)) == len(hashes), "the same password must hash differently per user (salt)"


def test_demo_users_only_in_demo_mode(engine: Engine, settings: Settings) -> None:
    with transaction(engine) as session:
        assert auth.ensure_demo_users(session, settings.with_overrides(demo_mode=False)) == []
        assert len(auth.ensure_demo_users(session, settings)) == len(auth.DEMO_ACCOUNTS)
        assert auth.ensure_demo_users(session, settings) == []
