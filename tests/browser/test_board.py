"""In a real browser: a department head opens their board, changes the date range, drills down from a chart and
exports the board's table; another department's board is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from cx import auth
from cx.db import transaction
from cx.settings import load_settings
from cx.store import open_store
from tests.board_fixtures import load_board_fixture
from tests.browser.conftest import ADMIN_PASSWORD, LiveApp, sign_in, start_app, stop_app, wait_for_app
from ui.board_widgets import AXIS_TICKS


@pytest.fixture(scope="module")
def board_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    tmp_path = tmp_path_factory.mktemp("board")
    database_url = f"sqlite:///{tmp_path / 'cx.db'}"
    settings = load_settings(
        environ={"CX_DATABASE_URL": database_url, "CX_ADMIN_PASSWORD": ADMIN_PASSWORD, "CX_DEMO_MODE": "1"},
        secrets_path=tmp_path / "none.toml",
    )
    engine = open_store(settings, announce=False)
    with transaction(engine) as session:
        auth.ensure_demo_users(session, settings)
    load_board_fixture(engine)
    engine.dispose()
    app = start_app(tmp_path, database_url)
    yield app
    stop_app(app)


def _open_board(page, app: LiveApp) -> None:
    page.goto(f"{app.url}/board")
    wait_for_app(page)
    page.wait_for_selector(".cx-tile")


def test_department_head_board_date_range_drill_down_and_export(page, board_app: LiveApp, tmp_path: Path) -> None:
    sign_in(page, board_app, "demo-service-head")
    _open_board(page, board_app)
    main = page.locator("[data-testid=stMain]")
    assert "客服部" in main.locator("h1").first.inner_text()
    assert page.locator(".cx-tile").count() == 8
    dimensions = page.locator("[data-testid=stMain] [data-testid=stButtonGroup]").filter(has_text="分维度").inner_text()
    assert "渠道" in dimensions and "坐席" not in dimensions  # no agent level for department heads

    # change the date range: last 30 days -> last 90 days
    dates = page.get_by_text(re.compile(r"^\d{4}-\d{2}-\d{2} – \d{4}-\d{2}-\d{2}$"))
    before = dates.inner_text()
    page.get_by_role("radiogroup", name="时间范围").get_by_role("radio", name="近 90 天").click()
    wait_for_app(page)
    after = dates.inner_text()
    start_before, start_after = (date.fromisoformat(text[:10]) for text in (before, after))
    assert (start_before - start_after).days == 60 and before[-10:] == after[-10:]
    assert page.locator(".cx-tile").count() == 8
    # the trend's axes keep a few ticks over 90 days (not a tick and a hidden label per two days)
    trend = page.locator("[data-testid=stVegaLiteChart]").first
    trend.locator("g.role-axis").first.wait_for(state="attached")
    labels = [axis.locator("g.role-axis-label text").count() for axis in trend.locator("g.role-axis").all()]
    assert sum(labels) > 0 and all(count <= 2 * AXIS_TICKS for count in labels), labels

    # drill down: click a bar of the channel breakdown
    chart = page.locator("[data-testid=stVegaLiteChart]").nth(1)
    chart.scroll_into_view_if_needed()
    bar = chart.locator("g.mark-rect path").first
    bar.wait_for()
    bar.click(force=True)
    wait_for_app(page)
    page.wait_for_selector("text=所选数据背后的互动", timeout=20_000)
    page.get_by_text("显示最新的").wait_for()
    page.locator("[data-testid=stDataFrame]").first.wait_for(state="visible", timeout=20_000)

    # export the board's table (CSV), formula-safe
    with page.expect_download() as download:
        page.get_by_role("button", name="CSV", exact=True).click()
    saved = tmp_path / "board.csv"
    download.value.save_as(saved)
    content = saved.read_bytes().decode("utf-8-sig")
    assert content.splitlines()[0].startswith("指标,单位,数值,目标,状态")
    assert "首次解决率" in content


def test_department_head_cannot_open_another_department(page, board_app: LiveApp) -> None:
    sign_in(page, board_app, "demo-product-head")
    page.goto(f"{board_app.url}/board?department=service")
    wait_for_app(page)
    assert page.get_by_text("您只能查看自己的看板").count() == 1
    assert page.locator(".cx-tile").count() == 0
