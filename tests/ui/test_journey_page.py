"""The journey-map page under AppTest: map cards, touchpoint detail, observed journeys, editing with conflicts, history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import streamlit as st
from sqlalchemy import Engine, select

from cx import auth
from cx import journey as jm
from cx.db import transaction
from cx.models import Alert, AuditEntry, DailyFact, Interaction, User
from cx.settings import Settings, get_settings
from tests.apptest import page_path, signed_in_app
from ui.i18n import t


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine) -> Settings:
    monkeypatch.setenv("CX_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CX_ADMIN_PASSWORD", settings.admin_password or "")
    monkeypatch.setenv("CX_DEMO_MODE", "1")
    get_settings.cache_clear()
    st.cache_data.clear()
    from cx.store import open_store

    open_store(settings)
    with transaction(engine) as session:
        auth.ensure_demo_users(session, settings)
        jm.ensure_default_journey(session)
        _seed(session, settings)
    yield settings
    get_settings.cache_clear()


def _seed(session, settings: Settings) -> None:
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    noon = datetime.combine(today - timedelta(days=3), datetime.min.time(), UTC) + timedelta(hours=4)
    rows = [
        ("p1", 0, "web_browse", "pre_sale", "web", "visit", None, None),
        ("p1", 1, "checkout", "purchase", "app", "purchase", None, None),
        ("p1", 30, "shipping", "delivery", "phone", "complaint", "我是王伟，快递太慢，请回电 13800138000", 3),
        ("p2", 2, "web_browse", "pre_sale", "web", "visit", None, None),
        ("p2", 3, "shipping", "delivery", "app", "complaint", "物流一直不更新", None),
    ]
    for i, (profile, hours, tp, stage, channel, kind, text, nps) in enumerate(rows):
        session.add(
            Interaction(
                interaction_id=f"s:{i}", record_id=str(i), source="s", occurred_at=noon + timedelta(hours=hours),
                profile_id=profile, touchpoint=tp, stage=stage, channel=channel, kind=kind, text=text, nps=nps,
                name="王伟" if profile == "p1" else None,
            )
        )  # fmt: skip
    day = today - timedelta(days=3)
    session.add_all(
        [
            DailyFact(day=day, touchpoint="shipping", stage="delivery", channel="phone", interactions=40,
                      inbound_contacts=40, complaints=30, nps_responses=10, nps_promoters=1, nps_detractors=7),
            DailyFact(day=day, touchpoint="web_browse", stage="pre_sale", channel="web", interactions=50,
                      inbound_contacts=50, complaints=2, nps_responses=10, nps_promoters=6, nps_detractors=1),
            DailyFact(day=day - timedelta(days=30), touchpoint="shipping", stage="delivery", channel="phone",
                      interactions=40, inbound_contacts=40, complaints=10, nps_responses=10, nps_promoters=5,
                      nps_detractors=2),
        ]
    )  # fmt: skip
    session.add(
        Alert(dedup_key="k1", title="Shipping complaints up", level="warning", entity_type="touchpoint",
              entity_id="shipping", touchpoint="shipping", status="open", owner_department="delivery")
    )  # fmt: skip


def _open(tmp_path: Path, engine: Engine, settings: Settings, username: str, tab: str | None = None):
    app = signed_in_app(tmp_path, engine, settings, username)
    app.switch_page(page_path("journey"))
    if tab:
        app.session_state["jm_tabs"] = t(f"journey.tab.{tab}", "zh")
    return app.run()


def _texts(app) -> str:
    parts = [m.value for m in app.markdown] + [c.value for c in app.caption] + [x.value for x in app.text]
    return "\n".join(str(p) for p in parts)


def test_map_shows_every_touchpoint_card_with_health(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = _open(tmp_path, engine, app_env, "demo-product-head")
    assert not app.exception, app.exception
    text = _texts(app)
    for tp in jm.default_journey().touchpoints:
        assert tp.name_zh in text, tp.name_zh
    badges = [m.value for m in app.markdown if "-badge[" in m.value]
    # shipping: complaint rate 75 % vs target 30 %, NPS -60 vs 20: off target; web_browse NPS 50 on target
    assert badges.count(":red-badge[▼ 未达标]") == 1 and badges.count(":green-badge[● 达标]") == 1
    assert badges.count(":gray-badge[○ 无数据]") == len(jm.default_journey().touchpoints) - 2
    assert "● NPS 净推荐值: 50.0 / 20.0" in text and "▼ 投诉率: 75.0 % / 30.0 %" in text
    assert "1 条未关闭预警" in text
    # a department head may view but not edit
    assert t("journey.tab.edit", "zh") not in [tab.label for tab in app.tabs]


def test_touchpoint_detail_masks_verbatims_for_the_role(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = _open(tmp_path, engine, app_env, "demo-delivery-head")
    app.button(key="jm_open_shipping").click().run()
    assert not app.exception, app.exception
    shown = str([df.value for df in app.dataframe])
    assert "138****8000" in shown and "13800138000" not in shown
    assert "我是王*" in shown and "王伟" not in shown  # the customer's name, masked for a department head
    assert "Shipping complaints up" in shown
    assert "物流" in str([m.value for m in app.markdown]) or app.get("plotly_chart")


def test_observed_journeys_tab_renders_the_sankey(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = _open(tmp_path, engine, app_env, "demo-agent", tab="observed")
    assert not app.exception, app.exception
    assert app.get("plotly_chart"), "the Sankey chart is missing"
    assert app.metric[0].value == "2"  # two customers
    app.selectbox(key="jm_outcome").select("detractors").run()
    assert not app.exception
    assert app.metric[0].value == "1"


def test_edit_saves_and_a_stale_save_shows_the_conflict_keeping_input(
    tmp_path: Path, app_env: Settings, engine: Engine
) -> None:
    app = _open(tmp_path, engine, app_env, "demo-cx-owner", tab="edit")
    assert not app.exception, app.exception
    app.selectbox(key="jm_edit_tp").select("shipping").run()
    app.text_input(key="jm_touchpoint_shipping_en_1").input("Shipping & delivery")
    app.button(key="FormSubmitter:jm_form_touchpoint_shipping_1-保存").click().run()
    assert not app.exception, app.exception
    assert any("已保存为第 2 版" in s.value for s in app.success)
    with transaction(engine) as session:
        assert jm.load_journey(session).touchpoint("shipping").name_en == "Shipping & delivery"
        admin = session.scalar(select(User).where(User.username == "demo-admin"))
        # meanwhile someone else saves version 3
        jm.update_touchpoint(session, auth.principal_of(admin), "default", 2, "shipping", owner_department="service")
    app.text_input(key="jm_touchpoint_shipping_zh_2").input("物流与配送")
    app.button(key="FormSubmitter:jm_form_touchpoint_shipping_2-保存").click().run()
    assert not app.exception, app.exception
    errors = "\n".join(e.value for e in app.error)
    assert "未保存" in errors and "第 2 版" in errors and "第 3 版" in errors and "负责部门" in errors
    assert app.text_input(key="jm_touchpoint_shipping_zh_2").value == "物流与配送"  # nothing lost
    with transaction(engine) as session:
        stored = jm.load_journey(session)
    assert stored.version == 3 and stored.touchpoint("shipping").name_zh == "物流配送"
    app.button(key="jm_reload").click().run()
    assert app.text_input(key="jm_touchpoint_shipping_zh_3").value == "物流与配送"  # re-applied onto version 3
    app.button(key="FormSubmitter:jm_form_touchpoint_shipping_3-保存").click().run()
    assert not app.exception, app.exception
    with transaction(engine) as session:
        stored = jm.load_journey(session)
    shipping = stored.touchpoint("shipping")
    assert stored.version == 4 and shipping.name_zh == "物流与配送" and shipping.owner_department == "service"


def test_history_restores_an_earlier_version(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    with transaction(engine) as session:
        owner = session.scalar(select(User).where(User.username == "demo-cx-owner"))
        jm.delete_touchpoint(session, auth.principal_of(owner), "default", 1, "billing")
    app = _open(tmp_path, engine, app_env, "demo-admin", tab="history")
    assert not app.exception, app.exception
    assert "删除了触点 账单" in str(app.dataframe[0].value)
    app.selectbox(key="jm_history_version").select(1).run()
    app.button(key="jm_restore_1").click().run()
    assert not app.exception, app.exception
    assert any("第 3 版" in s.value for s in app.success)
    with transaction(engine) as session:
        stored = jm.load_journey(session)
    assert stored.version == 3 and "billing" in {tp.key for tp in stored.touchpoints}


def test_agent_cannot_restore(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    with transaction(engine) as session:
        owner = session.scalar(select(User).where(User.username == "demo-cx-owner"))
        jm.delete_touchpoint(session, auth.principal_of(owner), "default", 1, "billing")
    app = _open(tmp_path, engine, app_env, "demo-agent", tab="history")
    app.selectbox(key="jm_history_version").select(1).run()
    assert not app.exception
    assert not [b for b in app.button if b.key and b.key.startswith("jm_restore")]


def test_rule_preview_and_invalid_rule_keep_the_input(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = _open(tmp_path, engine, app_env, "demo-cx-owner", tab="edit")
    app.selectbox(key="jm_edit_tp").select("shipping").run()
    rule = "any: [{field: text, op: contains_any, value: [物流, 快递]}]"
    app.text_area(key="jm_touchpoint_shipping_rule_1").input(rule)
    app.button(key="FormSubmitter:jm_form_touchpoint_shipping_1-预览匹配").click().run()
    assert not app.exception, app.exception
    assert any("5 条交互中有 2 条匹配" in i.value for i in app.info), [i.value for i in app.info]
    app.text_area(key="jm_touchpoint_shipping_rule_1").input("any: [{field: colour, op: eq, value: red}]")
    app.button(key="FormSubmitter:jm_form_touchpoint_shipping_1-保存").click().run()
    assert any("未保存" in e.value and "colour" in e.value for e in app.error)
    assert app.text_area(key="jm_touchpoint_shipping_rule_1").value == "any: [{field: colour, op: eq, value: red}]"
    with transaction(engine) as session:
        assert jm.load_journey(session).version == 1
        views = session.scalars(select(AuditEntry).where(AuditEntry.action == "journey.view_touchpoint")).all()
    assert views == []
