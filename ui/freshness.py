"""The stale-source banner any board page can show: which sources have not been loaded for too long."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from cx.access import Principal
from cx.db import transaction
from cx.settings import Settings
from etl.runs import stale_sources
from ui.i18n import t
from ui.safe import md_escape
from ui.session import current_principal


@st.cache_data(ttl=60, show_spinner=False)
def _stale(
    database_url: str, role: str, _engine: Engine, _settings: Settings, _principal: Principal
) -> list[tuple[str, float]]:
    """Cached per store and role (what cx.access decides on); etl.runs checks the principal on every miss."""
    with transaction(_engine) as session:
        return [(f.source, f.threshold_hours) for f in stale_sources(session, _principal, _settings)]


def stale_sources_banner(engine: Engine, settings: Settings, principal: Principal | None = None) -> None:
    """Show a warning naming the stale sources (nothing when every source is fresh or none is loaded yet).

    ``principal``: the page's (``ctx.principal``); when not given it is resolved again from the session, server side.
    Nothing is shown to someone who may not see the boards.
    """
    principal = principal or current_principal(engine)
    if principal is None or not principal.can("board.view"):
        return
    stale = _stale(settings.database_url, principal.role.value, engine, settings, principal)
    if not stale:
        return
    hours = max(h for _, h in stale)
    st.warning(
        t("freshness.banner", sources=", ".join(md_escape(s) for s, _ in stale), hours=f"{hours:g}"),
        icon=":material/schedule:",
    )
