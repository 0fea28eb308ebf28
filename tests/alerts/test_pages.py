"""The alerts inbox and the rules editor under AppTest: visibility per role, act on an alert, write and save a rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from alerts import lifecycle
from cx import auth
from cx.access import Role
from cx.db import transaction
from cx.models import Alert, AlertEvent, AlertRule, AuditEntry, Profile, User
from cx.settings import Settings, get_settings
from cx.types import utcnow
from tests.alerts.harness import load_interactions
from tests.apptest import page_path, signed_in_app


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine) -> Iterator[Settings]:
    monkeypatch.setenv("CX_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CX_ADMIN_PASSWORD", settings.admin_password or "")
    monkeypatch.setenv("CX_DEMO_MODE", "1")
    monkeypatch.setenv("CX_EMBEDDED_WORKER", "0")
    get_settings.cache_clear()
    from cx.store import open_store

    open_store(settings, announce=False)
    with transaction(engine) as session:
        auth.ensure_demo_users(session, settings)
        session.add(Profile(profile_id="P-9", display_name="王伟", interaction_count=4, complaint_count=2))
    yield settings
    get_settings.cache_clear()


def _principal(engine: Engine, username: str):
    with transaction(engine) as session:
        return auth.principal_of(session.scalar(select(User).where(User.username == username)))


def _raise(engine: Engine, note: str = "客户第四次来电：冰箱仍未修好") -> int:
    owner = _principal(engine, "demo-cx-owner")
    with transaction(engine) as session:
        return lifecycle.raise_manual_alert(
            session,
            _principal(engine, "demo-agent"),
            profile_id="P-9",
            level="critical",
            note=note,
            owner_user_id=owner.user_id,
        ).id


def _open(tmp_path: Path, engine: Engine, settings: Settings, username: str, page: str, alert: int | None = None):
    app = signed_in_app(tmp_path, engine, settings, username)
    app.run()
    app.switch_page(page_path(page))
    if alert is not None:
        app.query_params["alert"] = str(alert)
    app.run()
    assert not app.exception, app.exception
    return app


def _texts(app) -> str:
    parts = [e.value for e in app.text] + [e.value for e in app.caption] + [e.value for e in app.markdown]
    return "\n".join(parts + [e.value for e in app.subheader])


@pytest.mark.parametrize(("role", "tabs"), [(Role.AGENT, 1), (Role.TEAM_LEAD, 2), (Role.CX_OWNER, 3)])
def test_each_role_opens_the_inbox_with_its_tabs(tmp_path, app_env, engine, role, tabs) -> None:
    """Tabs follow cx.access (alert.view_own / view_team / view_all); the empty inbox says what to do."""
    username = next(name for name, _d, r, _dep, _t in auth.DEMO_ACCOUNTS if r == role)
    app = _open(tmp_path, engine, app_env, username, "alerts")
    labels = [option.content for option in app.get("button_group")[0].proto.options]
    assert len(labels) == tabs, labels
    assert any("没有符合条件的预警" in i.value for i in app.info)


def test_owner_acknowledges_comments_and_resolves(tmp_path, app_env, engine) -> None:
    alert_id = _raise(engine)
    app = _open(tmp_path, engine, app_env, "demo-cx-owner", "alerts", alert_id)
    assert "客户第四次来电" in _texts(app)
    assert "1" in app.get("button_group")[0].proto.options[0].content  # Mine (1)
    app.button(key="alerts_acknowledge").click().run()
    assert not app.exception, app.exception
    app.text_area(key="alerts_comment").input("已联系客户，明天上门")  # form values go in with the submit
    app.button(key="FormSubmitter:alerts_comment_form-添加评论").click().run()
    app.text_area(key="alerts_cause").input("备件缺货")
    app.button(key="FormSubmitter:alerts_resolve_form-解决").click().run()
    assert not app.exception, app.exception
    with transaction(engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert.status == "resolved" and alert.root_cause == "备件缺货"
        kinds = session.scalars(select(AlertEvent.kind).where(AlertEvent.alert_id == alert_id)).all()
        assert kinds == ["raised", "acknowledge", "comment", "resolve"]
        views = session.scalars(select(AuditEntry).where(AuditEntry.action == "alert.view")).all()
        assert len(views) == 1  # audited once per opened alert, not once per rerun


def test_agent_sees_only_what_they_raised_or_own(tmp_path, app_env, engine) -> None:
    alert_id = _raise(engine)
    with transaction(engine) as session:
        other = lifecycle.raise_manual_alert(
            session,
            _principal(engine, "demo-cx-owner"),
            profile_id="P-9",
            level="info",
            note="内部跟进",
            owner_user_id=_principal(engine, "demo-cx-owner").user_id,
        ).id
    app = _open(tmp_path, engine, app_env, "demo-agent", "alerts", other)
    assert "内部跟进" not in _texts(app)  # not theirs: the detail says it cannot be found
    assert any(f"#{other}" in w.value for w in app.warning)
    app = _open(tmp_path, engine, app_env, "demo-agent", "alerts", alert_id)
    assert "客户第四次来电" in _texts(app)


RULE_YAML = """
name: 投诉关键词
level: warning
scope: {kind: interaction}
condition: {field: text, op: contains_any, value: [投诉, complaint]}
owners: [{user: demo-cx-owner}]
"""


def test_rules_editor_backtests_and_saves_yaml(tmp_path, app_env, engine) -> None:
    now = utcnow()
    load_interactions(
        engine,
        [{"id": f"b{i}", "at": now - timedelta(days=i), "profile": f"P-{i}", "text": "我要投诉"} for i in range(1, 6)],
    )
    app = _open(tmp_path, engine, app_env, "demo-cx-owner", "rules")
    assert any("还没有规则" in i.value for i in app.info)
    app.button(key="rules_new").click().run()
    app.toggle(key="rules_use_yaml").set_value(True).run()
    app.text_area(key="rules_yaml_text").input(RULE_YAML).run()
    assert not app.exception, app.exception
    assert any("规则有效" in s.value for s in app.success)
    app.button(key="rules_backtest_run").click().run()
    assert not app.exception, app.exception
    assert app.metric[0].value == "5"
    app.button(key="rules_save").click().run()
    with transaction(engine) as session:
        rule = session.scalar(select(AlertRule))
        assert rule.name == "投诉关键词" and rule.definition["condition"]["value"] == ["投诉", "complaint"]


def test_rules_editor_shows_every_problem(tmp_path, app_env, engine) -> None:
    app = _open(tmp_path, engine, app_env, "demo-cx-owner", "rules")
    app.button(key="rules_new").click().run()
    app.toggle(key="rules_use_yaml").set_value(True).run()
    app.text_area(key="rules_yaml_text").input("name: x\nlevel: loud\nscope: {kind: weekly}\n").run()
    texts = _texts(app)
    assert "level: 'loud' is not one of info, warning, critical" in texts
    assert "scope.kind: 'weekly' is not one of" in texts
    assert app.button(key="rules_save").disabled


def test_rules_builder_makes_a_valid_rule(tmp_path, app_env, engine) -> None:
    app = _open(tmp_path, engine, app_env, "demo-cx-owner", "rules")
    app.button(key="rules_new").click().run()
    app.text_input(key="rules_name").input("重复来电").run()
    assert not app.exception, app.exception
    assert any("规则有效" in s.value for s in app.success), _texts(app)
    app.button(key="rules_save").click().run()
    with transaction(engine) as session:
        rule = session.scalar(select(AlertRule))
        assert rule.name == "重复来电" and rule.definition["scope"] == {"kind": "customer", "window": "7d"}
