"""The data-sources page (admins) under AppTest, and the stale-source banner."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cx.access import Principal, Role
from cx.db import transaction
from cx.errors import PermissionDenied
from cx.settings import Settings, get_settings
from cx.types import utcnow
from etl import pipeline, runs
from tests.apptest import page_path, signed_in_app
from tests.etl.conftest import GOOD_ROWS, calls_csv
from tests.ui.security_env import add_demo_users


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch, engine: Engine, settings: Settings, export_dir: Path) -> Settings:
    monkeypatch.setenv("CX_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CX_ADMIN_PASSWORD", settings.admin_password or "")
    monkeypatch.setenv("CX_DEMO_MODE", "1")
    monkeypatch.setenv("CX_EMBEDDED_WORKER", "0")
    get_settings.cache_clear()
    from cx.store import open_store

    open_store(settings, announce=False)
    add_demo_users(engine)
    rows = [
        *GOOD_ROWS,
        ",2026/03/05 12:00:00,13800138000,,,A1,1,1,1,N,Y,,,,,,,",
        GOOD_ROWS[0].replace("C1", "C7").replace(",9,", ",11,"),
    ]
    (export_dir / "calls_1.csv").write_text(calls_csv(rows), "utf-8")
    pipeline.run(engine, settings.with_overrides(quarantine_max_share=0.5), [export_dir])
    yield settings
    get_settings.cache_clear()


def test_admin_sees_runs_quarantine_and_freshness(tmp_path: Path, engine: Engine, loaded: Settings) -> None:
    app = signed_in_app(tmp_path, engine, loaded, "demo-admin").run()
    app.switch_page(page_path("data")).run()
    assert not app.exception
    assert [tab.label for tab in app.tabs] == ["最近运行", "隔离数据", "数据源新鲜度"]
    runs_table, quarantine_table, sources_table = app.dataframe[0], app.dataframe[-2], app.dataframe[-1]
    assert runs_table.value["rows_quarantined"].tolist() == [2]
    assert sorted(quarantine_table.value["rule"].tolist()) == ["range", "required"]
    assert sources_table.value["source"].tolist() == ["hotline"]
    app.selectbox(key="data_q_rule").select("range").run()
    assert not app.exception
    assert app.dataframe[-2].value["reason"].tolist() == ["nps: '11' is outside 0–10"]
    app.button(key="data_q_prepare").click().run()
    assert not app.exception and len(app.get("download_button")) == 2


def test_the_data_functions_are_for_admins_only(engine: Engine, loaded: Settings) -> None:
    admin = Principal(1, "admin", "Admin", Role.ADMIN)
    owner = Principal(2, "owner", "Owner", Role.CX_OWNER)
    filters = runs.QuarantineFilter()
    readers = (
        lambda p: runs.recent_runs(session, p),
        lambda p: runs.source_freshness(session, p, loaded),
        lambda p: runs.quarantine_options(session, p),
        lambda p: runs.quarantine_page(session, p, filters),
        lambda p: runs.quarantine_export(session, p, filters),
    )
    with transaction(engine) as session:
        for read in readers:
            assert read(admin) is not None
            for refused in (owner, None):
                with pytest.raises(PermissionDenied):
                    read(refused)
        assert [r.id for r in runs.read_recent_runs(session)] == [r.id for r in runs.recent_runs(session, admin)]


def test_other_roles_do_not_get_the_page(tmp_path: Path, engine: Engine, loaded: Settings) -> None:
    app = signed_in_app(tmp_path, engine, loaded, "demo-cx-owner").run()
    assert not app.exception
    registered = {str(info.get("script_path")) for info in app._registered_pages.values()}
    assert page_path("home") in registered and page_path("data") not in registered


def test_stale_sources(engine: Engine, loaded: Settings) -> None:
    lead = Principal(1, "lead", "Lead", Role.TEAM_LEAD)
    with transaction(engine) as session:
        assert runs.stale_sources(session, lead, loaded) == []
        later = utcnow() + timedelta(hours=49)
        stale = runs.stale_sources(session, lead, loaded, now=later)
        with pytest.raises(PermissionDenied):  # the banner is part of the boards
            runs.stale_sources(session, Principal(2, "agent", "Agent", Role.AGENT), loaded)
    assert [s.source for s in stale] == ["hotline"] and stale[0].threshold_hours == 48
    with pytest.raises(Exception, match="positive"):
        runs.FreshnessPolicy(stale_after=timedelta(0))
