"""The team workload page under AppTest: a team lead sees their team, an admin picks one."""

from __future__ import annotations

from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from cx.settings import Settings
from tests.board_fixtures import load_board_fixture
from tests.ui.test_board_page import app_env, board_app  # noqa: F401 - the shared store fixture


def _app(engine: Engine, settings: Settings, username: str) -> AppTest:
    return board_app(engine, settings, username, "team")


def test_team_lead_and_admin(app_env: Settings, engine: Engine) -> None:  # noqa: F811
    empty = _app(engine, app_env, "demo-team-lead").run()
    assert not empty.exception, empty.exception
    assert any("没有处理记录" in i.value for i in empty.info)
    load_board_fixture(engine)
    lead = _app(engine, app_env, "demo-team-lead").run()
    assert not lead.exception, lead.exception
    assert "hotline" in lead.title[0].value
    table = lead.dataframe[0].value
    assert len(table) == 5 and set(table["agent_id"]) == {f"agent{i}" for i in range(1, 6)}
    admin = _app(engine, app_env, "demo-admin").run()
    assert not admin.exception, admin.exception
    admin.selectbox(key="team_pick").select("hotline_b").run()
    assert not admin.exception and "hotline\\_b" in admin.title[0].value
