"""The app shell under AppTest: sign-in, role-based navigation, and the server-side page guard."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from cx import auth
from cx.access import PAGES, Role, pages_for
from cx.db import transaction
from cx.models import AuditEntry
from cx.settings import Settings, get_settings
from tests.apptest import make_app, page_path, signed_in_app
from ui.navigation import PAGE_SPECS, PAGES_DIR


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


@pytest.mark.parametrize("role", list(Role))
def test_navigation_registers_only_the_roles_pages(
    tmp_path: Path, app_env: Settings, engine: Engine, role: Role
) -> None:
    username = next(name for name, _d, r, _dep, _t in auth.DEMO_ACCOUNTS if r == role)
    app = signed_in_app(tmp_path, engine, app_env, username).run()
    assert not app.exception, app.exception
    registered = {Path(info["script_path"]).resolve() for info in app._registered_pages.values()}
    present = {key for key in pages_for(role) if (PAGES_DIR / PAGE_SPECS[key].file).is_file()}
    assert registered == {(PAGES_DIR / PAGE_SPECS[key].file).resolve() for key in present}


@pytest.mark.parametrize(("role", "page"), [(r, p) for r in Role for p in PAGES if r not in PAGES[p]])
def test_page_refuses_a_role_that_may_not_open_it(
    tmp_path: Path, app_env: Settings, engine: Engine, role: Role, page: str
) -> None:
    """Even when a page file is run directly (as a tampered URL would), its own guard refuses and audits."""
    if not Path(page_path(page)).is_file():
        pytest.skip(f"page {page} is not built yet")
    username = next(name for name, _d, r, _dep, _t in auth.DEMO_ACCOUNTS if r == role)
    with transaction(engine) as session:
        user_id = session.scalar(select(auth.User.id).where(auth.User.username == username))
        token = auth.start_session(session, auth.principal_of(session.get(auth.User, user_id)), app_env)
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(page_path(page), default_timeout=30)
    app.session_state["cx_token"] = token
    app.run()
    assert not app.exception
    assert any("无权打开此页面" in e.value for e in app.error)
    with transaction(engine) as session:
        denied = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "page.open", AuditEntry.outcome == "denied")
        ).all()
    assert [(d.object_id, d.username) for d in denied] == [(page, username)]
