"""A generated test per (role, page) of cx.access.PAGES under AppTest: allowed pages open through the navigation
without an error or a refusal; the others are not in the navigation, and run directly (a tampered URL) they refuse
and write a denied audit row. (The browser variant, by URL, is tests/browser/test_security_matrix.py.)"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from cx import auth
from cx.access import PAGES, Role
from cx.db import transaction
from cx.models import AuditEntry, User
from cx.settings import get_settings, load_settings
from tests.apptest import direct_page_app, page_path, signed_in_app
from tests.ui.security_env import add_demo_users, demo_user

PAIRS = [(role, page) for role in Role for page in PAGES]


@pytest.fixture(scope="module")
def matrix_store(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[tuple[Engine, object]]:
    """One store for the whole matrix (SQLite: the guard does not depend on the backend)."""
    folder = tmp_path_factory.mktemp("matrix")
    shutil.copyfile(sqlite_template, folder / "cx.db")
    url = f"sqlite:///{folder / 'cx.db'}"
    environ = {"CX_DATABASE_URL": url, "CX_ADMIN_PASSWORD": "matrix-admin-pw", "CX_DEMO_MODE": "1"}
    settings = load_settings(environ={**environ, "CX_EMBEDDED_WORKER": "0"}, secrets_path=folder / "none.toml")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**environ, "CX_EMBEDDED_WORKER": "0"}.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        from cx.store import open_store

        engine = open_store(settings, announce=False)
        add_demo_users(engine)
        yield engine, settings
        get_settings.cache_clear()
    engine.dispose()


def _errors(app: AppTest) -> list[str]:
    return [e.value for e in app.error]


@pytest.mark.parametrize(("role", "page"), PAIRS, ids=[f"{r.value}-{p}" for r, p in PAIRS])
def test_role_page(tmp_path: Path, matrix_store, role: Role, page: str) -> None:
    engine, settings = matrix_store
    if not Path(page_path(page)).is_file():
        pytest.skip(f"page {page} is not built yet")
    username = demo_user(role)
    app = signed_in_app(tmp_path, engine, settings, username).run()
    assert not app.exception, app.exception
    registered = {Path(info["script_path"]).resolve() for info in app._registered_pages.values()}
    if role in PAGES[page]:
        assert Path(page_path(page)).resolve() in registered, f"{page} missing from the {role.value} navigation"
        app.switch_page(page_path(page)).run()
        assert not app.exception, f"{page} crashed for {role.value}: {app.exception}"
        assert not [e for e in _errors(app) if "无权" in e], f"{page} refused {role.value}: {_errors(app)}"
        return
    assert Path(page_path(page)).resolve() not in registered, f"{page} is in the {role.value} navigation"
    with transaction(engine) as session:
        before = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) or 0
        user = session.scalar(select(User).where(User.username == username))
        token = auth.start_session(session, auth.principal_of(user), settings)
    direct = direct_page_app(tmp_path, page)
    direct.session_state["cx_token"] = token
    direct.run()
    assert not direct.exception, direct.exception
    assert any("无权打开此页面" in e for e in _errors(direct)), f"{page} opened for {role.value} by direct URL"
    with transaction(engine) as session:
        denied = session.scalars(select(AuditEntry).where(AuditEntry.id > before, AuditEntry.outcome == "denied")).all()
    assert [(d.action, d.object_id, d.username) for d in denied] == [("page.open", page, username)]
