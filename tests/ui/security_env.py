"""Shared set-up of the security page tests: the app's settings pointed at the test store, demo accounts, helpers."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from cx import auth
from cx.access import Role
from cx.db import transaction
from cx.models import AuditEntry, User
from cx.settings import Settings, get_settings
from tests.apptest import page_path, signed_in_app


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine) -> Iterator[Settings]:
    """The app (under AppTest) reads the test store; the demo accounts exist."""
    monkeypatch.setenv("CX_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CX_ADMIN_PASSWORD", settings.admin_password or "")
    monkeypatch.setenv("CX_DEMO_MODE", "1")
    monkeypatch.setenv("CX_EMBEDDED_WORKER", "0")
    get_settings.cache_clear()
    from cx.store import open_store

    open_store(settings, announce=False)
    add_demo_users(engine)
    yield settings
    get_settings.cache_clear()


@cache
def _demo_hash() -> str:
    return auth.hash_password(auth.DEMO_PASSWORD)


def add_demo_users(engine: Engine) -> None:
    """The demo accounts, like auth.ensure_demo_users but hashing the shared password once per test run."""
    with transaction(engine) as session:
        existing = set(session.scalars(select(User.username)))
        for username, display, role, department, team in auth.DEMO_ACCOUNTS:
            if username not in existing:
                spec = auth.AccountSpec(username, display, role, department, team)
                auth.create_user(session, spec, None, is_demo=True).password_hash = _demo_hash()


def demo_user(role: Role) -> str:
    return next(name for name, _d, r, _dep, _t in auth.DEMO_ACCOUNTS if r == role)


def open_page(tmp_path: Path, engine: Engine, settings: Settings, username: str, page: str) -> AppTest:
    """Sign in as ``username`` (a real session row) and open ``page`` through the app's navigation."""
    app = signed_in_app(tmp_path, engine, settings, username).run()
    assert not app.exception, app.exception
    app.switch_page(page_path(page)).run()
    assert not app.exception, app.exception
    return app


def user_id(engine: Engine, username: str) -> int:
    with transaction(engine) as session:
        return session.scalar(select(User.id).where(User.username == username))


def audit_rows(engine: Engine, action: str | None = None) -> list[AuditEntry]:
    with transaction(engine) as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        return list(session.scalars(query))


def texts(app: AppTest) -> str:
    """Everything the page shows as text (markdown, captions, alerts, code), for assertions."""
    parts = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "text",
        "code",
        "error",
        "warning",
        "info",
        "success",
    ):
        parts += [str(getattr(element, "value", "")) for element in getattr(app, kind)]
    return "\n".join(parts)
