"""The app shell under AppTest: sign-in, role-based navigation, and the server-side page guard."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from cx import auth
from cx.db import transaction
from cx.settings import Settings, get_settings
from tests.apptest import make_app


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine) -> Settings:
    monkeypatch.setenv("CX_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CX_ADMIN_PASSWORD", settings.admin_password or "")
    monkeypatch.setenv("CX_DEMO_MODE", "1")
    get_settings.cache_clear()
    from cx.store import open_store

    open_store(settings)
    with transaction(engine) as session:
        auth.ensure_demo_users(session, settings)
    yield settings
    get_settings.cache_clear()


def _nav_titles(app) -> list[str]:
    return [page.get("title") or page.get("page_name") for page in app._registered_pages.values()]


def test_signed_out_sees_only_sign_in(tmp_path: Path, app_env: Settings) -> None:
    app = make_app(tmp_path).run()
    assert not app.exception
    assert app.text_input(key="signin_username") is not None
    assert len(app._registered_pages) == 1


def test_wrong_password_shows_one_message(tmp_path: Path, app_env: Settings) -> None:
    app = make_app(tmp_path).run()
    app.text_input(key="signin_username").input("demo-agent")
    app.text_input(key="signin_password").input("not-the-password")
    app.button[0].click().run()
    assert [e.value for e in app.error] == ["用户名或密码错误。"]
    app.text_input(key="signin_username").input("who-is-this")
    app.button[0].click().run()
    assert [e.value for e in app.error] == ["用户名或密码错误。"]


def test_sign_in_then_home(tmp_path: Path, app_env: Settings) -> None:
    app = make_app(tmp_path).run()
    app.text_input(key="signin_username").input("demo-cx-owner")
    app.text_input(key="signin_password").input(auth.DEMO_PASSWORD)
    app.button[0].click().run()
    assert not app.exception
    assert app.title[0].value.startswith("欢迎")
    assert app.session_state["cx_token"]


# The (role, page) matrix — navigation and direct URL — is tests/ui/test_security_matrix.py.
