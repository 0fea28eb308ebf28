"""The voice-of-the-customer page under AppTest: empty states, every tab, masking per role, dictionary editing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import streamlit as st
from sqlalchemy import Engine, func, select

from cx import auth
from cx.db import transaction
from cx.models import AuditEntry, Interaction, UserDictionaryTerm
from cx.settings import Settings, get_settings
from etl.text import analyse_texts
from tests.apptest import page_path, signed_in_app
from ui.i18n import t

TEXTS = [
    ("shipping", "phone", "快递三天了还没发货，太慢了，请回电 13812345678", None),
    ("shipping", "chat", "访客：怎么修改收货地址？\n客服：您好，可以在订单页修改", None),
    ("shipping", "wechat", "如何修改收货地址", None),
    ("shipping", "app", "收货地址填错了，怎么修改？", None),
    (
        "repair",
        "email",
        "Hi,\n\nHow long is the warranty? Mail me at emily.chen@example.com\n\nThanks,\nEmily Chen",
        None,
    ),
    ("repair", "email", "How long is the warranty?", None),
    ("app_usage", "app", "建议App增加夜间模式", None),
    ("app_usage", "app", "The app crashes every time I open it, terrible.", "complaint"),
    ("service_hotline", "phone", "客服很耐心，一次就解决了，感谢", None),
    ("service_hotline", "phone", "好的，收到", None),
]


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
    yield settings
    get_settings.cache_clear()
    st.cache_data.clear()


def _seed(engine: Engine, settings: Settings) -> None:
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    start = datetime.combine(today - timedelta(days=5), datetime.min.time(), UTC)
    rows = []
    for i, (touchpoint, channel, text, kind) in enumerate(TEXTS):
        rows.append(
            {
                "interaction_id": f"s:{i}",
                "record_id": str(i),
                "source": "s",
                "channel": channel,
                "occurred_at": start + timedelta(hours=3 * i),
                "touchpoint": touchpoint,
                "kind": kind,
                "text": text,
                "name": "Emily Chen" if i == 4 else None,
            }
        )
    with transaction(engine) as session:
        session.add_all([Interaction(**row) for row in rows])
        session.flush()
        analyse_texts(session, pl.DataFrame(rows), timezone=settings.timezone)


def _texts(app) -> list[str]:
    """The verbatim texts shown (the table with a text column)."""
    column = t("voc.col.text", "zh")
    tables = [d.value for d in app.dataframe if column in d.value.columns]
    assert tables, "no verbatim table on the page"
    return tables[-1][column].to_list()


def _open(tmp_path: Path, engine: Engine, settings: Settings, username: str, tab: str | None = None):
    app = signed_in_app(tmp_path, engine, settings, username)
    app.switch_page(page_path("voc"))
    if tab:
        app.session_state["voc_tabs"] = t(f"voc.tab.{tab}", "zh")
    return app.run()


def test_empty_store_says_what_to_do(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = _open(tmp_path, engine, app_env, "demo-agent")
    assert not app.exception, app.exception
    assert app.info[0].value == t("voc.empty.none", "zh")
    admin = _open(tmp_path, engine, app_env, "admin")
    assert not admin.exception, admin.exception
    assert admin.button(key="voc_reanalyse") is not None  # an admin can analyse stored texts from here


def test_every_tab_renders(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    _seed(engine, app_env)
    app = _open(tmp_path, engine, app_env, "demo-cx-owner")
    assert [m.label for m in app.metric][0] == t("voc.metric.texts", "zh")
    assert app.metric[0].value == "10"
    for tab in ("keywords", "trends", "breakdown", "faq", "verbatims"):
        app.session_state["voc_tabs"] = t(f"voc.tab.{tab}", "zh")
        app.run()
        assert not app.exception, (tab, app.exception)
        assert not app.error, tab
        assert app.dataframe, f"{tab} shows no table"


def test_keywords_lead_to_masked_verbatims(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    _seed(engine, app_env)
    app = _open(tmp_path, engine, app_env, "demo-service-head", "keywords")
    assert not app.exception, app.exception
    assert app.selectbox(key="voc_kw_pick").options  # the top keywords to read
    app.selectbox(key="voc_kw_pick").set_value("快递").run()
    assert not app.exception, app.exception
    texts = _texts(app)
    assert texts and all("13812345678" not in x for x in texts)
    assert any("138****5678" in x for x in texts)
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).where(AuditEntry.action == "voc.view_verbatims")) == 1


def test_verbatims_are_masked_per_role(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    _seed(engine, app_env)
    agent = _open(tmp_path, engine, app_env, "demo-agent", "verbatims")
    assert not agent.exception, agent.exception
    agent.selectbox(key="voc_vb_channel").set_value("email").run()
    texts = "\n".join(_texts(agent))
    assert "emily.chen@example.com" not in texts and "e***@example.com" in texts
    assert "Emily Chen" in texts  # agents see names (cx.access), not contacts
    assert not [b for b in agent.button if b.key == "voc_vb_texts_prepare"]  # agents may not export
    head = _open(tmp_path, engine, app_env, "demo-service-head", "verbatims")
    head.selectbox(key="voc_vb_channel").set_value("email").run()
    texts = "\n".join(_texts(head))
    assert "Emily Chen" not in texts and "E**** C***" in texts
    owner = _open(tmp_path, engine, app_env, "demo-cx-owner", "verbatims")
    owner.selectbox(key="voc_vb_channel").set_value("email").run()
    texts = "\n".join(_texts(owner))
    assert "emily.chen@example.com" in texts
    owner.button(key="voc_vb_texts_prepare").click().run()
    assert not owner.exception, owner.exception
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).where(AuditEntry.action == "voc.export")) == 1


def test_faq_groups_the_address_question(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    _seed(engine, app_env)
    app = _open(tmp_path, engine, app_env, "demo-cx-owner", "faq")
    assert not app.exception, app.exception
    table = next(d.value for d in app.dataframe if t("voc.col.question", "zh") in d.value.columns)
    asked = dict(zip(table[t("voc.col.question", "zh")], table[t("voc.col.asked", "zh")], strict=True))
    assert max(asked.values()) == 3  # three wordings of "how do I change the delivery address"
    assert any("地址" in question for question, n in asked.items() if n == 3)


def test_only_admins_edit_the_dictionary(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    _seed(engine, app_env)
    owner = _open(tmp_path, engine, app_env, "demo-cx-owner")
    assert t("voc.tab.dictionary", "zh") not in [tab.label for tab in owner.tabs]
    app = _open(tmp_path, engine, app_env, "admin", "dictionary")
    assert not app.exception, app.exception
    app.text_input(key="voc_dict_term").input("Ｘ1 Pro")
    app.selectbox(key="voc_dict_category").set_value("product")
    app.button[[b.label for b in app.button].index(t("voc.dict.add", "zh"))].click().run()
    assert not app.exception, app.exception
    assert app.success[0].value == t("voc.dict.added", "zh", term="x1 pro")
    with transaction(engine) as session:
        assert session.scalar(select(UserDictionaryTerm.term)) == "x1 pro"
        assert session.scalar(select(func.count()).where(AuditEntry.action == "voc.dictionary_add")) == 1
    app.text_input(key="voc_dict_preview").input("我的X1 Pro手机").run()
    assert "x1 pro" in app.code[0].value.split(" | ")
    app.button(key="voc_reanalyse").click().run()
    assert not app.exception, app.exception
    assert app.success[-1].value.startswith(
        t("voc.dict.reanalysed", "zh", texts=10, complaints=0, questions=0, faq=0)[:4]
    )
