"""The users page: admins list, create and change accounts; changes are audited and reach open sessions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from cx import accounts, auth
from cx.access import Role
from cx.db import transaction
from cx.errors import PermissionDenied, ValidationError
from cx.models import User
from cx.settings import Settings
from tests.apptest import signed_in_app
from tests.ui.security_env import audit_rows, demo_user, open_page, texts, user_id


def test_admin_lists_the_accounts(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = open_page(tmp_path, engine, app_env, "demo-admin", "users")
    frame = app.dataframe[0].value
    assert {"demo-agent", "demo-cx-owner", "admin"} <= set(frame.iloc[:, 0])
    assert "password" not in " ".join(map(str, frame.columns)).lower()
    app.text_input(key="users_search").input("team").run()
    assert list(app.dataframe[0].value.iloc[:, 0]) == ["demo-team-lead"]
    app.text_input(key="users_search").input("nobody-at-all").run()
    assert "没有匹配的账号" in texts(app)


def test_admin_creates_an_account_with_a_generated_password(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = open_page(tmp_path, engine, app_env, "demo-admin", "users")
    app.text_input(key="users_new_username").input("new.agent")
    app.text_input(key="users_new_display").input("New Agent")
    app.selectbox(key="users_new_role").set_value(Role.AGENT)
    app.text_input(key="users_new_team").input("hotline_b")
    app.button(key="FormSubmitter:users_create-创建账号").click().run()
    assert not app.exception, app.exception
    assert "账号已创建" in texts(app)
    password = app.code[-1].value
    assert auth.authenticate(engine, "new.agent", password, app_env).team == "hotline_b"
    created = audit_rows(engine, "user.create")[-1]
    assert created.username == "demo-admin" and created.object_id == str(user_id(engine, "new.agent"))


def test_invalid_account_shows_every_problem_as_text(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = open_page(tmp_path, engine, app_env, "demo-admin", "users")
    app.text_input(key="users_new_username").input("![x](http://127.0.0.1:9/p.png) bad name")
    app.selectbox(key="users_new_role").set_value(Role.DEPARTMENT_HEAD)
    app.button(key="FormSubmitter:users_create-创建账号").click().run()
    assert [e.value for e in app.error] == ["未能完成修改："]
    assert "without spaces" in app.text[-1].value and "needs a department" in app.text[-1].value
    with transaction(engine) as session:
        assert session.scalar(select(User).where(User.username.like("%bad%"))) is None


def test_role_change_and_deactivation_reach_an_open_session(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    (tmp_path / "agent").mkdir()
    agent = signed_in_app(tmp_path / "agent", engine, app_env, "demo-agent").run()
    assert agent.title[0].value.startswith("欢迎")
    assert "坐席" in " ".join(c.value for c in agent.sidebar.caption)
    admin = open_page(tmp_path, engine, app_env, "demo-admin", "users")
    agent_id = user_id(engine, "demo-agent")
    admin.selectbox(key="users_pick").set_value(agent_id).run()
    admin.selectbox(key=f"users_role_{agent_id}").set_value(Role.TEAM_LEAD)
    admin.button(key=f"FormSubmitter:users_edit_{agent_id}-保存修改").click().run()
    assert not admin.exception, admin.exception
    assert "已保存" in texts(admin)
    agent.run()  # the agent's next rerun: the server knows the new role (sidebar, navigation, every check)
    assert not agent.exception
    assert "组长" in " ".join(c.value for c in agent.sidebar.caption)
    with transaction(engine) as session:
        user = session.get(User, agent_id)
        assert user.role == "team_lead" and user.auth_version == 2
    admin.checkbox(key=f"users_active_{agent_id}").uncheck()
    admin.button(key=f"FormSubmitter:users_edit_{agent_id}-保存修改").click().run()
    agent.run()  # the deactivated account's session ends: the sign-in form is back
    assert agent.text_input(key="signin_username") is not None
    assert len(agent._registered_pages) == 1
    updates = audit_rows(engine, "user.update")
    assert [(u.username, u.detail["role"], u.detail["active"]) for u in updates] == [
        ("demo-admin", "team_lead", True),
        ("demo-admin", "team_lead", False),
    ]


def test_password_reset_signs_the_account_out(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    agent = signed_in_app(tmp_path, engine, app_env, "demo-agent").run()
    admin = open_page(tmp_path, engine, app_env, "demo-admin", "users")
    agent_id = user_id(engine, "demo-agent")
    admin.selectbox(key="users_pick").set_value(agent_id).run()
    admin.button(key=f"FormSubmitter:users_password_{agent_id}-重置密码").click().run()
    new_password = admin.code[-1].value
    assert auth.authenticate(engine, "demo-agent", new_password, app_env).username == "demo-agent"
    agent.run()
    assert agent.text_input(key="signin_username") is not None
    assert audit_rows(engine, "user.password")[-1].username == "demo-admin"


def test_services_refuse_non_admins_and_keep_the_last_admin(engine: Engine, settings: Settings, app_env) -> None:
    with transaction(engine) as session:
        cx_owner = auth.principal_of(session.scalar(select(User).where(User.username == "demo-cx-owner")))
        admin = auth.principal_of(session.scalar(select(User).where(User.username == "admin")))
    with pytest.raises(PermissionDenied), transaction(engine) as session:
        accounts.list_users(session, cx_owner)
    assert [(e.action, e.outcome, e.username) for e in audit_rows(engine, "user.admin")] == [
        ("user.admin", "denied", "demo-cx-owner")
    ]
    with transaction(engine) as session:
        demo_admin = session.scalar(select(User).where(User.username == "demo-admin"))
        accounts.update_account(
            session, admin, demo_admin.id, auth.AccountSpec("demo-admin", "x", Role.AGENT, team="t"), is_active=True
        )
    with pytest.raises(ValidationError, match="last active admin"), transaction(engine) as session:
        accounts.update_account(
            session, admin, admin.user_id, auth.AccountSpec("admin", "x", Role.ADMIN), is_active=False
        )
    with pytest.raises(ValidationError, match="cannot be changed"), transaction(engine) as session:
        accounts.update_account(
            session, admin, admin.user_id, auth.AccountSpec("root", "x", Role.ADMIN), is_active=True
        )


def test_sso_identity_links_to_one_account_only(engine: Engine, settings: Settings, app_env) -> None:
    with transaction(engine) as session:
        admin = auth.principal_of(session.scalar(select(User).where(User.username == "admin")))
        agent_id = session.scalar(select(User.id).where(User.username == "demo-agent"))
        lead_id = session.scalar(select(User.id).where(User.username == "demo-team-lead"))
        accounts.link_sso(session, admin, agent_id, "https://idp.example|abc")
    with pytest.raises(ValidationError, match="linked to another account"), transaction(engine) as session:
        accounts.link_sso(session, admin, lead_id, "https://idp.example|abc")
    assert audit_rows(engine, "user.sso_link")[-1].detail == {"linked": True}


def test_demo_user_helper() -> None:
    assert demo_user(Role.AGENT) == "demo-agent"
