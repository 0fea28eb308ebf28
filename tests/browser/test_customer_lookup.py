"""In a real browser, on the demo data: an agent finds a customer by a differently formatted phone number, opens
the timeline and escalates; the CX owner the alert was given to sees it on the customer's profile."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from cx import auth
from cx.db import transaction
from cx.models import Alert, Identifier, Profile
from cx.settings import load_settings
from cx.store import open_store
from tests.browser.conftest import ADMIN_PASSWORD, LiveApp, sign_in, start_app, stop_app, wait_for_app

DEMO_CUSTOMERS = 300
NOTE = "包裹两次丢失，客户要求退款 — escalated from the browser test"


@dataclass(frozen=True)
class DemoCustomer:
    profile_id: str
    name: str
    phone_e164: str


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveApp, DemoCustomer]]:
    pipeline = pytest.importorskip("etl.pipeline")
    tmp_path = tmp_path_factory.mktemp("customers")
    database_url = f"sqlite:///{tmp_path / 'cx.db'}"
    settings = load_settings(
        environ={"CX_DATABASE_URL": database_url, "CX_ADMIN_PASSWORD": ADMIN_PASSWORD, "CX_DEMO_MODE": "1"},
        secrets_path=tmp_path / "none.toml",
    )
    engine = open_store(settings, announce=False)
    pipeline.load_demo(engine, settings, customers=DEMO_CUSTOMERS, seed=7)
    with transaction(engine) as session:
        auth.ensure_demo_users(session, settings)
        # a demo customer whose phone number belongs to no one else, with the most contacts
        single = (
            select(Identifier.value)
            .where(Identifier.id_type == "phone")
            .group_by(Identifier.value)
            .having(func.count() == 1)
            .subquery()
        )
        row = session.execute(
            select(Profile.profile_id, Profile.display_name, Profile.primary_phone)
            .join(single, single.c.value == Profile.primary_phone)
            .where(Profile.display_name.is_not(None), Profile.primary_phone.like("+861%"))
            .order_by(Profile.interaction_count.desc(), Profile.profile_id)
            .limit(1)
        ).one()
    engine.dispose()
    app = start_app(tmp_path, database_url)
    yield app, DemoCustomer(row.profile_id, row.display_name, row.primary_phone)
    stop_app(app)


def _other_format(e164: str) -> str:
    """``+8613812345678`` -> ``+86-138-1234-5678`` (how a customer may dictate it)."""
    national = e164.removeprefix("+86")
    return f"+86-{national[:3]}-{national[3:7]}-{national[7:]}"


def test_agent_finds_escalates_and_cx_owner_sees_it(browser, page, demo_app) -> None:
    app, customer = demo_app
    sign_in(page, app, "demo-agent")
    page.goto(f"{app.url}/customers")
    wait_for_app(page)
    search = page.locator(".st-key-customers_query input")
    search.wait_for()
    page.wait_for_function("() => document.activeElement && document.activeElement.closest('.st-key-customers_query')")
    search.fill(_other_format(customer.phone_e164))
    search.press("Enter")
    page.wait_for_timeout(600)
    wait_for_app(page)

    # the profile opens at once, contacts masked for an agent
    page.get_by_role("heading", name=customer.name).wait_for()
    assert f"profile={customer.profile_id}" in page.url
    main = page.locator("[data-testid=stMain]")
    national = customer.phone_e164.removeprefix("+86")
    assert f"{national[:3]}****{national[-4:]}" in main.inner_text()
    assert national not in main.inner_text()

    # the timeline: newest contact first; open it
    page.get_by_role("tab", name="接触时间线").click()
    first = page.locator("[role=tabpanel]:visible [data-testid=stExpander]").first
    first.locator("summary").click()
    first.get_by_text(re.compile("来源记录")).wait_for()

    # escalate to the CX owner
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

    with transaction(_engine(app)) as session:
        alert = session.scalar(select(Alert).where(Alert.profile_id == customer.profile_id, Alert.origin == "manual"))
    assert alert is not None and alert.level == "warning"

    # the CX owner sees the escalation on the customer's profile (and the badge of alerts assigned to them)
    owner_context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    try:
        owner_page = owner_context.new_page()
        sign_in(owner_page, app, "demo-cx-owner")
        owner_page.get_by_text(re.compile(r"\d+ 条待处理预警")).wait_for()
        owner_page.goto(f"{app.url}/customers?profile={customer.profile_id}")
        wait_for_app(owner_page)
        owner_page.get_by_role("heading", name=customer.name).wait_for()
        body = owner_page.locator("[data-testid=stMain]").inner_text()
        assert f"#{alert.id}" in body and "包裹两次丢失" in body
        assert customer.phone_e164 in body  # CX owners see contacts unmasked
    finally:
        owner_context.close()


def _engine(app: LiveApp):
    from cx.db import get_engine

    return get_engine(app.database_url)
