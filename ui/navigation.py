"""Which page file, title and icon stand for each page key of cx.access.PAGES."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from cx.access import PAGES, Principal, pages_for
from ui.i18n import t

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"


@dataclass(frozen=True)
class PageSpec:
    key: str
    file: str
    title_key: str
    icon: str
    section: str


#: Page key -> how it appears. Only pages whose file exists are offered (and cx.access decides who sees them).
PAGE_SPECS: dict[str, PageSpec] = {
    spec.key: spec
    for spec in (
        PageSpec("home", "home.py", "nav.home", ":material/home:", "nav.section.overview"),
        PageSpec("board", "board.py", "nav.board", ":material/monitoring:", "nav.section.overview"),
        PageSpec("journey", "journey.py", "nav.journey", ":material/route:", "nav.section.overview"),
        PageSpec("voc", "voc.py", "nav.voc", ":material/forum:", "nav.section.overview"),
        PageSpec("customers", "customers.py", "nav.customers", ":material/person_search:", "nav.section.service"),
        PageSpec("alerts", "alerts.py", "nav.alerts", ":material/notifications:", "nav.section.service"),
        PageSpec("team", "team.py", "nav.team", ":material/groups:", "nav.section.service"),
        PageSpec("rules", "rules.py", "nav.rules", ":material/rule:", "nav.section.admin"),
        PageSpec("board_settings", "board_settings.py", "nav.board_settings", ":material/tune:", "nav.section.admin"),
        PageSpec("data", "data.py", "nav.data", ":material/database:", "nav.section.admin"),
        PageSpec("users", "users.py", "nav.users", ":material/manage_accounts:", "nav.section.admin"),
        PageSpec("audit", "audit.py", "nav.audit", ":material/policy:", "nav.section.admin"),
    )
}
assert set(PAGE_SPECS) == set(PAGES), "every page in cx.access.PAGES needs a PageSpec and vice versa"


def available_page_keys(principal: Principal) -> list[str]:
    """Pages this principal may open whose file is present, in navigation order."""
    allowed = set(pages_for(principal.role))
    return [key for key in PAGE_SPECS if key in allowed and (PAGES_DIR / PAGE_SPECS[key].file).is_file()]


def build_navigation(principal: Principal) -> dict[str, list[st.Page]]:
    """st.Page objects for the principal's pages, grouped in sections; other pages are not registered at all."""
    sections: dict[str, list[st.Page]] = {}
    for key in available_page_keys(principal):
        spec = PAGE_SPECS[key]
        page = st.Page(
            str(PAGES_DIR / spec.file), title=t(spec.title_key), icon=spec.icon, url_path=key, default=key == "home"
        )
        sections.setdefault(t(spec.section), []).append(page)
    return sections
