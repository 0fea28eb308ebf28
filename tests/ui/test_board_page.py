"""The KPI board page under AppTest: scoped boards, refusal of other departments, tiles, drill-down, exports."""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from cx import auth, boards, fact_cache
from cx import board_queries as bq
from cx.db import transaction
from cx.models import AuditEntry
from cx.settings import Settings, get_settings
from tests.apptest import direct_page_app
from tests.board_fixtures import load_board_fixture

#: Where AppTest's entry scripts go (set per test by app_env; not pages/, whose alerts.py shadows the package).
ENTRY_DIR = Path(".")


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine, tmp_path: Path) -> Settings:
    monkeypatch.setenv("CX_DATABASE_URL", settings.database_url)
    monkeypatch.setattr(sys.modules[__name__], "ENTRY_DIR", tmp_path)
    monkeypatch.setenv("CX_ADMIN_PASSWORD", settings.admin_password or "")
    monkeypatch.setenv("CX_DEMO_MODE", "1")
    get_settings.cache_clear()
    st.cache_data.clear()  # PostgreSQL reuses one database between cases: no figures from the previous case
    fact_cache.forget_all()
    from cx.store import open_store

    open_store(settings)
    with transaction(engine) as session:
        auth.ensure_demo_users(session, settings)
    yield settings
    get_settings.cache_clear()


@pytest.fixture
def loaded(app_env: Settings, engine: Engine) -> Settings:
    load_board_fixture(engine)
    return app_env


def board_app(engine: Engine, settings: Settings, username: str, page: str = "board") -> AppTest:
    with transaction(engine) as session:
        user = session.scalar(select(auth.User).where(auth.User.username == username))
        token = auth.start_session(session, auth.principal_of(user), settings)
    app = direct_page_app(ENTRY_DIR, page, 60)
    app.session_state["cx_token"] = token
    return app


def _tiles(app: AppTest) -> list[str]:
    """The labels (KPI name · status) of the board's tiles, as the page's one block of tile HTML carries them."""
    bodies = [h.proto.body for h in app.html if 'class="cx-tiles"' in h.proto.body]
    return [html.unescape(label) for body in bodies for label in re.findall(r'aria-label="([^"]*)"', body)]


def _texts(app: AppTest) -> str:
    parts = [m.value for m in app.markdown] + [c.value for c in app.caption] + [i.value for i in app.info]
    return "\n".join(str(p) for p in parts)


def test_department_head_sees_their_board(loaded: Settings, engine: Engine) -> None:
    app = board_app(engine, loaded, "demo-service-head").run()
    assert not app.exception, app.exception
    assert "客服部" in app.title[0].value
    labels = [label.split(" · ")[0] for label in _tiles(app)]
    assert labels[:4] == ["首次解决率", "首次响应时长", "平均处理时长", "平均应答速度"]
    assert all(any(word in label for word in ("达标", "关注", "未达标", "无目标")) for label in _tiles(app))
    assert len(_tiles(app)) == 8
    assert not app.selectbox(key="board_department") if "board_department" in app.session_state else True
    assert "坐席" not in app.button_group(key="board_dimension").options  # no agent level
    with transaction(engine) as session:
        viewed = session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "board.view")).all()
    assert viewed == ["department:service"]


def test_other_department_via_query_params_is_refused(loaded: Settings, engine: Engine) -> None:
    app = board_app(engine, loaded, "demo-service-head")
    app.query_params["department"] = "product"
    app.run()
    assert not app.exception
    assert [e.value for e in app.error] == ["您只能查看自己的看板。请从左侧菜单打开 KPI 看板查看。"]
    assert len(_tiles(app)) == 0
    with transaction(engine) as session:
        denied = session.scalars(
            select(AuditEntry.object_id).where(AuditEntry.outcome == "denied", AuditEntry.action.like("board.%"))
        ).all()
    assert denied == ["department:product"]


def test_other_department_via_session_state_is_refused(loaded: Settings, engine: Engine) -> None:
    app = board_app(engine, loaded, "demo-product-head")
    app.session_state["board_department"] = "service"
    app.run()
    assert len(app.error) == 1 and len(_tiles(app)) == 0


def test_admin_chooses_a_department_and_sees_agents(loaded: Settings, engine: Engine) -> None:
    app = board_app(engine, loaded, "demo-admin").run()
    assert not app.exception, app.exception
    assert "全公司" in app.title[0].value
    app.selectbox(key="board_department").select("product").run()
    assert not app.exception, app.exception
    assert "产品部" in app.title[0].value
    assert "坐席" in app.button_group(key="board_dimension").options


def test_team_lead_sees_the_team_board(loaded: Settings, engine: Engine) -> None:
    app = board_app(engine, loaded, "demo-team-lead").run()
    assert not app.exception, app.exception
    assert "hotline\\_a" in app.title[0].value or "hotline_a" in app.title[0].value


def test_drill_down_rows_are_masked(loaded: Settings, engine: Engine) -> None:
    app = board_app(engine, loaded, "demo-service-head")
    app.session_state["board_drill"] = bq.Slice(dimension="channel", value="phone", kpi="aht")
    app.run()
    assert not app.exception, app.exception
    frame = app.dataframe[0].value
    assert len(frame) > 0 and set(frame["channel"]) == {"phone"}
    assert set(frame["phone"]) == {"138****8000"}
    assert set(frame["touchpoint"]) <= {"repair", "returns", "presale_consult", "service_hotline"}
    assert frame["agent_id"].isna().all()


def test_empty_store_says_what_to_do(app_env: Settings, engine: Engine) -> None:
    app = board_app(engine, app_env, "demo-service-head").run()
    assert not app.exception, app.exception
    assert any("还没有 KPI 数据" in i.value for i in app.info)


def test_department_head_personalises_the_board(loaded: Settings, engine: Engine) -> None:
    app = board_app(engine, loaded, "demo-product-head").run()
    assert not app.exception, app.exception
    assert len(_tiles(app)) == 6
    app.toggle(key="board_personalise").set_value(True).run()
    app.button(key="board_personal_save").click().run()
    assert not app.exception, app.exception
    with transaction(engine) as session:
        saved = session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "board.save")).all()
    assert len(saved) == 1 and saved[0].startswith("user:")
    assert "您的个人看板" in _texts(app)


def test_admin_saves_a_default_board(app_env: Settings, engine: Engine) -> None:
    app = board_app(engine, app_env, "demo-admin", "board_settings").run()
    assert not app.exception, app.exception
    app.selectbox(key="board_settings_scope").select("department:delivery").run()
    app.button(key="board_settings_save").click().run()
    assert not app.exception, app.exception
    with transaction(engine) as session:
        admin = auth.principal_of(session.scalar(select(auth.User).where(auth.User.username == "demo-admin")))
        board = boards.load_board(session, admin, "department:delivery")
    assert board.version == 1 and board.tiles == boards.default_tiles("department:delivery")
    assert any("第 1 版" in c.value for c in app.caption)
