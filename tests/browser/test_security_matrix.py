"""In a real browser, per role (one browser context each, one live app): every page of cx.access.PAGES opened by
its direct URL opens when the role may use it and is refused (or never served) when it may not."""

from __future__ import annotations

import pytest

from cx import auth
from cx.access import PAGES, Role
from tests.browser.conftest import LiveApp, sign_in, wait_for_app
from ui.i18n import t
from ui.navigation import PAGE_SPECS, PAGES_DIR


def _nav_labels(page) -> list[str]:
    """The navigation's page titles (the material icon's name comes first in each link's text)."""
    return [
        label.strip().splitlines()[-1].strip()
        for label in page.locator("[data-testid=stSidebarNav] a").all_inner_texts()
    ]


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_direct_urls_per_role(browser, live_app: LiveApp, role: Role) -> None:
    username = next(name for name, _d, r, _dep, _t in auth.DEMO_ACCOUNTS if r == role)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    failures: list[str] = []
    try:
        sign_in(page, live_app, username)
        page.wait_for_function("() => document.cookie.includes('cx_session=')")
        for key, spec in PAGE_SPECS.items():
            if key == "home" or not (PAGES_DIR / spec.file).is_file():
                continue
            page.goto(f"{live_app.url}/{key}")
            wait_for_app(page)
            page.wait_for_selector("[data-testid=stSidebarUserContent]")
            main = page.locator("[data-testid=stMain]").inner_text()
            crashed = page.locator("[data-testid=stException]").count()
            title = t(spec.title_key, "zh")
            if role in PAGES[key]:
                if "无权" in main or crashed:
                    failures.append(f"{key}: allowed for {role.value} but {'crashed' if crashed else 'refused'}")
                if title not in _nav_labels(page) and len(_nav_labels(page)) > 0:
                    failures.append(f"{key}: allowed for {role.value} but missing from the navigation")
            else:
                if title in _nav_labels(page):
                    failures.append(f"{key}: forbidden for {role.value} but in the navigation")
                if not ("无权" in main or "欢迎" in main):
                    failures.append(f"{key}: forbidden for {role.value} but served: {main[:120]!r}")
    finally:
        context.close()
    assert not failures, "\n".join(failures)
