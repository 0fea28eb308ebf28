"""Tampered query parameters and session state naming another department, alert or profile are refused, and
personal data is masked per role in page output — also right after another role filled the caches."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from cx.db import transaction
from cx.models import Alert, AuditEntry
from cx.settings import Settings
from tests.apptest import page_path, signed_in_app
from tests.cx.privacy_fixtures import EMAIL, PHONE, WECHAT, seed
from tests.ui.security_env import audit_rows

RAW_PII = (PHONE, "13800138000", EMAIL, WECHAT)


def _page_text(app: AppTest) -> str:
    """Everything the run rendered (every element's protobuf, and dataframes as CSV), for leak checks."""
    parts: list[str] = []

    def walk(node: object) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(app._tree)
    parts += [frame.value.to_csv() for frame in app.dataframe]
    return "\n".join(parts)


def _open(tmp_path: Path, engine: Engine, settings: Settings, username: str, page: str, **query: str) -> AppTest:
    app = signed_in_app(tmp_path, engine, settings, username)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, app.exception
    app.switch_page(page_path(page))
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, app.exception
    return app


@pytest.fixture
def store(app_env: Settings, engine: Engine) -> Settings:
    seed(engine)
    return app_env


def _needs(page: str) -> None:
    if not Path(page_path(page)).is_file():
        pytest.skip(f"page {page} is not built yet")


def test_board_refuses_another_department_by_url_and_by_session_state(
    tmp_path: Path, store: Settings, engine: Engine
) -> None:
    _needs("board")
    app = _open(tmp_path, engine, store, "demo-service-head", "board", department="product")
    errors = [e.value for e in app.error]
    assert errors and all("产品部" not in t.value for t in app.title), "another department's board was shown"
    denied = [e for e in audit_rows(engine) if e.outcome == "denied"]
    assert [(d.object_id, d.username) for d in denied] == [("department:product", "demo-service-head")]
    (tmp_path / "state").mkdir()
    app = signed_in_app(tmp_path / "state", engine, store, "demo-service-head").run()
    app.switch_page(page_path("board"))
    app.session_state["board_department"] = "marketing"
    app.run()
    assert not app.exception, app.exception
    assert [e.value for e in app.error], "a department named in session state was not refused"


def test_alert_of_someone_else_is_not_shown_to_an_agent(tmp_path: Path, store: Settings, engine: Engine) -> None:
    _needs("alerts")
    with transaction(engine) as session:
        alert_id = session.scalar(select(Alert.id).where(Alert.dedup_key == "manual:P-A:1"))
    app = _open(tmp_path, engine, store, "demo-agent", "alerts", alert=str(alert_id))
    shown = " ".join(s.value for s in app.subheader)
    assert "客户投诉" not in shown, f"the agent saw alert #{alert_id} by URL: {shown}"
    assert not [m for m in app.markdown if f"#{alert_id}" in m.value]


def test_profile_by_url_is_masked_for_an_agent(tmp_path: Path, store: Settings, engine: Engine) -> None:
    _needs("customers")
    app = _open(tmp_path, engine, store, "demo-agent", "customers", profile="P-A")
    text = _page_text(app)
    assert "138****8000" in text, "the profile did not open for the agent (it may: agents look customers up)"
    leaked = [value for value in RAW_PII if value in text]
    assert not leaked, f"unmasked personal data in the agent's page: {leaked}"
    views = audit_rows(engine, "profile.view")
    assert [(v.object_id, v.username) for v in views][-1] == ("P-A", "demo-agent")


def test_masking_holds_after_a_cx_owner_warmed_the_caches(tmp_path: Path, store: Settings, engine: Engine) -> None:
    _needs("customers")
    (tmp_path / "owner").mkdir()
    (tmp_path / "agent").mkdir()
    owner = _open(tmp_path / "owner", engine, store, "demo-cx-owner", "customers", profile="P-A")
    assert PHONE in _page_text(owner) or "13800138000" in _page_text(owner), "a CX owner sees contacts unmasked"
    agent = _open(tmp_path / "agent", engine, store, "demo-agent", "customers", profile="P-A")
    leaked = [value for value in RAW_PII if value in _page_text(agent)]
    assert not leaked, f"the agent got the CX owner's cached, unmasked data: {leaked}"
    lead = _open(tmp_path / "agent", engine, store, "demo-team-lead", "customers", profile="P-A")
    assert not [value for value in RAW_PII if value in _page_text(lead)]


def test_audit_rows_hold_no_raw_personal_data(tmp_path: Path, store: Settings, engine: Engine) -> None:
    _needs("customers")
    app = signed_in_app(tmp_path, engine, store, "demo-agent").run()
    app.switch_page(page_path("customers")).run()
    app.text_input(key="customers_query").input("138 0013 8000").run()
    assert not app.exception, app.exception
    with transaction(engine) as session:
        rows = session.scalars(select(AuditEntry)).all()
    dumped = " ".join(f"{r.username} {r.object_id} {r.detail}" for r in rows)
    assert not [value for value in (*RAW_PII, "138 0013 8000") if value in dumped]
