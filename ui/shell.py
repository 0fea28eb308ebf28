"""The frame around every page: store start-up, sign-in state, sidebar (who, language, alert badge, sign-out)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from sqlalchemy import Engine

from alerts.badge import open_alert_count
from cx.access import Principal
from cx.db import transaction
from cx.errors import CxError
from cx.settings import Settings, get_settings
from ui.i18n import LANGUAGE_NAMES, LANGUAGES, current_language, set_language, t
from ui.safe import md_escape
from ui.session import current_principal, sign_out, sync_cookie
from ui.store import get_store


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    engine: Engine
    principal: Principal | None


def start() -> AppContext:
    """Settings, store and principal for this rerun; a store or settings problem is shown as a message and stops."""
    try:
        settings = get_settings()
        engine = get_store(settings)
        principal = current_principal(engine)
    except CxError as exc:
        st.error(f"{t('shell.store_error')}\n\n{md_escape(exc)}", icon=":material/error:")
        st.stop()
    return AppContext(settings=settings, engine=engine, principal=principal)


def language_switch(key: str = "cx_language_switch") -> None:
    language = current_language()
    choice = st.segmented_control(
        t("shell.language"),
        options=list(LANGUAGES),
        default=language,
        format_func=lambda code: LANGUAGE_NAMES[code],
        key=key,
        label_visibility="collapsed",
    )
    if choice and choice != language:
        set_language(choice)
        st.rerun()


def sidebar(context: AppContext) -> None:
    principal = context.principal
    assert principal is not None
    with st.sidebar:
        st.markdown(f"### {t('app.name')}")
        role_label = t(f"role.{principal.role.value}")
        scope = principal.department or principal.team
        st.caption(
            f"{md_escape(principal.display_name)} · {role_label}"
            + (f" · {t(f'dept.{scope}')}" if principal.department else (f" · {md_escape(scope)}" if scope else ""))
        )
        with transaction(context.engine) as session:
            open_alerts = open_alert_count(session, principal)
        if open_alerts:
            st.badge(t("shell.open_alerts", count=open_alerts), icon=":material/notifications_active:", color="red")
        language_switch()
        if st.button(t("shell.sign_out"), icon=":material/logout:", key="cx_sign_out"):
            sign_out(context.engine, principal)
            st.rerun()
    with st.sidebar:
        sync_cookie(context.settings)
