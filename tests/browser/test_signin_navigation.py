"""In a real browser: each demo role signs in and sees its navigation; other pages do not open; reload keeps the session."""

from __future__ import annotations

import pytest

from cx import auth
from cx.access import Role, pages_for
from tests.browser.conftest import LiveApp, sign_in, wait_for_app
from ui.i18n import t
from ui.navigation import PAGE_SPECS, PAGES_DIR


def _nav_labels(page) -> list[str]:
    # a link's text is "<material icon name>\n\n<label>": keep the label
    return [
        text.strip().splitlines()[-1].strip() for text in page.locator("[data-testid=stSidebarNav] a").all_inner_texts()
    ]


def _expected_labels(role: Role) -> list[str]:
    return [
        t(PAGE_SPECS[key].title_key, "zh") for key in pages_for(role) if (PAGES_DIR / PAGE_SPECS[key].file).is_file()
    ]


@pytest.mark.parametrize("role", list(Role))
def test_each_role_sees_its_navigation(page, live_app: LiveApp, role: Role) -> None:
    username = next(name for name, _d, r, _dep, _t in auth.DEMO_ACCOUNTS if r == role)
    sign_in(page, live_app, username)
    page.wait_for_selector("[data-testid=stSidebarUserContent]")
    expected = _expected_labels(role)
    if len(expected) > 1:
        page.wait_for_selector("[data-testid=stSidebarNav]")
        assert sorted(_nav_labels(page)) == sorted(expected)
    else:  # Streamlit shows no navigation menu for a single page
        assert page.locator("[data-testid=stSidebarNav]").count() == 0
    assert page.get_by_text("欢迎").count() >= 1


def test_direct_url_to_a_forbidden_page_does_not_open(page, live_app: LiveApp) -> None:
    sign_in(page, live_app, "demo-agent")
    forbidden = [key for key in PAGE_SPECS if key not in pages_for(Role.AGENT)]
    for key in forbidden:
        page.goto(f"{live_app.url}/{key}")
        wait_for_app(page)
        body = page.locator("[data-testid=stMain]").inner_text()
        assert t(PAGE_SPECS[key].title_key, "zh") not in _nav_labels(page)
        assert "欢迎" in body or "无权" in body, f"{key} opened for an agent: {body[:200]}"


def test_wrong_password_is_refused_without_hint(page, live_app: LiveApp) -> None:
    for username in ("demo-agent", "ghost-user"):
        sign_in(page, live_app, username, "definitely-wrong")
        assert page.get_by_text("用户名或密码错误。").count() == 1


def test_session_survives_reload_and_sign_out_ends_it(page, live_app: LiveApp) -> None:
    sign_in(page, live_app, "demo-cx-owner")
    page.wait_for_selector("[data-testid=stSidebarUserContent]")
    page.wait_for_function("() => document.cookie.includes('cx_session=')")
    page.reload()
    wait_for_app(page)
    page.wait_for_selector("[data-testid=stSidebarUserContent]")
    assert page.get_by_text("欢迎").count() >= 1
    page.get_by_role("button", name="退出登录").click()
    wait_for_app(page)
    page.wait_for_selector("text=登录")
    page.reload()
    wait_for_app(page)
    assert page.get_by_label("密码").count() == 1
