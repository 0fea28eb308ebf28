"""The customer page under AppTest: search by any identifier, pick from a list, masked profile, notes,
escalation, split/join only for CX owners, refused roles, audit rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from cx import audit
from cx.db import transaction
from cx.lookup import invalidate_name_index
from cx.models import Alert, AuditEntry, IdentityOverride, ProfileNote
from cx.settings import Settings, get_settings
from tests.apptest import page_path, signed_in_app
from tests.cx.customer_fixtures import ZWM, build_world


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine) -> Iterator[Settings]:
    monkeypatch.setenv("CX_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CX_ADMIN_PASSWORD", settings.admin_password or "")
    monkeypatch.setenv("CX_DEMO_MODE", "1")
    get_settings.cache_clear()
    invalidate_name_index()
    from cx.store import open_store

    open_store(settings, announce=False)
    with transaction(engine) as session:
        build_world(session)
    yield settings
    get_settings.cache_clear()


def _open(tmp_path: Path, engine: Engine, settings: Settings, username: str, profile: str | None = None):
    app = signed_in_app(tmp_path, engine, settings, username)
    app.run()
    app.switch_page(page_path("customers"))
    if profile:
        app.query_params["profile"] = profile
    app.run()
    assert not app.exception, app.exception
    return app


def _texts(app) -> str:
    return "\n".join([e.value for e in app.text] + [e.value for e in app.caption] + [e.value for e in app.markdown])


def test_phone_in_another_format_opens_the_profile_masked_for_an_agent(
    tmp_path: Path, app_env: Settings, engine: Engine
) -> None:
    app = _open(tmp_path, engine, app_env, "t-agent")
    assert app.text_input(key="customers_query").value == ""
    app.text_input(key="customers_query").input("+86-138-0013-8000").run()
    assert not app.exception, app.exception
    assert app.query_params["profile"] == [ZWM] or app.query_params["profile"] == ZWM
    assert app.subheader[0].value == "张伟明"
    body = _texts(app)
    assert "138****8000" in body and "13800138000" not in body and "zhang.weiming@example.com" not in body
    assert "Repeat complaints: 2 in 30 days" in body
    # the timeline, newest first, one expander per contact
    assert len(app.expander) >= 5
    with transaction(engine) as session:
        actions = [(r.action, r.object_id) for r in audit.search(session, username="t-agent")]
    assert ("profile.view", ZWM) in actions and ("profile.search", ZWM) in actions
    assert [a for a in actions if a[0] == "profile.view"] == [("profile.view", ZWM)]  # one view, not one per rerun


def test_same_name_gives_a_list_to_choose_from(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = _open(tmp_path, engine, app_env, "t-agent")
    app.text_input(key="customers_query").input("王芳").run()
    lines = [e.value for e in app.text if "王芳" in e.value]
    assert len(lines) == 2 and "136****5678" in lines[0] and "成都" in lines[0]
    assert not app.subheader  # no profile yet
    app.button(key="customers_open_p-wf-0009").click().run()
    assert not app.exception, app.exception
    assert app.subheader[0].value == "王芳" and "武汉" in _texts(app)


def test_unknown_identifier_says_what_to_do(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = _open(tmp_path, engine, app_env, "t-agent")
    app.text_input(key="customers_query").input("139 9999 9999").run()
    assert "没有找到该手机号对应的客户" in app.info[0].value


def test_profile_from_the_url_and_a_missing_one(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = _open(tmp_path, engine, app_env, "t-lead", profile=ZWM)
    assert app.subheader[0].value == "张伟明"
    app.query_params["profile"] = "p-does-not-exist"
    app.run()
    assert not app.exception and "该客户画像不存在" in app.warning[0].value


def test_agent_adds_a_note_and_escalates(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = _open(tmp_path, engine, app_env, "t-agent", profile=ZWM)
    form_note = next(a for a in app.text_area if a.label == "新备注")
    form_note.input("Called back, parcel re-sent")
    next(b for b in app.button if b.label == "添加备注").click().run()
    assert not app.exception, app.exception
    app.selectbox(key="customers_escalate_owner").select_index(
        next(i for i, o in enumerate(app.selectbox(key="customers_escalate_owner").options) if "Olga" in o)
    )
    app.text_area(key="customers_escalate_note").input("Parcel lost twice; customer wants to cancel")
    next(b for b in app.button if b.label == "提交预警").click().run()
    assert not app.exception, app.exception
    assert any("已提交预警" in s.value for s in app.success)
    with transaction(engine) as session:
        assert session.scalar(select(ProfileNote.text).order_by(ProfileNote.id.desc())) == "Called back, parcel re-sent"
        alert = session.scalar(select(Alert).where(Alert.origin == "manual"))
        assert alert.profile_id == ZWM and alert.level == "warning"
        assert alert.owner_user_id is not None
        actions = [r.action for r in session.scalars(select(AuditEntry).where(AuditEntry.username == "t-agent"))]
    assert {"profile.note", "profile.escalate", "alert.raised"} <= set(actions)
    # no split/join controls for an agent
    assert not [b for b in app.button if b.label in ("拆分", "合并")]


def test_cx_owner_sees_contacts_and_can_split(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = _open(tmp_path, engine, app_env, "t-owner", profile=ZWM)
    assert "+8613800138000" in _texts(app)
    app.multiselect(key="customers_split_pick").select("chat:C-5")
    app.text_input(key="customers_split_reason").input("wrong fuzzy match")
    next(b for b in app.button if b.label == "拆分").click().run()
    assert not app.exception, app.exception
    with transaction(engine) as session:
        override = session.scalar(select(IdentityOverride))
    assert override.kind == "split" and override.interaction_ids == ["chat:C-5"]
    app.run()
    revert = next(b for b in app.button if b.label.startswith("撤销"))
    revert.click().run()
    with transaction(engine) as session:
        assert session.scalar(select(IdentityOverride.reverted_at)) is not None


def test_department_head_is_refused(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    from streamlit.testing.v1 import AppTest

    from cx import auth
    from cx.models import User

    with transaction(engine) as session:
        user = session.scalar(select(User).where(User.username == "t-head"))
        token = auth.start_session(session, auth.principal_of(user), app_env)
    app = AppTest.from_file(page_path("customers"), default_timeout=30)
    app.session_state["cx_token"] = token
    app.query_params["profile"] = ZWM
    app.run()
    assert not app.exception and not app.subheader
    assert any("无权打开此页面" in e.value for e in app.error)
