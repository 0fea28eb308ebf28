"""Sessions under AppTest: lockout after repeated failures, and revocation mid-session (the next rerun reflects a
role change, a deactivation, a password reset or a revoked session row), tampered tokens and session state."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from cx import auth
from cx.access import Role
from cx.db import transaction
from cx.models import User
from cx.settings import Settings
from tests.apptest import make_app, page_path, signed_in_app
from tests.ui.security_env import audit_rows, open_page, user_id


def _try(app, username: str, password: str) -> list[str]:
    app.text_input(key="signin_username").input(username)
    app.text_input(key="signin_password").input(password)
    app.button(key="FormSubmitter:sign_in-登录").click().run()
    return [e.value for e in app.error]


def test_lockout_after_repeated_failures_in_the_sign_in_form(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = make_app(tmp_path).run()
    for _ in range(app_env.max_failed_signins):
        assert _try(app, "demo-agent", "wrong-password") == ["用户名或密码错误。"]
    locked = f"登录失败次数过多。请 {app_env.lockout_minutes} 分钟后再试，或联系管理员。"
    assert _try(app, "demo-agent", auth.DEMO_PASSWORD) == [locked], "even the right password is refused while locked"
    assert app.text_input(key="signin_username") is not None
    assert "cx_token" not in app.session_state
    # an unknown name locks the same way (no hint whether an account exists)
    for _ in range(app_env.max_failed_signins):
        _try(app, "ghost-user", "wrong-password")
    assert _try(app, "ghost-user", "wrong-password") == [locked]
    reasons = [e.detail for e in audit_rows(engine, "signin")]
    assert reasons.count({"reason": "locked"}) == 2


def _set(engine: Engine, username: str, role: Role, *, active: bool = True, team: str | None = "hotline_a") -> None:
    with transaction(engine) as session:
        user = session.scalar(select(User).where(User.username == username))
        auth.update_user(
            session, user.id, auth.AccountSpec(username, user.display_name, role, team=team), is_active=active
        )


def test_demotion_mid_session_refuses_the_page_on_the_next_rerun(
    tmp_path: Path, app_env: Settings, engine: Engine
) -> None:
    app = open_page(tmp_path, engine, app_env, "demo-cx-owner", "customers")
    assert not [e for e in app.error if "无权" in e.value]
    with transaction(engine) as session:
        user = session.scalar(select(User).where(User.username == "demo-cx-owner"))
        spec = auth.AccountSpec("demo-cx-owner", user.display_name, Role.DEPARTMENT_HEAD, department="service")
        auth.update_user(session, user.id, spec, is_active=True)
    app.run()  # next rerun of the open customers page: a department head may not use it
    registered = {Path(info["script_path"]).name for info in app._registered_pages.values()}
    assert "customers.py" not in registered
    assert app.title[0].value.startswith("欢迎") or any("无权" in e.value for e in app.error)
    direct = AppTest.from_file(page_path("customers"), default_timeout=30)
    direct.session_state["cx_token"] = app.session_state["cx_token"]
    direct.run()  # the same session, the page's URL opened directly
    assert any("无权" in e.value for e in direct.error), [e.value for e in direct.error]
    denied = [e for e in audit_rows(engine, "page.open") if e.outcome == "denied"]
    assert [(d.object_id, d.role) for d in denied] == [("customers", "department_head")]


def test_deactivation_and_password_reset_end_open_sessions(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    agent = signed_in_app(tmp_path / "a", engine, app_env, "demo-agent").run()
    lead = signed_in_app(tmp_path / "b", engine, app_env, "demo-team-lead").run()
    assert agent.title[0].value.startswith("欢迎") and lead.title[0].value.startswith("欢迎")
    _set(engine, "demo-agent", Role.AGENT, active=False)
    with transaction(engine) as session:
        auth.set_password(session, user_id(engine, "demo-team-lead"), "a-brand-new-password")
    agent.run()
    lead.run()
    for app in (agent, lead):
        assert app.text_input(key="signin_username") is not None
        assert len(app._registered_pages) == 1


def test_signing_out_elsewhere_revokes_this_session_row(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = signed_in_app(tmp_path, engine, app_env, "demo-agent").run()
    with transaction(engine) as session:
        auth.revoke_user_sessions(session, user_id(engine, "demo-agent"))
    app.run()
    assert app.text_input(key="signin_username") is not None


def test_tampered_token_and_session_state_are_refused(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = signed_in_app(tmp_path, engine, app_env, "demo-agent")
    token = app.session_state["cx_token"]
    app.session_state["cx_token"] = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    app.run()
    assert app.text_input(key="signin_username") is not None, "a forged token signs nobody in"
    # session state naming another user or role changes nothing: the principal is re-read from the store
    app = signed_in_app(tmp_path, engine, app_env, "demo-agent")
    for key, value in {"principal": "demo-admin", "role": "admin", "cx_role": "admin", "user_id": 1}.items():
        app.session_state[key] = value
    app.run()
    registered = {Path(info["script_path"]).name for info in app._registered_pages.values()}
    assert "users.py" not in registered and "audit.py" not in registered
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page(page_path("users"))
    direct = AppTest.from_file(page_path("users"), default_timeout=30)
    direct.session_state["cx_token"] = app.session_state["cx_token"]
    for key, value in {"principal": "demo-admin", "role": "admin", "cx_role": "admin", "user_id": 1}.items():
        direct.session_state[key] = value
    direct.run()
    assert any("无权" in e.value for e in direct.error)
    assert not direct.dataframe
