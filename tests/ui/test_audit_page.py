"""The audit page: search paged on the server, formula-safe export (audited), erasure/export and retention tabs."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine

from cx import audit_view
from cx.db import transaction
from cx.errors import PermissionDenied, ValidationError
from cx.models import AuditEntry, Profile
from cx.retention import RetentionConfig, load_retention
from cx.settings import Settings
from cx.types import utcnow
from tests.cx.privacy_fixtures import ADMIN, CX_OWNER, seed
from tests.ui.security_env import audit_rows, open_page, texts

EVIL = '=HYPERLINK("http://127.0.0.1:9/x","click")'


def _bulk(engine: Engine, n: int, **fields) -> None:
    now = utcnow()
    with transaction(engine) as session:
        for i in range(n):
            session.add(
                AuditEntry(
                    at=now - timedelta(minutes=i),
                    action="test.bulk",
                    username="bulk-user",
                    object_type="thing",
                    object_id=f"obj-{i:03d}",
                    outcome="ok" if i % 3 else "denied",
                    **fields,
                )
            )


def test_search_pages_on_the_server(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    _bulk(engine, 120)
    app = open_page(tmp_path, engine, app_env, "demo-admin", "audit")
    app.selectbox(key="audit_action").set_value("test.bulk").run()
    assert "共 120 条 · 第 1/3 页" in texts(app)
    assert len(app.dataframe[0].value) == 50
    assert app.dataframe[0].value.iloc[0, 5] == "obj-000"
    app.number_input(key="audit_page").set_value(3).run()
    assert len(app.dataframe[0].value) == 20 and app.dataframe[0].value.iloc[-1, 5] == "obj-119"
    app.selectbox(key="audit_outcome").set_value("denied").run()
    assert "共 40 条" in texts(app)
    app.text_input(key="audit_user").input("x' OR '1'='1").run()
    assert "没有匹配的审计记录" in texts(app)


def test_export_is_formula_safe_and_audited(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    with transaction(engine) as session:
        session.add(AuditEntry(at=utcnow(), action="test.evil", username="bulk-user", object_id=EVIL, outcome="ok"))
        nul = ("\x00",) if engine.dialect.name == "sqlite" else ()  # PostgreSQL text cannot hold NUL at all
        for prefix in ("+", "-", "@", "\t", "\r", *nul):
            session.add(
                AuditEntry(
                    at=utcnow(), action="test.evil", username="bulk-user", object_id=f"{prefix}1+1", outcome="ok"
                )
            )
    app = open_page(tmp_path, engine, app_env, "demo-admin", "audit")
    app.selectbox(key="audit_action").set_value("test.evil").run()
    app.button(key="audit_export").click().run()
    assert not app.exception, app.exception
    csv_bytes, xlsx_bytes = app.session_state["audit_export_data"]
    text = csv_bytes.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx_bytes))
    cells = [c.value for row in workbook.active.iter_rows() for c in row if isinstance(c.value, str)]
    object_ids = [c for c in cells if "1+1" in c or "HYPERLINK" in c]
    assert len(object_ids) == (7 if engine.dialect.name == "sqlite" else 6) and all(
        c.startswith("'") for c in object_ids
    )
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    exported = audit_rows(engine, "audit.export")
    assert [(e.username, e.detail["action"]) for e in exported] == [("demo-admin", "test.evil")]
    assert exported[0].detail["rows"] == len(object_ids)


def test_every_formula_trigger_is_neutralised_in_csv_and_excel() -> None:
    import polars as pl

    from cx.export import to_csv_bytes, to_excel_bytes

    cells = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\x00x", "safe", "a=b"]
    frame = pl.DataFrame({"v": cells})
    text = to_csv_bytes(frame).decode("utf-8-sig")
    for cell in cells[:7]:
        assert "'" + cell in text, repr(cell)
    workbook = openpyxl.load_workbook(io.BytesIO(to_excel_bytes(frame)))
    values = [row[0].value for row in workbook.active.iter_rows(min_row=2)]
    assert all(str(v).startswith("'") for v in values[:7]) and values[7:] == ["safe", "a=b"]


def test_search_service_validates_and_refuses_non_admins(engine: Engine) -> None:
    with pytest.raises(ValidationError, match="unknown outcome"):
        audit_view.AuditQuery(outcome="maybe")
    with pytest.raises(ValidationError, match="after the end date"):
        audit_view.AuditQuery(start=date(2026, 2, 1), end=date(2026, 1, 1))
    with pytest.raises(PermissionDenied), transaction(engine) as session:
        audit_view.search_audit(session, CX_OWNER, audit_view.AuditQuery())
    with pytest.raises(ValidationError, match="Page size"), transaction(engine) as session:
        audit_view.search_audit(session, ADMIN, audit_view.AuditQuery(), page_size=7)
    assert [(e.action, e.outcome) for e in audit_rows(engine)] == [("audit.view", "denied")]


def test_period_is_whole_days_in_the_store_time_zone(engine: Engine) -> None:
    with transaction(engine) as session:
        # 2026-03-01 23:30 in Shanghai is 15:30 UTC the same day; 2026-03-02 00:30 Shanghai is 16:30 UTC on the 1st
        session.add(AuditEntry(at=datetime(2026, 3, 1, 15, 30, tzinfo=UTC), action="t", object_id="in"))
        session.add(AuditEntry(at=datetime(2026, 3, 1, 16, 30, tzinfo=UTC), action="t", object_id="out"))
    query = audit_view.AuditQuery(start=date(2026, 3, 1), end=date(2026, 3, 1), timezone="Asia/Shanghai")
    with transaction(engine) as session:
        result = audit_view.search_audit(session, ADMIN, query)
    assert result.rows["object_id"].to_list() == ["in"]


def test_privacy_tab_erases_a_customer_after_confirmation(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    seed(engine)
    app = open_page(tmp_path, engine, app_env, "demo-admin", "audit")
    app.text_input(key="privacy_identifier").input("+86 138 0013 8000")
    app.button(key="privacy_find").click().run()
    assert "有 1 个客户画像持有此标识" in texts(app)
    assert app.button(key="privacy_erase").disabled
    app.checkbox(key="privacy_confirm").check().run()
    app.button(key="privacy_erase").click().run()
    assert not app.exception, app.exception
    assert "已删除" in texts(app)
    assert "13800138000" not in str(app.json[0].value)
    with transaction(engine) as session:
        assert session.get(Profile, "P-A") is None
    assert audit_rows(engine, "privacy.erase")[-1].username == "demo-admin"


def test_privacy_tab_exports_json(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    seed(engine)
    app = open_page(tmp_path, engine, app_env, "demo-admin", "audit")
    app.text_input(key="privacy_profile_id").input("P-A")
    app.button(key="privacy_export").click().run()
    assert not app.exception, app.exception
    assert audit_rows(engine, "profile.export")[-1].object_id == "P-A"


def test_retention_tab_saves_validated_settings(tmp_path: Path, app_env: Settings, engine: Engine) -> None:
    app = open_page(tmp_path, engine, app_env, "demo-admin", "audit")
    app.number_input(key="retention_days_quarantine").set_value(45)
    app.checkbox(key="retention_forever_interactions").check()
    app.button(key="FormSubmitter:retention_form-保存保留设置").click().run()
    assert not app.exception, app.exception
    with transaction(engine) as session:
        assert load_retention(session) == RetentionConfig(interactions=None, quarantine=45)
    app.number_input(key="retention_days_audit_log").set_value(30)
    app.button(key="FormSubmitter:retention_form-保存保留设置").click().run()
    assert "audit_log must keep at least 180 days" in texts(app)
    app.button(key="retention_run").click().run()
    assert "已执行保留策略" in texts(app)
    assert audit_rows(engine, "privacy.retention")[-1].detail is not None
