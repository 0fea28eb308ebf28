"""Two people edit the same journey map in two browsers: the stale save is refused with what changed, nothing is lost."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from cx import journey as jm
from cx.db import make_engine, transaction
from cx.models import AuditEntry
from tests.browser.conftest import LiveApp, sign_in, wait_for_app

BROWSER_ARGS = {"viewport": {"width": 1400, "height": 900}, "locale": "zh-CN"}


def _open_editor(browser, live_app: LiveApp, username: str):
    context = browser.new_context(**BROWSER_ARGS)
    page = context.new_page()
    sign_in(page, live_app, username)
    page.wait_for_selector("[data-testid=stSidebarUserContent]")
    page.goto(f"{live_app.url}/journey")
    wait_for_app(page)
    page.get_by_role("tab", name="编辑").click()
    wait_for_app(page)
    page.wait_for_selector("[data-testid=stForm]")
    return context, page


def _touchpoint_form(page):
    return page.locator("[data-testid=stForm]").first  # the selected touchpoint's form comes first


def _save(page) -> None:
    _touchpoint_form(page).get_by_role("button", name="保存").click()
    page.wait_for_timeout(300)
    wait_for_app(page)


def test_second_stale_save_shows_the_conflict_and_loses_nothing(browser, live_app: LiveApp) -> None:
    context_a, page_a = _open_editor(browser, live_app, "demo-cx-owner")
    context_b, page_b = _open_editor(browser, live_app, "demo-admin")
    try:
        # both opened version 1; A saves first
        _touchpoint_form(page_a).get_by_label("名称（中文）").fill("官网浏览（A 改）")
        _save(page_a)
        page_a.get_by_text("已保存为第 2 版").wait_for(timeout=60_000)

        # B still edits version 1: the save is refused with who changed what
        name_en_b = _touchpoint_form(page_b).get_by_label("名称（英文）")
        name_en_b.fill("Website (changed by B)")
        _save(page_b)
        alert = page_b.locator("[data-testid=stAlertContentError]").filter(has_text="未保存")
        alert.wait_for(timeout=60_000)
        message = alert.inner_text()
        assert "第 1 版" in message and "第 2 版" in message and "CX owner" in message
        assert "官网浏览（A 改）" in message  # what changed since B's version
        expect(_touchpoint_form(page_b).get_by_label("名称（英文）")).to_have_value("Website (changed by B)")

        # B loads the newest version keeping the input, then saves: both changes are kept
        page_b.get_by_role("button", name="加载第 2 版并保留我的输入").click()
        expect(alert).to_have_count(0, timeout=60_000)  # the rerun with version 2 has rendered
        wait_for_app(page_b)
        form_b = _touchpoint_form(page_b)
        expect(form_b.get_by_label("名称（中文）")).to_have_value("官网浏览（A 改）", timeout=60_000)
        expect(form_b.get_by_label("名称（英文）")).to_have_value("Website (changed by B)")
        _save(page_b)
        page_b.get_by_text("已保存为第 3 版").wait_for(timeout=60_000)
    finally:
        context_a.close()
        context_b.close()

    engine = make_engine(live_app.database_url)
    try:
        with transaction(engine) as session:
            journey = jm.load_journey(session)
            refused = session.scalars(
                select(AuditEntry).where(AuditEntry.action == "journey.edit", AuditEntry.outcome == "conflict")
            ).all()
    finally:
        engine.dispose()
    web = journey.touchpoint("web_browse")
    assert journey.version == 3
    assert (web.name_en, web.name_zh) == ("Website (changed by B)", "官网浏览（A 改）")
    assert [r.username for r in refused] == ["demo-admin"]
