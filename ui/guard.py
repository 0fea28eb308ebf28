"""The first line of every page: check (server side) that the signed-in role may open it, else stop."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from sqlalchemy import Engine

from cx import audit
from cx.access import Principal, require_page
from cx.db import transaction
from cx.errors import PermissionDenied
from cx.settings import Settings, get_settings
from ui.i18n import t
from ui.session import current_principal
from ui.store import get_store


@dataclass(frozen=True)
class PageContext:
    settings: Settings
    engine: Engine
    principal: Principal


def page_context(page: str) -> PageContext:
    """Resolve the principal afresh and require ``page``; a refusal is audited and ends the script run."""
    settings = get_settings()
    engine = get_store(settings)
    principal = current_principal(engine)
    try:
        require_page(principal, page)
    except PermissionDenied:
        with transaction(engine) as session:
            audit.record(session, principal, "page.open", object_type="page", object_id=page, outcome="denied")
        st.error(t("guard.denied"), icon=":material/block:")
        st.stop()
    assert principal is not None
    return PageContext(settings=settings, engine=engine, principal=principal)
