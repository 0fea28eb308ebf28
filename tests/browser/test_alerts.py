"""In a real browser: an agent raises an alert from a customer's profile, it lands in the CX owner's inbox (badge
and detail), and the owner acknowledges, comments and resolves it."""

from __future__ import annotations

import re

from sqlalchemy import select

from cx.db import get_engine, transaction
from cx.models import Alert, AlertEvent, Profile
from tests.browser.conftest import LiveApp, sign_in, wait_for_app

NOTE = "冰箱第三次维修仍未修好，客户要求上门 — from the alerts browser test"


def _store(app: LiveApp):
    return get_engine(app.database_url)


def test_agent_raises_from_profile_and_owner_works_it(browser, page, live_app: LiveApp) -> None:
    with transaction(_store(live_app)) as session:
        if session.get(Profile, "P-BROWSER") is None:
            session.add(Profile(profile_id="P-BROWSER", display_name="李娜", interaction_count=3, complaint_count=1))

    # the agent escalates from the customer's profile
    sign_in(page, live_app, "demo-agent")
    page.goto(f"{live_app.url}/customers?profile=P-BROWSER")
    wait_for_app(page)
    page.get_by_role("button", name=re.compile("升级")).click()
    popover = page.locator("[data-testid=stPopoverBody]")
    popover.wait_for()
    popover.locator("[data-testid=stSelectbox]").first.click()
    page.get_by_role("option", name=re.compile("CX owner 体验负责人")).click()
    popover.locator("textarea").fill(NOTE)
    popover.get_by_role("button", name="提交预警").click()
    page.wait_for_timeout(300)
    wait_for_app(page)
    page.get_by_text(re.compile(r"已提交预警 #\d+")).wait_for()
    with transaction(_store(live_app)) as session:
        alert = session.scalar(select(Alert).where(Alert.profile_id == "P-BROWSER", Alert.origin == "manual"))
    assert alert is not None and alert.status == "open"

    # the CX owner sees the badge, opens the inbox (as the notification link does) and works the alert
    owner_context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    try:
        owner = owner_context.new_page()
        sign_in(owner, live_app, "demo-cx-owner")
        owner.get_by_text(re.compile(r"1 条待处理预警")).wait_for()
        owner.goto(f"{live_app.url}/alerts?alert={alert.id}")
        wait_for_app(owner)
        main = owner.locator("[data-testid=stMain]")
        main.get_by_text("冰箱第三次维修仍未修好", exact=False).first.wait_for()
        assert "我的（1）" in main.inner_text()

        owner.get_by_role("button", name="确认", exact=True).click()
        owner.wait_for_timeout(300)
        wait_for_app(owner)
        main.get_by_text("已确认").first.wait_for()

        owner.get_by_label("评论").fill("已电话联系客户，安排明天上门")
        owner.get_by_role("button", name="添加评论").click()
        owner.wait_for_timeout(300)
        wait_for_app(owner)
        main.get_by_text("已电话联系客户，安排明天上门").wait_for()

        owner.get_by_label("根本原因").fill("压缩机备件缺货")
        owner.get_by_role("button", name="解决", exact=True).click()
        owner.wait_for_timeout(300)
        wait_for_app(owner)
        main.get_by_text("压缩机备件缺货").first.wait_for()
    finally:
        owner_context.close()

    with transaction(_store(live_app)) as session:
        done = session.get(Alert, alert.id)
        kinds = session.scalars(select(AlertEvent.kind).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id))
        assert done.status == "resolved" and done.root_cause == "压缩机备件缺货"
        assert list(kinds) == ["raised", "acknowledge", "comment", "resolve"]
